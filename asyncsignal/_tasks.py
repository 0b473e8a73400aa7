"""Where async receivers run: one task each, concurrently, on the running backend.

This is the only backend-specific module. An anyio task group costs ~10 µs per
child on asyncio and runs no child until the parent yields; receivers mostly
finish without suspending, so both backends get a lighter structure with the
same guarantees:

- asyncio: plain ``asyncio.Task`` objects, started eagerly on Python 3.12+ (a
  receiver that never suspends has finished when :meth:`~TaskRunner.start`
  returns, and nothing is awaited at all) unless the loop has a custom task
  factory, which then creates them; a timeout is a timer armed only for a task
  still running after its start; cancellation respects anyio shields active in
  the receiver, as an anyio task group would (see :func:`_cancel_task`);
- trio: a nursery, opened by :meth:`~TaskRunner.wait`; trio runs no new task
  before its parent waits anyway; a timeout is a cancel scope.

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
import contextlib
import sys
import threading
from typing import TYPE_CHECKING, Any, Protocol

import anyio
import anyio.to_thread

from ._callables import describe
from ._context import run_sharing
from ._errors import ReceiverTimeout

if sys.version_info < (3, 11):  # pragma: no cover - covered by the Python 3.10 run
    from exceptiongroup import BaseExceptionGroup

if TYPE_CHECKING:
    import contextvars
    from collections.abc import Callable, Coroutine

__all__ = (
    "TaskRunner",
    "Wakeup",
    "asyncio_running",
    "open_runner",
    "run_in_worker_thread",
)


class TaskRunner(Protocol):
    """Runs coroutines concurrently: results land in ``outcomes[index]``,
    exceptions in ``errors[index]``; a receiver that exceeds its ``timeout``
    gets a :class:`~asyncsignal.ReceiverTimeout` naming ``receivers[index]``.

    If :meth:`wait` or :meth:`abort` ends with an exception (cancellation, a
    ``BaseException``), ``aborted_errors`` holds the receivers' ``Exception``\\ s
    it displaced, for the caller to report.
    """

    outcomes: list[Any]
    errors: dict[int, Exception]
    aborted_errors: list[tuple[int, Exception]]

    @property
    def waiting(self) -> bool:
        """Whether :meth:`wait` must be awaited: a started receiver is unfinished."""

    def start(
        self, coro: Coroutine[Any, Any, Any], index: int, timeout: float | None = None
    ) -> None:
        """Start running ``coro`` for ``outcomes[index]``, cancelled after
        ``timeout`` seconds if given."""

    async def wait(self) -> None:
        """Wait until every started receiver has finished."""

    async def abort(self) -> None:
        """Cancel every started receiver and wait until they have finished."""


_EAGER = sys.version_info >= (3, 12)
#: asyncio tasks take a ``context=`` (3.11+): receivers then share it directly.
_TASK_CONTEXT = sys.version_info >= (3, 11)

if sys.version_info >= (3, 12):

    def _eager_task(
        coro: Coroutine[Any, Any, Any],
        loop: asyncio.AbstractEventLoop,
        context: contextvars.Context | None,
    ) -> asyncio.Task[Any]:
        # A KeyboardInterrupt or SystemExit from the task's first step escapes
        # this constructor and leaves the task unreachable, so asyncio reports
        # its exception as never retrieved. Making the task in two steps
        # (__new__, then __init__) would let us retrieve it, but costs ~350 ns
        # per receiver task (W3: +19%), for a log line next to an interrupt
        # that propagates correctly anyway.
        return asyncio.Task(coro, loop=loop, eager_start=True, context=context)

else:  # pragma: no cover - not called before 3.12 (_EAGER is false)

    def _eager_task(
        coro: Coroutine[Any, Any, Any],
        loop: asyncio.AbstractEventLoop,
        context: contextvars.Context | None,
    ) -> asyncio.Task[Any]:
        raise NotImplementedError


#: Shared and never mutated: replaced by a set of its own on the first timeout.
_NONE_TIMED_OUT: frozenset[int] = frozenset()


def _task_name(receiver: Any) -> str:
    # The qualified name the function already holds: no string to build.
    name = getattr(receiver, "__qualname__", None)
    return name if isinstance(name, str) else describe(receiver)


def _cancel_task(task: asyncio.Task[Any]) -> None:
    """Cancel a receiver's task so that an anyio shield active in it holds.

    ``Task.cancel()`` cuts through anyio's cancel scopes. So when the task is
    inside anyio scopes, its outermost scope is given a cancelled parent scope,
    as if the receiver ran in an anyio task group: anyio then delivers the
    cancellation to every scope that is not shielded from it, and again when
    a shield exits. This costs nothing until a cancellation.
    """
    backend = sys.modules.get("anyio._backends._asyncio")
    state = None if backend is None else backend._task_states.get(task)
    scope = None if state is None else state.cancel_scope
    if backend is None or scope is None:
        task.cancel()
        return
    while scope._parent_scope is not None:
        scope = scope._parent_scope
    root = backend.CancelScope()
    root._child_scopes.add(scope)
    scope._parent_scope = root
    root.cancel("asyncsignal: the receiver is cancelled")
    root._deliver_cancellation(root)


class _AsyncioRunner:
    __slots__ = (
        "_cancelling",
        "_context",
        "_eager",
        "_loop",
        "_pending",
        "_tasks",
        "_timed_out",
        "_timers",
        "_waiter",
        "aborted_errors",
        "errors",
        "outcomes",
        "receivers",
    )

    def __init__(
        self,
        outcomes: list[Any],
        receivers: list[Any],
        loop: asyncio.AbstractEventLoop,
        context: contextvars.Context | None,
    ) -> None:
        self.outcomes = outcomes
        self.receivers = receivers
        self.errors: dict[int, Exception] = {}
        self.aborted_errors: list[tuple[int, Exception]] = []
        self._loop = loop
        #: The send's shared context, or None: each task copies the caller's.
        self._context = context
        # A custom task factory (observability tools install one) must see
        # every task, so it replaces the eager fast path.
        self._eager = _EAGER and loop.get_task_factory() is None
        self._tasks: list[tuple[asyncio.Task[Any], int]] = []
        self._pending = 0
        self._waiter: asyncio.Future[None] | None = None
        #: Set once this runner has cancelled its tasks.
        self._cancelling = False
        #: index -> (timer handle, limit), for tasks started with a timeout;
        #: created on first use, as most dispatches have no timer.
        self._timers: dict[int, tuple[asyncio.TimerHandle, float]] | None = None
        self._timed_out: set[int] | frozenset[int] = _NONE_TIMED_OUT

    @property
    def waiting(self) -> bool:
        return self._pending > 0

    def start(
        self, coro: Coroutine[Any, Any, Any], index: int, timeout: float | None = None
    ) -> None:
        context = self._context
        if context is not None and not _TASK_CONTEXT:  # pragma: no cover - 3.10
            coro = run_sharing(coro, context)
            context = None
        if self._eager:
            # Runs the coroutine up to its first suspension right now, so a
            # receiver that never suspends never reaches the scheduler. Named
            # only if it lives on: a name costs a string per call.
            task = _eager_task(coro, self._loop, context)
            if task.done():
                self._collect(task, index)
                return
            task.set_name(_task_name(self.receivers[index]))
        else:
            name = _task_name(self.receivers[index])
            if context is None:
                task = self._loop.create_task(coro, name=name)
            else:
                task = self._loop.create_task(  # type: ignore[call-arg,unused-ignore]
                    coro, name=name, context=context
                )
            if task.done():  # an eager task factory
                self._collect(task, index)
                return
        self._tasks.append((task, index))
        self._pending += 1
        task.add_done_callback(self._task_done)
        if timeout is not None:
            timer = self._loop.call_later(timeout, self._time_out, task, index)
            if self._timers is None:
                self._timers = {}
            self._timers[index] = (timer, timeout)

    def _time_out(self, task: asyncio.Task[Any], index: int) -> None:
        self._timed_out = self._timed_out | {index}
        _cancel_task(task)

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
        finally:
            if self._timers is not None:
                for timer, _ in self._timers.values():
                    timer.cancel()
        fatal: list[BaseException] = []
        for task, index in self._tasks:
            if task.cancelled() and index in self._timed_out:
                assert self._timers is not None
                self.errors[index] = ReceiverTimeout(
                    self.receivers[index], self._timers[index][1]
                )
                continue
            if self._cancelling and task.cancelled():
                continue
            try:
                self._collect(task, index)
            except BaseException as error:
                fatal.append(error)
        if fatal:
            raise _one_or_group(fatal)

    async def abort(self) -> None:
        # Receivers that had already timed out when the dispatch was aborted:
        # their ReceiverTimeout is an outcome the abort displaces, like an error.
        timed_out_before = [
            index
            for task, index in self._tasks
            if index in self._timed_out and task.done()
        ]
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
        for index in timed_out_before:
            assert self._timers is not None
            timeout = ReceiverTimeout(self.receivers[index], self._timers[index][1])
            self.aborted_errors.append((index, timeout))

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
        if self._cancelling:
            return
        self._cancelling = True
        for task, _ in self._tasks:
            if not task.done():
                _cancel_task(task)


class _TrioRunner:
    __slots__ = (
        "_context",
        "_coros",
        "_trio",
        "aborted_errors",
        "errors",
        "outcomes",
        "receivers",
    )

    def __init__(
        self,
        outcomes: list[Any],
        receivers: list[Any],
        trio: Any,
        context: contextvars.Context | None,
    ) -> None:
        self.outcomes = outcomes
        self.receivers = receivers
        self.errors: dict[int, Exception] = {}
        self.aborted_errors: list[tuple[int, Exception]] = []
        self._trio = trio
        #: The send's shared context: trio copies the context into each new
        #: task, so each receiver syncs with it when it starts and ends.
        self._context = context
        self._coros: list[tuple[Coroutine[Any, Any, Any], int, float | None]] = []

    @property
    def waiting(self) -> bool:
        return bool(self._coros)

    def start(
        self, coro: Coroutine[Any, Any, Any], index: int, timeout: float | None = None
    ) -> None:
        self._coros.append((coro, index, timeout))

    async def _run(self, coro: Coroutine[Any, Any, Any], index: int) -> None:
        try:
            self.outcomes[index] = await coro
        except Exception as error:
            self.errors[index] = error

    async def _run_with_limit(
        self, coro: Coroutine[Any, Any, Any], index: int, limit: float
    ) -> None:
        with self._trio.move_on_after(limit) as scope:
            await self._run(coro, index)
        if scope.cancelled_caught:
            self.errors[index] = ReceiverTimeout(self.receivers[index], limit)

    async def wait(self) -> None:
        trio = self._trio
        try:
            async with trio.open_nursery() as nursery:
                for coro, index, timeout in self._coros:
                    name = _task_name(self.receivers[index])
                    if self._context is not None:
                        coro = run_sharing(coro, self._context)
                    if timeout is None:
                        nursery.start_soon(self._run, coro, index, name=name)
                    else:
                        nursery.start_soon(
                            self._run_with_limit, coro, index, timeout, name=name
                        )
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
        for coro, _, _ in self._coros:
            coro.close()
        self.aborted_errors.extend(self.errors.items())


async def run_in_worker_thread(call: Callable[[], Any]) -> Any:
    """Run a sync receiver's call in anyio's worker threads (its default
    limiter); if the waiting task is cancelled, stop waiting: the thread
    cannot be interrupted and runs to its end unobserved."""
    return await anyio.to_thread.run_sync(call, abandon_on_cancel=True)


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


def asyncio_running() -> bool:
    """Whether this is an asyncio task (not trio, even as a guest on asyncio)."""
    loop = asyncio._get_running_loop()
    return loop is not None and asyncio.current_task(loop) is not None


def open_runner(
    outcomes: list[Any],
    receivers: list[Any],
    context: contextvars.Context | None = None,
) -> TaskRunner:
    """A runner for the backend running the current task; with ``context``,
    every receiver runs in that one context (see ``_context``).

    :raises RuntimeError: outside an asyncio or trio task.
    """
    loop = asyncio._get_running_loop()
    # current_task() is None in a trio task running as a guest on this loop.
    if loop is not None and asyncio.current_task(loop) is not None:
        return _AsyncioRunner(outcomes, receivers, loop, context)
    # Looked up, not imported: if trio is not imported, it is not running.
    trio = sys.modules.get("trio")
    if trio is not None and trio.lowlevel.in_trio_task():
        return _TrioRunner(outcomes, receivers, trio, context)
    raise RuntimeError("asend() must be awaited in an asyncio or trio task")


class Wakeup:
    """A one-shot wake-up for the task that creates it: :meth:`wait` there,
    :meth:`set` from any thread (a thread-safe hop onto that task's event loop
    when called from another thread; never blocks the caller)."""

    __slots__ = ("_event", "_schedule", "_thread")

    def __init__(self) -> None:
        self._event = anyio.Event()
        self._thread = threading.get_ident()
        schedule: Callable[[Callable[[], object]], object]
        if asyncio_running():
            schedule = asyncio.get_running_loop().call_soon_threadsafe
        else:
            trio = sys.modules["trio"]
            schedule = trio.lowlevel.current_trio_token().run_sync_soon
        self._schedule = schedule

    def set(self) -> None:
        if threading.get_ident() == self._thread:
            self._event.set()
            return
        # RuntimeError: that loop has closed, so nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            self._schedule(self._event.set)

    async def wait(self) -> None:
        await self._event.wait()
