"""asyncio's side of the wake-up primitive and of system tasks (see
:mod:`asyncsignal._backends`)."""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable, Coroutine

__all__ = ("AsyncioWakeup", "start_system_task")


class AsyncioWakeup:
    """:class:`~asyncsignal._backends.Wakeup` on asyncio: a future of the
    waiting task's loop, resolved in that loop's thread."""

    __slots__ = ("_future", "_is_set", "_loop", "_thread")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._future: asyncio.Future[None] = loop.create_future()
        self._thread = threading.get_ident()
        self._is_set = False

    def set(self) -> None:
        if threading.get_ident() == self._thread:
            self._resolve()
            return
        # RuntimeError: that loop has closed, so nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._resolve)

    def _resolve(self) -> None:
        self._is_set = True
        if not self._future.done():
            self._future.set_result(None)

    async def wait(self) -> None:
        if self._is_set:
            return
        if self._future.done():  # an earlier wait was cancelled, and the future
            self._future = self._loop.create_future()  # with it
        await self._future


def start_system_task(
    loop: asyncio.AbstractEventLoop,
    func: Callable[[], Coroutine[Any, Any, None]],
    done: Callable[[], None],
) -> asyncio.Task[None]:
    """Run ``func()`` as a task of ``loop`` (a copy of the caller's context),
    calling ``done()`` when it ends; cancel the task to stop it."""
    task = loop.create_task(func())
    task.add_done_callback(lambda _: done())
    return task
