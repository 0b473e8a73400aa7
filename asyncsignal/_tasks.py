"""Where async receivers run: one task each, concurrently, on the running backend.

This is the only backend-specific module. An anyio task group costs ~10 µs per
child on asyncio and runs no child until the parent yields; receivers mostly
finish without suspending, so both backends get a lighter structure with the
same guarantees:

- asyncio: plain ``asyncio.Task`` objects, started eagerly on Python 3.12+ (a
  receiver that never suspends finishes inside :meth:`start`), awaited and
  cancelled the way ``asyncio.TaskGroup`` does it;
- trio: a nursery, with each receiver's ``Exception`` captured in its task.

Both guarantee that no task outlives the ``async with`` block: if the waiting
task is cancelled, or the block raises, every receiver still running is
cancelled and awaited before the exception propagates. A receiver's
``Exception`` never cancels its siblings; it is stored in ``errors``.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Any

import anyio

if sys.version_info < (3, 11):  # pragma: no cover - covered by the Python 3.10 run
    from exceptiongroup import BaseExceptionGroup

if TYPE_CHECKING:
    from collections.abc import Coroutine
    from types import TracebackType

    from typing_extensions import Self

__all__ = ("TaskRunner", "open_runner")


class TaskRunner:
    """Runs coroutines concurrently; results land in ``outcomes[index]`` and
    exceptions in ``errors[index]``.

    When the block is left by an exception (the waiting task was cancelled, or
    a receiver raised a ``BaseException``), that exception propagates and
    ``aborted_errors`` holds the receivers' ``Exception``\\s it displaced, so the
    caller can report them.
    """

    __slots__ = ("aborted_errors", "errors", "outcomes")

    def __init__(self, outcomes: list[Any]) -> None:
        self.outcomes = outcomes
        self.errors: dict[int, Exception] = {}
        self.aborted_errors: list[tuple[int, Exception]] = []

    def start(self, coro: Coroutine[Any, Any, Any], index: int) -> None:
        raise NotImplementedError  # pragma: no cover - abstract

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        raise NotImplementedError  # pragma: no cover - abstract


if sys.version_info >= (3, 12):

    def _new_task(coro: Coroutine[Any, Any, Any], loop: Any) -> asyncio.Task[Any]:
        # Eager: runs the coroutine up to its first suspension right now, so a
        # receiver that never suspends never reaches the scheduler.
        return asyncio.Task(coro, loop=loop, eager_start=True)

else:  # pragma: no cover - covered by the Python 3.10 run

    def _new_task(coro: Coroutine[Any, Any, Any], loop: Any) -> asyncio.Task[Any]:
        return loop.create_task(coro)  # type: ignore[no-any-return]


class _AsyncioRunner(TaskRunner):
    __slots__ = ("_cancelling", "_loop", "_pending", "_tasks", "_waiter")

    def __init__(self, outcomes: list[Any], loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(outcomes)
        self._loop = loop
        self._tasks: list[tuple[asyncio.Task[Any], int]] = []
        self._pending = 0
        self._waiter: asyncio.Future[None] | None = None
        #: Set once this runner has cancelled its tasks.
        self._cancelling = False

    def start(self, coro: Coroutine[Any, Any, Any], index: int) -> None:
        task = _new_task(coro, self._loop)
        self._tasks.append((task, index))
        if not task.done():
            self._pending += 1
            task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._pending -= 1
        if not task.cancelled() and not isinstance(task.exception(), Exception | None):
            # A BaseException (not cancellation) aborts the dispatch, as in a
            # trio nursery: the other receivers are cancelled.
            self._cancel_pending()
        waiter = self._waiter
        if not self._pending and waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        cancellation: asyncio.CancelledError | None = None
        if self._pending and exc is None:
            try:
                await self._wait_pending()
            except asyncio.CancelledError as cancelled:
                cancellation = cancelled
        if self._pending:
            # Aborting (the block raised, or the caller was cancelled): cancel
            # what still runs and wait for it whatever else is cancelled.
            self._cancel_pending()
            with anyio.CancelScope(shield=True):
                # anyio re-delivers a scope's cancellation on every loop
                # iteration; the shield stops that busy loop while the
                # receivers finish their cleanup.
                await self._wait_pending(ignore_cancellation=True)
        if exc is not None or cancellation is not None:
            self._collect_aborted()
            if cancellation is not None:
                raise cancellation
            return
        fatal: list[BaseException] = []
        for task, index in self._tasks:
            if self._cancelling and task.cancelled():
                continue
            try:
                self.outcomes[index] = task.result()
            except Exception as error:
                self.errors[index] = error
            except BaseException as error:
                fatal.append(error)
        if fatal:
            raise _one_or_group(fatal)

    async def _wait_pending(self, ignore_cancellation: bool = False) -> None:
        while self._pending:
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            except asyncio.CancelledError:
                if not ignore_cancellation:
                    raise
            finally:
                self._waiter = None

    def _cancel_pending(self) -> None:
        self._cancelling = True
        for task, _ in self._tasks:
            task.cancel()

    def _collect_aborted(self) -> None:
        self.aborted_errors.extend(self.errors.items())
        for task, index in self._tasks:
            if not task.cancelled():
                error = task.exception()
                if isinstance(error, Exception):
                    self.aborted_errors.append((index, error))


class _TrioRunner(TaskRunner):
    __slots__ = ("_nursery", "_nursery_manager", "_trio")

    def __init__(self, outcomes: list[Any], trio: Any) -> None:
        super().__init__(outcomes)
        self._trio = trio
        self._nursery_manager = trio.open_nursery()

    async def __aenter__(self) -> Self:
        self._nursery = await self._nursery_manager.__aenter__()
        return self

    def start(self, coro: Coroutine[Any, Any, Any], index: int) -> None:
        self._nursery.start_soon(self._run, coro, index)

    async def _run(self, coro: Coroutine[Any, Any, Any], index: int) -> None:
        try:
            self.outcomes[index] = await coro
        except Exception as error:
            self.errors[index] = error

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self._nursery_manager.__aexit__(exc_type, exc, tb)
            # trio's cancellation is level-triggered: if every receiver absorbed
            # its Cancelled, the nursery exits normally inside a cancelled scope.
            # Raise the cancellation here, as asyncio does, instead of reporting
            # errors (or results) the receivers produced while being cancelled.
            await self._trio.lowlevel.checkpoint_if_cancelled()
        except BaseExceptionGroup as group:
            self.aborted_errors.extend(self.errors.items())
            # trio's nursery wraps even a single BaseException (a sync
            # receiver's KeyboardInterrupt, say); raise it as asyncio does.
            fatal = [
                leaf
                for leaf in _leaves(group)
                if not isinstance(leaf, self._trio.Cancelled)
            ]
            if not fatal:
                raise
            raise _one_or_group(fatal) from None
        except BaseException:
            self.aborted_errors.extend(self.errors.items())
            raise


def _one_or_group(errors: list[BaseException]) -> BaseException:
    """What propagates when receivers raise ``BaseException``\\s (not
    cancellation): the exception itself, or a group if there are several."""
    if len(errors) == 1:
        return errors[0]
    return BaseExceptionGroup("several receivers raised in asend()", errors)


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    return [
        leaf
        for error in group.exceptions
        for leaf in (
            _leaves(error) if isinstance(error, BaseExceptionGroup) else [error]
        )
    ]


def open_runner(outcomes: list[Any]) -> TaskRunner:
    """A runner for the backend running the current task."""
    # trio is looked up, not imported: if it is not imported, it is not running.
    trio = sys.modules.get("trio")
    if trio is not None and trio.lowlevel.in_trio_task():
        return _TrioRunner(outcomes, trio)
    return _AsyncioRunner(outcomes, asyncio.get_running_loop())
