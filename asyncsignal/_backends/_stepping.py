"""Eager start on asyncio 3.10 and 3.11, which have no ``eager_start``: a
receiver's coroutine is stepped up to its first suspension right where
``asend`` starts it, and only one that suspends is handed to a task.

Inside that first step ``asyncio.current_task()`` must already be the task that
will continue the coroutine: ``asyncio.timeout``, ``asyncio.TaskGroup`` and
anyio's cancel scopes remember the current task when they are entered, and
cancel it later. So the step runs as the current task of a *spare* task,
made before it (as asyncio 3.12 enters an eager task before its first step).
A task cannot exist on these Pythons without its first step being scheduled,
so the spare is made once per send and serves every receiver that finishes
without suspending, one after another, as a task serves coroutines it awaits
one after another; the first receiver that suspends takes it, and the next
receiver gets a new spare. A spare nobody took ends at its first step.
(A task made with ``Task.__new__`` alone, initialised only if needed, would
cost nothing, but on 3.10 and 3.11 such a task crashes the interpreter in
``get_coro()`` and refuses weak references, which anyio's cancel scopes take
of the current task.)

The step itself is ``AsyncioRunner._step`` (one call less per receiver).
Entering a task uses ``asyncio.tasks._enter_task``/``_leave_task``, the
functions asyncio's own tasks call around each step (no public API does it);
an untaken spare is kept out of "Task was destroyed but it is pending!"
reports with ``Task._log_destroy_pending`` (as ``run_until_complete`` does);
3.10 has no ``Task.cancelling()``, so a receiver that cancelled its own task
is seen through ``Task._must_cancel`` there. Without any of them
:func:`stepping_supported` is false and receivers start as plain tasks;
``tests/test_backends_interface.py`` asserts they are found on 3.10 and 3.11,
so a change fails the suite rather than falling back silently.
"""

from __future__ import annotations

import asyncio
import sys
import types
from typing import TYPE_CHECKING, Any

from .._context import enter_shared, leave_shared

if TYPE_CHECKING:
    import contextvars
    from collections.abc import Coroutine, Generator

__all__ = (
    "Spare",
    "cancel_requested",
    "enter_task",
    "leave_task",
    "new_spare",
    "stepping_supported",
)

#: asyncio's own functions to make a task current around a step, if present.
enter_task = getattr(asyncio.tasks, "_enter_task", None)
leave_task = getattr(asyncio.tasks, "_leave_task", None)

#: A spare task and the list through which it is handed the suspended
#: coroutine and what it awaits.
Spare = tuple["asyncio.Task[Any]", list[tuple["Coroutine[Any, Any, Any]", Any]]]


def stepping_supported() -> bool:
    """Whether this asyncio lets a step run as another task (3.10, 3.11), and
    has the flag that keeps an untaken spare's end quiet."""
    return (
        callable(enter_task)
        and callable(leave_task)
        and hasattr(asyncio.Task, "_log_destroy_pending")
        and (sys.version_info >= (3, 11) or hasattr(asyncio.Task, "_must_cancel"))
    )


if sys.version_info >= (3, 11):  # pragma: no cover - 3.11 only (3.12+ never steps)

    def cancel_requested(task: asyncio.Task[Any]) -> bool:
        """Whether a receiver that finished in its first step cancelled its
        task (the spare must not carry that to the next receiver)."""
        return task.cancelling() > 0

    def _make_task(
        driver: Coroutine[Any, Any, Any],
        loop: asyncio.AbstractEventLoop,
        context: contextvars.Context,
    ) -> asyncio.Task[Any]:
        # The receivers' shared context is the task's own (see _context).
        return asyncio.Task(driver, loop=loop, context=context)

    _SHARED_BY_TASK = True

