"""Where async receivers run: one task each, concurrently, on the running backend.

This is the only backend-specific module. An anyio task group costs ~10 µs per
child on asyncio and runs no child until the parent yields; receivers mostly
finish without suspending, so both backends get a lighter structure with the
same guarantees:

- asyncio: plain ``asyncio.Task`` objects, started eagerly on Python 3.12+ (a
  receiver that never suspends has finished when :meth:`~TaskRunner.start`
  returns, and nothing is awaited at all), cancelled like ``asyncio.TaskGroup``
  cancels its tasks;
- trio: a nursery, opened by :meth:`~TaskRunner.wait`; trio runs no new task
  before its parent waits anyway.

The caller starts every coroutine, then calls :meth:`~TaskRunner.wait` if
:attr:`~TaskRunner.waiting`, or :meth:`~TaskRunner.abort` if it must stop
early. Either way no task outlives that call: if the waiting task is cancelled
every receiver still running is cancelled and awaited before the cancellation
propagates. A receiver's ``Exception`` never cancels its siblings: it lands in
``errors``. A ``BaseException`` that is not a cancellation cancels the siblings
and propagates as itself (several: a ``BaseExceptionGroup``).
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

__all__ = ("TaskRunner", "open_runner")


class TaskRunner:
    """Runs coroutines concurrently: results land in ``outcomes[index]``,
    exceptions in ``errors[index]``.

    If :meth:`wait` or :meth:`abort` ends with an exception (cancellation, a
    ``BaseException``), ``aborted_errors`` holds the receivers' ``Exception``\\ s
    it displaced, for the caller to report.
    """

    __slots__ = ("aborted_errors", "errors", "outcomes")

    outcomes: list[Any]
    errors: dict[int, Exception]
    aborted_errors: list[tuple[int, Exception]]

    @property
    def waiting(self) -> bool:
        """Whether :meth:`wait` must be awaited: a started receiver is unfinished."""
        raise NotImplementedError

    def start(self, coro: Coroutine[Any, Any, Any], index: int) -> None:
        """Start running ``coro`` for ``outcomes[index]``."""
        raise NotImplementedError

    async def wait(self) -> None:
        """Wait until every started receiver has finished."""
        raise NotImplementedError

    async def abort(self) -> None:
        """Cancel every started receiver and wait until they have finished."""
        raise NotImplementedError


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
        self.outcomes = outcomes
        self.errors = {}
        self.aborted_errors = []
        self._loop = loop
        self._tasks: list[tuple[asyncio.Task[Any], int]] = []
        self._pending = 0
        self._waiter: asyncio.Future[None] | None = None
        #: Set once this runner has cancelled its tasks.
        self._cancelling = False

    @property
    def waiting(self) -> bool:
        return self._pending > 0

    def start(self, coro: Coroutine[Any, Any, Any], index: int) -> None:
        task = _new_task(coro, self._loop)
        if task.done():
            self._collect(task, index)
        else:
            self._tasks.append((task, index))
            self._pending += 1
            task.add_done_callback(self._task_done)

    def _collect(self, task: asyncio.Task[Any], index: int) -> None:
        # Outside the done callback: a BaseException must reach the caller.
        try:
            self.outcomes[index] = task.result()
        except Exception as error:
            self.errors[index] = error

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._pending -= 1
        if not task.cancelled() and not isinstance(task.exception(), Exception | None):
            # A BaseException (not cancellation) aborts the dispatch, as in a
            # trio nursery: the other receivers are cancelled.
            self._cancel_all()
        waiter = self._waiter
        if not self._pending and waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self) -> None:
        try:
            await self._wait_pending()
        except asyncio.CancelledError:
            await self.abort()
            raise
        fatal: list[BaseException] = []
        for task, index in self._tasks:
            if self._cancelling and task.cancelled():
                continue
            try:
                self._collect(task, index)
            except BaseException as error:
                fatal.append(error)
        if fatal:
            raise _one_or_group(fatal)

    async def abort(self) -> None:
        self._cancel_all()
        if self._pending:
            with anyio.CancelScope(shield=True):
                # anyio re-delivers a scope's cancellation on every loop
                # iteration; the shield stops that busy loop while the
                # receivers finish their cleanup.
                await self._wait_pending(ignore_cancellation=True)
        self.aborted_errors.extend(self.errors.items())
        for task, index in self._tasks:
            if not task.cancelled():
                error = task.exception()
                if isinstance(error, Exception):
                    self.aborted_errors.append((index, error))

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

    def _cancel_all(self) -> None:
        self._cancelling = True
        for task, _ in self._tasks:
            task.cancel()


class _TrioRunner(TaskRunner):
    __slots__ = ("_coros", "_trio")

    def __init__(self, outcomes: list[Any], trio: Any) -> None:
        self.outcomes = outcomes
        self.errors = {}
        self.aborted_errors = []
        self._trio = trio
        self._coros: list[tuple[Coroutine[Any, Any, Any], int]] = []

    @property
    def waiting(self) -> bool:
        return bool(self._coros)

    def start(self, coro: Coroutine[Any, Any, Any], index: int) -> None:
        self._coros.append((coro, index))

    async def _run(self, coro: Coroutine[Any, Any, Any], index: int) -> None:
        try:
            self.outcomes[index] = await coro
        except Exception as error:
            self.errors[index] = error

    async def wait(self) -> None:
        trio = self._trio
        try:
            async with trio.open_nursery() as nursery:
                for coro, index in self._coros:
                    nursery.start_soon(self._run, coro, index)
            # trio's cancellation is level-triggered: if every receiver
            # absorbed its Cancelled, the nursery exits normally inside a
            # cancelled scope. Raise the cancellation here, as asyncio does,
            # instead of reporting what receivers did while being cancelled.
            await trio.lowlevel.checkpoint_if_cancelled()
        except BaseExceptionGroup as group:
            self.aborted_errors.extend(self.errors.items())
            # trio's nursery wraps even a single BaseException; raise it as
            # asyncio does.
            fatal = [
                leaf for leaf in _leaves(group) if not isinstance(leaf, trio.Cancelled)
            ]
            if not fatal:
                raise
            raise _one_or_group(fatal) from None
        except BaseException:
            self.aborted_errors.extend(self.errors.items())
            raise

    async def abort(self) -> None:
        # Nothing has run yet: trio runs a task only once the nursery waits.
        for coro, _ in self._coros:
            coro.close()
        self.aborted_errors.extend(self.errors.items())


def _one_or_group(errors: list[BaseException]) -> BaseException:
    """What propagates when receivers raise ``BaseException``\\ s (not
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
    """A runner for the backend running the current task.

    :raises RuntimeError: outside an asyncio or trio task.
    """
    loop = asyncio._get_running_loop()
    # current_task() is None in a trio task running as a guest on this loop.
    if loop is not None and asyncio.current_task(loop) is not None:
        return _AsyncioRunner(outcomes, loop)
    # Looked up, not imported: if trio is not imported, it is not running.
    trio = sys.modules.get("trio")
    if trio is not None and trio.lowlevel.in_trio_task():
        return _TrioRunner(outcomes, trio)
    raise RuntimeError("asend() must be awaited in an asyncio or trio task")
