"""Backend glue of the bridge, until ``asyncsignal/_backends/`` takes it over:
:func:`bell`, a one-shot wake-up that another thread may ring, and
:class:`LoopTask`, a task on the application's event loop (an asyncio task, or
a trio system task)."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import sys
import threading
from typing import TYPE_CHECKING, Protocol

import anyio

from .._tasks import asyncio_running

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine
    from typing import Any

__all__ = ("Bell", "LoopTask", "bell")

logger = logging.getLogger("asyncsignal.bridge")


class Bell(Protocol):
    """A one-shot wake-up for the task that made it (see :func:`bell`)."""

    def ring(self) -> None: ...

    async def wait(self) -> None: ...


def bell() -> Bell:
    """A one-shot wake-up for the current task: :meth:`~Bell.wait` in it,
    :meth:`~Bell.ring` from anywhere (a thread-safe hop when rung from another
    thread; never blocks). Lighter than ``_tasks.Wakeup``: one is made per
    wait, on the path of every event."""
    loop = asyncio._get_running_loop()
    if loop is not None and asyncio.current_task(loop) is not None:
        return _AsyncioBell(loop)
    return _TrioBell()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():  # a waiter cancelled meanwhile cancelled it
        future.set_result(None)


class _AsyncioBell:
    __slots__ = ("_future", "_loop", "_thread")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._future: asyncio.Future[None] = loop.create_future()
        self._thread = threading.get_ident()

    def ring(self) -> None:
        if threading.get_ident() == self._thread:
            _resolve(self._future)
        else:
            with contextlib.suppress(RuntimeError):  # that loop has closed
                self._loop.call_soon_threadsafe(_resolve, self._future)

    async def wait(self) -> None:
        await self._future


class _TrioBell:
    # On trio, bells are rung by the helper thread (the broker's loop).
    __slots__ = ("_event", "_token")

    def __init__(self) -> None:
        trio = sys.modules["trio"]
        self._event = trio.Event()
        self._token = trio.lowlevel.current_trio_token()

    def ring(self) -> None:
        with contextlib.suppress(RuntimeError):  # that run has finished
            self._token.run_sync_soon(self._event.set)

    async def wait(self) -> None:
        await self._event.wait()


class LoopTask:
    """A task on the application's event loop that is no child of the task
    starting it: a plain asyncio task, or a trio *system* task. The body of
    ``async with bridge:`` then runs in no task group or cancel scope of ours,
    so its exceptions reach the caller as they are (a task group would wrap
    them in an ``ExceptionGroup``).

    ``func`` must not raise: what it raises is logged.
    """

    __slots__ = ("_done", "_func", "_scope", "_task")

    def __init__(self, func: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._func = func
        self._done = anyio.Event()
        self._task: asyncio.Task[None] | None = None
        self._scope: Any = None

    def start(self) -> None:
        if asyncio_running():
            self._task = task = asyncio.get_running_loop().create_task(self._run())
            task.add_done_callback(lambda _: self._done.set())
        else:
            trio = sys.modules["trio"]
            # Made here, so that stop() can cancel it before the task runs.
            self._scope = trio.CancelScope()
            # Like an asyncio task, it runs in a copy of the caller's context.
            trio.lowlevel.spawn_system_task(
                self._run_in_trio,
                name="asyncsignal.bridge dispatcher",
                context=contextvars.copy_context(),
            )

    async def _run(self) -> None:
        try:
            await self._func()
        except asyncio.CancelledError:
            raise
        except BaseException:  # pragma: no cover - a bug in the dispatcher
            logger.exception("the bridge's dispatcher failed")

    async def _run_in_trio(self) -> None:
        try:
            with self._scope:
                await self._func()
        except BaseException:  # pragma: no cover - a bug in the dispatcher
            # A system task must never raise: trio would crash the whole run.
            logger.exception("the bridge's dispatcher failed")
        finally:
            self._done.set()

    async def stop(self) -> None:
        """Cancel the task and wait for it to end. Call it shielded."""
        if self._task is not None:
            self._task.cancel()
        else:
            self._scope.cancel()
        await self._done.wait()
