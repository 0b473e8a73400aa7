"""asyncio: each async receiver runs as an ``asyncio.Task`` only once it
suspends. Unless the loop has a custom task factory (which then creates every
receiver task), receivers start eagerly: one that never suspends has finished
when :meth:`~AsyncioRunner.start` returns, and nothing is awaited at all. On
Python 3.12+ that is asyncio's own ``eager_start``; on 3.10 and 3.11, which
have none, :mod:`._stepping` steps the coroutine itself. A timeout is a timer
armed only for a receiver still running after its start; cancellation
respects anyio shields active in the receiver, as an anyio task group would
(see :mod:`._anyio_scopes`)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import TYPE_CHECKING, Any

import anyio

from .._context import run_sharing
from .._errors import ReceiverTimeout
from ._anyio_scopes import cancel_task
from ._common import one_or_group, task_name
from ._eager import EAGER
from ._stepping import (
    cancel_requested,
    enter_task,
    leave_task,
    new_spare,
    stepping_supported,
)

if TYPE_CHECKING:
    import contextvars
    from collections.abc import Coroutine

    from ._stepping import Spare

__all__ = ("AsyncioRunner",)


#: 3.10 and 3.11: receivers are started eagerly by stepping them (_stepping).
_STEPPING = not EAGER and stepping_supported()
#: asyncio tasks take a ``context=`` (3.11+): receivers then share it directly.
_TASK_CONTEXT = sys.version_info >= (3, 11)
_Task = asyncio.Task

#: Shared and never mutated: replaced by a set of its own on the first timeout.
_NONE_TIMED_OUT: frozenset[int] = frozenset()
#: What a receiver's task may end with without aborting the send (a tuple:
#: ``isinstance`` with ``Exception | None`` builds the union on every call).
_ORDINARY = (Exception, type(None))
#: Shared and never mutated (see AsyncioRunner.abort).
_NONE_ABORTED: list[tuple[int, Exception]] = []


class AsyncioRunner:
    """:class:`~asyncsignal._backends.TaskRunner` on asyncio. What only a
    receiver that lives on after its start needs (its task, the count of
    pending ones, the timers) is made when the first one does: a send whose
    receivers never suspend makes none of it."""

    __slots__ = (
        "_caller",
        "_cancelling",
        "_context",
        "_eager",
        "_eager_context",
        "_loop",
        "_pending",
        "_spare",
        "_stepping",
        "_tasks",
        "_timed_out",
        "_timers",
        "_waiter",
        "aborted_errors",
        "coroutines_share",
        "errors",
        "outcomes",
        "receivers",
        "waiting",
    )

    def __init__(
        self,
        outcomes: list[Any],
        receivers: list[Any],
        loop: asyncio.AbstractEventLoop,
        context: contextvars.Context,
        own_contexts: bool = False,
    ) -> None:
        # Every asend with an async receiver makes a runner: only what a
        # receiver that never suspends needs is set here (see _live).
        self.outcomes, self.receivers, self._context = outcomes, receivers, context
        self.errors: dict[int, Exception] = {}
        #: Replaced by a list of its own if the send is aborted.
        self.aborted_errors: list[tuple[int, Exception]] = _NONE_ABORTED
        self._loop = loop
        #: The coroutines take the send's context themselves, each in a task
        #: of its own context (open_runner's own_contexts): never stepped in
        #: the send's context.
        self.coroutines_share = own_contexts
        # A custom task factory (observability tools install one) must see
        # every task, so it replaces the eager fast path.
        default_factory = loop.get_task_factory() is None
        #: 3.12+: tasks start eagerly, in the send's context, or each in a
        #: copy of it (None: an observed send's own contexts).
        self._eager = EAGER and default_factory
        self._eager_context = None if own_contexts else context
        self._stepping = _STEPPING and default_factory and not own_contexts
        #: 3.10/3.11: the task to step the next receiver in (see _stepping),
        #: and the sending task, current again after each step.
        self._spare: Spare | None = None
        self._caller: asyncio.Task[Any] | None = None
        #: Set once a receiver lives on after its start (_live).
        self.waiting = False

    def _live(self) -> None:
        """Make what receivers that live on after their start need."""
        self.waiting = True
        self._tasks: list[tuple[asyncio.Task[Any], int]] = []
        self._pending = 0
        self._waiter: asyncio.Future[None] | None = None
        #: Set once this runner has cancelled its tasks.
        self._cancelling = False
        #: index -> (timer handle, limit), for tasks started with a timeout;
        #: created on first use, as most dispatches have no timer.
        self._timers: dict[int, tuple[asyncio.TimerHandle, float]] | None = None
        self._timed_out: set[int] | frozenset[int] = _NONE_TIMED_OUT

    def start(
        self, coro: Coroutine[Any, Any, Any], index: int, timeout: float | None = None
    ) -> None:
        if self._eager:
            # Runs the coroutine up to its first suspension right now, so a
            # receiver that never suspends never reaches the scheduler. Named
            # only if it lives on: a name costs a string per call. The
            # constructor itself: a call less per receiver.
            context = self._eager_context
            if context is None:
                context = self._context.copy()
            task = _Task(  # type: ignore[call-arg,unused-ignore]
                coro, loop=self._loop, eager_start=True, context=context
            )
            if task.done():
                # Outside a done callback: a BaseException reaches the caller.
                try:
                    self.outcomes[index] = task.result()
                except Exception as error:
                    self.errors[index] = error
                return
            task.set_name(task_name(self.receivers[index]))
            self.adopt(task, index, timeout)
        elif self._stepping:
            stepped = self._step(coro, index)
            if stepped is not None:
                self.adopt(stepped, index, timeout)
        else:
            self._start_other(coro, index, timeout)

    def _start_other(
        self, coro: Coroutine[Any, Any, Any], index: int, timeout: float | None
    ) -> None:
        """:meth:`start` neither eager nor stepped: a task of the loop's
        factory (an observed send's in a copy of the send's context, 3.10: of
        the current one), or one of an observed send's own contexts on
        3.10/3.11."""
        context: contextvars.Context | None = self._context
        receiver = coro
        if self.coroutines_share:
            context = self._context.copy() if _TASK_CONTEXT else None
        elif not _TASK_CONTEXT:  # pragma: no cover - covered by the Python 3.10 run
            coro = run_sharing(coro, self._context)
            context = None
        name = task_name(self.receivers[index])
        if context is None:
            task = self._loop.create_task(coro, name=name)
        else:
            task = self._loop.create_task(  # type: ignore[call-arg,unused-ignore]
                coro, name=name, context=context
            )
        if task.done():  # an eager task factory
            self._collect(task, index)
            return
        self.adopt(task, index, timeout)
        if coro is not receiver:  # pragma: no cover - 3.10
            # Cancelled before its first step, the wrapper never awaited the
            # receiver's coroutine: close it, or it is reported as never
            # awaited (a no-op once it ran).
            task.add_done_callback(lambda _: receiver.close())

    def adopt(self, task: asyncio.Task[Any], index: int, timeout: float | None) -> None:
        """Wait for ``task``, receiver ``index``'s, which lives on after its
        start (:meth:`start`'s, or :func:`start_eagerly`'s, named)."""
        if not self.waiting:
            self._live()
        self._tasks.append((task, index))
        self._pending += 1
        task.add_done_callback(self._task_done)
        if timeout is not None:
            timer = self._loop.call_later(timeout, self._time_out, task, index)
            if self._timers is None:
                self._timers = {}
            self._timers[index] = (timer, timeout)

    def _step(
        self, coro: Coroutine[Any, Any, Any], index: int
    ) -> asyncio.Task[Any] | None:
        """3.10/3.11: run ``coro`` up to its first suspension (see _stepping);
        ``None`` if it finished (its outcome is set), else the task that now
        continues it. A ``BaseException`` from it propagates."""
        spare = self._spare
        if spare is None:
            spare = self._spare = new_spare(self._loop, self._context)
            if self._caller is None:
                self._caller = asyncio.current_task(self._loop)
        task, slot = spare
        caller = self._caller
        assert caller is not None
        loop = self._loop
        # _stepping.step's body, inline: a call less per receiver (W3, 3.11).
        leave_task(loop, caller)  # type: ignore[misc]
        enter_task(loop, task)  # type: ignore[misc]
        try:
            awaited = self._context.run(coro.send, None)
        except StopIteration as stop:
            if cancel_requested(task):
                # The receiver cancelled its own task and returned: an asyncio
                # task ends cancelled then (3.12's eager ones too). The spare
                # must not carry the cancellation to the next receiver.
                self._spare = None
                raise asyncio.CancelledError from None
            self.outcomes[index] = stop.value
            return None
        except Exception as error:
            self.errors[index] = error
            if cancel_requested(task):  # as above; its exception wins
                self._spare = None
            return None
        finally:
            leave_task(loop, task)  # type: ignore[misc]
            enter_task(loop, caller)  # type: ignore[misc]
        slot.append((coro, awaited))
        task._log_destroy_pending = True  # type: ignore[attr-defined]
        self._spare = None
        task.set_name(task_name(self.receivers[index]))
        return task

    def limit_hit(self, index: int) -> float | None:
        if not self.waiting or index not in self._timed_out:
            return None
        assert self._timers is not None
        return self._timers[index][1]

    def _time_out(self, task: asyncio.Task[Any], index: int) -> None:
        self._timed_out = self._timed_out | {index}
        cancel_task(task)

    def _collect(self, task: asyncio.Task[Any], index: int) -> None:
        # Outside the done callback: a BaseException must reach the caller.
        try:
            self.outcomes[index] = task.result()
        except Exception as error:
            self.errors[index] = error

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._pending -= 1
        if not task.cancelled() and not isinstance(task.exception(), _ORDINARY):
            # A BaseException (not cancellation) aborts the dispatch, as in a
            # trio nursery: the other receivers are cancelled.
            self._cancel_all()
        waiter = self._waiter
        if not self._pending and waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self) -> None:
        try:
            # _wait_pending's loop, inline: a coroutine less per waiting send.
            while self._pending:
                waiter = self._waiter = self._loop.create_future()
                try:
                    await waiter
                finally:
                    self._waiter = None
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
            # _collect, inline; a BaseException (the receiver's, or the
            # cancellation it ended with) is fatal here.
            try:
                self.outcomes[index] = task.result()
            except Exception as error:
                self.errors[index] = error
            except BaseException as error:
                fatal.append(error)
        if fatal:
            raise one_or_group(fatal)

    async def abort(self) -> None:
        if not self.waiting:
            self.aborted_errors = list(self.errors.items())
            return
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
                await self._wait_pending()
        aborted = self.aborted_errors = list(self.errors.items())
        for task, index in self._tasks:
            if not task.cancelled():
                error = task.exception()
                if isinstance(error, Exception):
                    aborted.append((index, error))
        for index in timed_out_before:
            assert self._timers is not None
            timeout = ReceiverTimeout(self.receivers[index], self._timers[index][1])
            aborted.append((index, timeout))

    async def _wait_pending(self) -> None:
        """Wait until no receiver is pending, whatever cancels this meanwhile
        (:meth:`abort`'s wait)."""
        while self._pending:
            self._waiter = self._loop.create_future()
            try:
                with contextlib.suppress(asyncio.CancelledError):
                    await self._waiter
            finally:
                self._waiter = None

    def _cancel_all(self) -> None:
        if self._cancelling:
            return
        self._cancelling = True
        for task, _ in self._tasks:
            if not task.done():
                cancel_task(task)
