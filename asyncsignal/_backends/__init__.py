"""The backends: the only place that knows asyncio and trio.

Everything backend-specific the package needs sits behind this interface,
chosen per call from the running task (:mod:`._detect`):

- :func:`open_runner`: runs a send's async receivers concurrently, one task
  each (:mod:`._asyncio`, :mod:`._trio`), with timeouts and cancellation;
  :func:`open_runner_lazily`, :func:`start_eagerly` and :func:`adopt`: where
  receivers start as eager tasks (:mod:`._eager`), no runner until one of
  them suspends;
- :func:`run_in_worker_thread`: ``thread=True`` receivers (:mod:`._threads`);
- :func:`run_from_sync` and :func:`check_can_block`: ``send`` reaching async
  receivers from synchronous code (:mod:`._from_sync`);
- :class:`Wakeup`: the one wake-up primitive, set from any thread
  (:mod:`._asyncio_wakeup`, :mod:`._trio`);
- :class:`SystemTask`: a task on the application's event loop that belongs to
  no caller's task group (the bridge's dispatcher).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, cast

from ._asyncio import AsyncioRunner
from ._asyncio_wakeup import AsyncioWakeup
from ._asyncio_wakeup import start_system_task as _start_asyncio_task
from ._common import TaskRunner, task_name
from ._detect import (
    asyncio_loop,
    asyncio_running,
    running_in_event_loop_thread,
    running_trio,
)
from ._eager import EAGER, start_eagerly
from ._from_sync import check_can_block, run_from_sync
from ._threads import run_in_worker_thread
from ._trio import TrioRunner, TrioWakeup
from ._trio import start_system_task as _start_trio_task

if TYPE_CHECKING:
    import asyncio
    import contextvars
    from collections.abc import Callable, Coroutine

__all__ = (
    "SystemTask",
    "TaskRunner",
    "Wakeup",
    "adopt",
    "asyncio_running",
    "check_can_block",
    "open_runner",
    "open_runner_lazily",
    "run_from_sync",
    "run_in_worker_thread",
    "running_in_event_loop_thread",
    "start_eagerly",
    "wakeup",
)


def open_runner(
    outcomes: list[Any],
    receivers: list[Any],
    context: contextvars.Context,
    own_contexts: bool = False,
    errors: dict[int, Exception] | None = None,
) -> TaskRunner:
    """A runner for the backend running the current task, whose receivers all
    run in ``context``, the send's (see ``_context``); with ``own_contexts``,
    each runs in a task of its own context on every backend (as on trio and
    asyncio 3.10), so an observer's context variables stay the task's own:
    on asyncio a copy of ``context`` (3.10: of the sender's, the coroutine
    taking ``context``'s values itself), its coroutine handing back what the
    receiver set where the runner's ``coroutines_share`` says so
    (``_observing.observe_task``).

    The runner puts receivers' errors in ``errors`` if given.

    :raises RuntimeError: outside an asyncio or trio task.
    """
    loop = asyncio_loop()
    runner: TaskRunner
    if loop is not None:
        runner = AsyncioRunner(outcomes, receivers, loop, context, own_contexts)
    else:
        trio = running_trio()
        if trio is None:
            raise RuntimeError("asend() must be awaited in an asyncio or trio task")
        runner = TrioRunner(outcomes, receivers, trio, context)
    if errors is not None:
        runner.errors = errors
    return runner


def open_runner_lazily(
    outcomes: list[Any],
    receivers: list[Any],
    context: contextvars.Context,
    errors: dict[int, Exception],
) -> TaskRunner | None:
    """:func:`open_runner`, or ``None`` where receivers start as eager tasks
    in ``context`` (asyncio 3.12+ and its default task factory): most never
    suspend, so a send opens no runner until one does. Then start each async
    receiver with :func:`start_eagerly`, and the first that returns a task
    with :func:`open_runner` and :func:`adopt`; use that runner from then on.

    :raises RuntimeError: outside an asyncio or trio task.
    """
    if EAGER:
        loop = asyncio_loop()
        if loop is not None and loop.get_task_factory() is None:
            return None
    return open_runner(outcomes, receivers, context, False, errors)


def adopt(
    runner: TaskRunner, started: asyncio.Task[Any], index: int, timeout: float | None
) -> None:
    """Hand ``started``, what :func:`start_eagerly` returned for receiver
    ``index``, to ``runner`` (:func:`open_runner`'s, in the same task), which
    names it, waits for it and cancels it after ``timeout`` seconds if given."""
    on_asyncio = cast("AsyncioRunner", runner)
    started.set_name(task_name(on_asyncio.receivers[index]))
    on_asyncio.adopt(started, index, timeout)


class Wakeup(Protocol):
    """A one-shot wake-up for the task that made it (:func:`wakeup`):
    :meth:`wait` there, as often as needed (a cancelled wait may be waited
    again); :meth:`set` from anywhere, never blocking: from another thread it
    is a thread-safe hop onto the waiting task's event loop."""

    def set(self) -> None: ...

    async def wait(self) -> None: ...


def wakeup() -> Wakeup:
    """A :class:`Wakeup` for the current task (asyncio or trio)."""
    loop = asyncio_loop()
    if loop is not None:
        return AsyncioWakeup(loop)
    return TrioWakeup(running_trio())


class SystemTask:
    """Starts ``func()`` at once on the application's event loop, as a task
    that is no child of the task starting it: a plain asyncio task, or a trio
    *system* task. Code after it (the body of ``async with bridge:``) then
    runs in no task group or cancel scope of ours, so its exceptions reach the
    caller as they are (a task group would wrap them in an exception group).
    Like an asyncio task, it runs in a copy of the caller's context.

    ``func`` must not raise; it ends when :meth:`stop` cancels it.
    """

    __slots__ = ("_cancel", "_done")

    def __init__(
        self, func: Callable[[], Coroutine[Any, Any, None]], name: str
    ) -> None:
        self._done = done = wakeup()
        loop = asyncio_loop()
        if loop is not None:
            self._cancel = _start_asyncio_task(loop, func, done.set).cancel
        else:
            trio = running_trio()
            self._cancel = _start_trio_task(trio, func, done.set, name).cancel

    async def stop(self) -> None:
        """Cancel the task and wait for it to end. Call it shielded."""
        self._cancel()
        await self._done.wait()