else:

    def cancel_requested(task: asyncio.Task[Any]) -> bool:
        """See the 3.11 version: 3.10 has no ``Task.cancelling()``, only the
        flag it reads."""
        return bool(task._must_cancel)  # type: ignore[attr-defined]

    def _make_task(
        driver: Coroutine[Any, Any, Any],
        loop: asyncio.AbstractEventLoop,
        context: contextvars.Context,
    ) -> asyncio.Task[Any]:
        return asyncio.Task(driver, loop=loop)

    _SHARED_BY_TASK = False


def new_spare(loop: asyncio.AbstractEventLoop, context: contextvars.Context) -> Spare:
    """A task to step receivers in and to continue the first that suspends."""
    slot: list[tuple[Coroutine[Any, Any, Any], Any]] = []
    driver = _continue(slot, None if _SHARED_BY_TASK else context)
    # Run to its first yield: a cancellation arriving before the task's first
    # step is then thrown in there, where _continue handles it, instead of
    # ending an unstarted generator without running any of it.
    driver.send(None)
    task = _make_task(driver, loop, context)
    # Until a receiver takes it, a spare has nothing to run: if its loop
    # closes before its first step (stopped in the iteration of the send that
    # made it), it is destroyed pending with no loss, so not reported
    # (asyncio's run_until_complete does the same for its own task).
    task._log_destroy_pending = False  # type: ignore[attr-defined]
    return task, slot


async def _continue(
    slot: list[tuple[Coroutine[Any, Any, Any], Any]],
    shared: contextvars.Context | None,
) -> Any:
    """A spare task's coroutine: continue the coroutine found in ``slot``
    (nothing if the spare was never taken) from its first suspension, as if
    the task had run it from the start; on 3.10 (``shared`` given) with the
    send's context taken at the start and handed back at the end, as
    ``_context.run_sharing`` does. A native coroutine: anyio inspects tasks'
    coroutines with ``inspect.getcoroutinestate``."""
    cancelled: asyncio.CancelledError | None = None
    try:
        await _made()  # new_spare steps up to here; the task's first step resumes
    except asyncio.CancelledError as error:
        cancelled = error
    if not slot:
        if cancelled is not None:
            raise cancelled
        return None
    coro, awaited = slot.pop()
    started = None if shared is None else enter_shared(shared)
    try:
        if cancelled is not None and not _cancel_awaited(awaited, cancelled):
            try:
                awaited = coro.throw(cancelled)
            except StopIteration as stop:
                return stop.value
        return await _resume(coro, awaited)
    finally:
        if shared is not None and started is not None:
            leave_shared(shared, started)


@types.coroutine
def _made() -> Generator[None, None, None]:
    yield


@types.coroutine
def _resume(coro: Coroutine[Any, Any, Any], awaited: Any) -> Generator[Any, None, Any]:
    """Continue ``coro``, suspended awaiting ``awaited``, in the current task."""
    while True:
        # What the coroutine awaits goes to the task unchanged: a future still
        # marked as awaited (_asyncio_future_blocking), which the task then
        # waits for and cancels if it is cancelled meanwhile, or None (a bare
        # yield: run again soon), or anything else, which the task refuses
        # with its own error.
        try:
            yield awaited
        except BaseException as error:  # thrown in by the task, or GeneratorExit
            try:
                awaited = coro.throw(error)
            except StopIteration as stop:
                return stop.value
        else:
            return (yield from coro.__await__())


def _cancel_awaited(awaited: Any, cancelled: asyncio.CancelledError) -> bool:
    """The task was cancelled before its first step, so before it could see
    what the coroutine awaits: do what it does when cancelled while waiting
    on a future, cancel the future (the coroutine then gets the cancellation
    from it). False if there is nothing to cancel: the caller throws the
    cancellation into the coroutine, as the task would at its next step."""
    if not getattr(awaited, "_asyncio_future_blocking", False):
        return False
    if awaited.cancel(*cancelled.args[:1]):
        return True
    awaited._asyncio_future_blocking = False  # no task will wait for it
    return False
