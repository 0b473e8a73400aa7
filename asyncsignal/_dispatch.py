"""Where receivers run: calling a plan's receivers, concurrently where they are
async, with their policies (a worker thread, a time limit, removal before the
call).

Receivers are called as ``receiver(signal=signal, sender=sender, **named)``.
``send``'s path for plain sync receivers is ``_inline_send``; outcomes become
responses or errors in ``_outcomes``.
"""

from __future__ import annotations

import contextvars
import functools
from typing import TYPE_CHECKING, Any, NamedTuple

from ._backends import (
    adopt,
    check_can_block,
    open_runner,
    open_runner_lazily,
    start_eagerly,
)
from ._context import copy_back
from ._observing import observe_call, observe_task
from ._outcomes import log_aborted, settle
from ._policies import ASYNC, POLICY, SYNC

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from ._backends import TaskRunner
    from ._observers import How, Watch
    from ._outcomes import Responses
    from ._plans import Plan
    from ._registrations import Registration

__all__ = ("Dispatch", "asend", "check_named", "dispatches", "send_with_policies")


class Dispatch(NamedTuple):
    """How one signal's sends by one method reach its receivers, made once per
    signal and method (:func:`dispatches`)."""

    #: The send method's name, in errors and logs.
    name: str
    #: Receivers' ``Exception``\ s become their responses (``*_robust``).
    robust: bool
    #: Removes a ``once`` registration before its call; true for the one
    #: concurrent caller that removed it.
    claim: Callable[[Registration], bool]
    #: ``send``'s: runs ``send``'s async receivers from this thread, called as
    #: ``run_from_sync(signal, func, *args)``; ``None`` under ``asend``.
    run_from_sync: Callable[..., Any] | None
    #: ``asend``'s: runs a ``thread=True`` receiver's call, called as
    #: ``run_in_thread(signal, call)``; ``None`` under ``send``.
    run_in_thread: Callable[[Any, Callable[[], Any]], Coroutine[Any, Any, Any]] | None


def dispatches(
    claim: Callable[[Registration], bool],
    run_from_sync: Callable[..., Any],
    run_in_thread: Callable[[Any, Callable[[], Any]], Coroutine[Any, Any, Any]],
) -> tuple[Dispatch, Dispatch, Dispatch, Dispatch]:
    """The dispatches of ``send``, ``send_robust``, ``asend`` and
    ``asend_robust``, for a signal whose registry claims with ``claim`` and
    whose class has the two hooks (unbound: a bound one would make the signal
    part of a reference cycle)."""
    return (
        Dispatch("send", False, claim, run_from_sync, None),
        Dispatch("send_robust", True, claim, run_from_sync, None),
        Dispatch("asend", False, claim, None, run_in_thread),
        Dispatch("asend_robust", True, claim, None, run_in_thread),
    )


def check_named(named: dict[str, Any]) -> None:
    """Reject a payload key that collides with the call's own arguments."""
    if "signal" in named:
        raise TypeError(
            "send()/asend() got a payload argument named 'signal': receivers get "
            "the signal as signal=, so the payload cannot use that name"
        )


def send_with_policies(
    signal: object,
    dispatch: Dispatch,
    plan: Plan,
    sender: object,
    named: dict[str, Any],
    watch: Watch | None = None,
) -> Responses:
    """``send``'s path for every plan the generated callers do not cover,
    ``asend``'s for plans of plain sync receivers (``run_from_sync`` is then
    ``None``), and every observed send's (``watch``). Sync receivers
    (``thread=True`` ones too) are called in connection order in this thread;
    then the async ones run concurrently on an event loop (``run_from_sync``)
    and this waits. Under ``send`` without async receivers and not robust, the
    first exception propagates and later receivers are not called; otherwise
    errors are settled as in ``asend``."""
    name, robust, claim, run_from_sync, _ = dispatch
    if plan.has_async:
        check_can_block(name)
    isolate = robust or plan.has_async or run_from_sync is None
    receivers: list[Callable[..., Any]] = []
    outcomes: list[Any] = []
    errors: dict[int, Exception] = {}
    later: list[tuple[int, Registration]] = []
    receiver: Callable[..., Any] | None = None
    shared: contextvars.Context | None = None
    try:
        for registration in plan.registrations:
            receiver = registration()
            if receiver is None or (
                registration.kind == POLICY
                and registration.policy.once
                and not claim(registration)
            ):
                continue
            index = len(receivers)
            receivers.append(receiver)
            outcomes.append(None)
            call = (
                receiver
                if watch is None
                else functools.partial(observe_call, watch, "inline", receiver)
            )
            if registration.is_async:
                later.append((index, registration))
            elif not isolate:
                outcomes[index] = call(signal=signal, sender=sender, **named)
            else:
                try:
                    outcomes[index] = call(signal=signal, sender=sender, **named)
                except Exception as error:
                    errors[index] = error
        if later:
            assert run_from_sync is not None
            # The async receivers share a copy of this context, copied back below.
            shared = contextvars.copy_context()
            arguments = (signal, later, receivers, outcomes, errors, sender, named)
            run_from_sync(signal, _run_later, *arguments, name, shared, watch)
        return settle(receivers, outcomes, errors, robust, name)
    finally:
        if shared is not None:
            copy_back(shared)
        # See asend: a kept exception must not keep every receiver alive.
        receivers.clear()
        outcomes.clear()
        receiver = call = None


async def _run_later(
    signal: object,
    later: list[tuple[int, Registration]],
    receivers: list[Callable[..., Any]],
    outcomes: list[Any],
    errors: dict[int, Exception],
    sender: object,
    named: dict[str, Any],
    method: str,
    shared: contextvars.Context,
    watch: Watch | None,
) -> None:
    """Run ``send``'s async receivers concurrently here, in ``shared``."""
    runner = open_runner(outcomes, receivers, shared, watch is not None)
    runner.errors = errors
    try:
        for index, registration in later:
            receiver = receivers[index]
            try:
                coro = receiver(signal=signal, sender=sender, **named)
            except Exception as error:
                errors[index] = error
                continue
            if watch is not None:
                own = shared if runner.coroutines_share else None
                coro = observe_task(watch, "task", receiver, coro, runner, index, own)
            runner.start(coro, index, registration.policy.timeout)
    # start() raises only a receiver's BaseException (eager start).
    except BaseException:
        await _abort(runner, receivers, method)
        raise
    if runner.waiting:
        await _wait(runner, receivers, method)


async def asend(
    signal: object,
    dispatch: Dispatch,
    registrations: tuple[Registration, ...],
    sender: object,
    named: dict[str, Any],
    watch: Watch | None = None,
) -> Responses:
    """Start every receiver in connection order and wait for all of them.

    Plain sync receivers are called inline; async ones run concurrently, one
    task each; receivers with a policy are wrapped by it (a worker thread, a
    time limit, removal before the call). Errors are isolated: each is either
    the receiver's response (``robust``) or raised once every receiver has
    finished. All run in one copy of the caller's context, copied back at the
    end (see ``_context``). With ``watch`` (an observed send), each receiver
    runs inside the observers' calls, an async one in a task of its own
    context (see ``_observers.Observer``).
    """
    # Over 60 lines on purpose: the hot path of W3 and W4, one frame per send
    # (a helper per receiver kind would cost a call per receiver).
    receivers: list[Callable[..., Any]] = []
    outcomes: list[Any] = []
    errors: dict[int, Exception] = {}
    shared = contextvars.copy_context()
    run = shared.run
    # None until an async receiver suspends (most never do): opened below.
    runner = (
        open_runner_lazily(outcomes, receivers, shared, errors)
        if watch is None
        else open_runner(outcomes, receivers, shared, True, errors)
    )
    receiver: Callable[..., Any] | None = None
    try:
        try:
            for registration in registrations:
                receiver = registration()
                if receiver is None:
                    continue
                kind = registration.kind
                if (
                    kind == POLICY
                    and registration.policy.once
                    and not dispatch.claim(registration)
                ):
                    continue
                index = len(receivers)
                receivers.append(receiver)
                outcomes.append(None)
                try:
                    if watch is None and (
                        kind == ASYNC or (kind == POLICY and registration.is_async)
                    ):
                        # The common case first: an async receiver of an
                        # unobserved send (a plain one: no time limit), started
                        # as an eager task while no runner is needed.
                        coro = receiver(signal=signal, sender=sender, **named)
                        timeout = None if kind == ASYNC else registration.policy.timeout
                        if runner is not None:
                            runner.start(coro, index, timeout)
                        elif (
                            started := start_eagerly(
                                coro, shared, outcomes, errors, index
                            )
                        ) is not None:
                            runner = open_runner(
                                outcomes, receivers, shared, False, errors
                            )
                            adopt(runner, started, index, timeout)
                    elif watch is not None and kind == ASYNC:
                        assert runner is not None
                        own = shared if runner.coroutines_share else None
                        coro = receiver(signal=signal, sender=sender, **named)
                        coro = observe_task(
                            watch, "task", receiver, coro, runner, index, own
                        )
                        runner.start(coro, index)
                    elif watch is not None:
                        assert runner is not None
                        _start_observed(
                            watch,
                            dispatch,
                            registration,
                            runner,
                            shared,
                            index,
                            receiver,
                            signal=signal,
                            sender=sender,
                            **named,
                        )
                    elif kind == SYNC:
                        outcomes[index] = run(
                            receiver, signal=signal, sender=sender, **named
                        )
                    elif registration.policy.thread:
                        call = functools.partial(
                            receiver, signal=signal, sender=sender, **named
                        )
                        if runner is None:
                            runner = open_runner(
                                outcomes, receivers, shared, False, errors
                            )
                        runner.start(
                            _in_thread(dispatch.run_in_thread, signal, call),
                            index,
                            registration.policy.timeout,
                        )
                    else:
                        outcomes[index] = run(
                            receiver, signal=signal, sender=sender, **named
                        )
                except Exception as error:
                    errors[index] = error
        except BaseException:
            if runner is None:  # nothing to wait for: it reports the errors
                runner = open_runner(outcomes, receivers, shared, False, errors)
            await _abort(runner, receivers, dispatch.name)
            raise
        if runner is not None and runner.waiting:
            await _wait(runner, receivers, dispatch.name)
        if errors:
            return settle(receivers, outcomes, errors, dispatch.robust, dispatch.name)
        return list(zip(receivers, outcomes, strict=True))
    finally:
        # A receiver's exception (raised, or returned by *_robust) keeps this
        # frame alive through its traceback: it must not keep every receiver.
        receivers.clear()
        outcomes.clear()
        receiver = coro = None
        copy_back(shared)


def _start_observed(
    watch: Watch,
    dispatch: Dispatch,
    registration: Registration,
    runner: TaskRunner,
    shared: contextvars.Context,
    index: int,
    receiver: Callable[..., Any],
    /,
    **arguments: Any,
) -> None:
    """``asend``'s step for a receiver of an observed send with a policy or
    sync: as unobserved (``shared``: the send's context), observed."""
    policy = registration.policy
    if registration.is_async:
        coro = receiver(**arguments)
        how: How = "task"
    elif policy.thread:
        call = functools.partial(receiver, **arguments)
        coro = _in_thread(dispatch.run_in_thread, arguments["signal"], call)
        how = "thread"
    else:
        runner.outcomes[index] = shared.run(
            observe_call, watch, "inline", receiver, **arguments
        )
        return
    own = shared if runner.coroutines_share else None
    runner.start(
        observe_task(watch, how, receiver, coro, runner, index, own),
        index,
        policy.timeout,
    )


async def _in_thread(
    run_in_thread: Callable[[Any, Callable[[], Any]], Coroutine[Any, Any, Any]] | None,
    signal: object,
    call: Callable[[], Any],
) -> Any:
    """A ``thread=True`` receiver's call, in a copy of the send's context whose
    changes are copied back into it when the thread is done."""
    assert run_in_thread is not None
    context = contextvars.copy_context()
    try:
        return await run_in_thread(signal, functools.partial(context.run, call))
    finally:
        copy_back(context)


async def _abort(
    runner: TaskRunner, receivers: list[Callable[..., Any]], method: str
) -> None:
    """Stop early (a receiver raised a ``BaseException`` while starting)."""
    try:
        await runner.abort()
    finally:
        log_aborted(runner, receivers, method)


async def _wait(
    runner: TaskRunner, receivers: list[Callable[..., Any]], method: str
) -> None:
    try:
        await runner.wait()
    except BaseException:
        # The caller was cancelled, or a receiver raised a BaseException: that
        # propagates; receivers' errors it displaced are logged, not lost.
        log_aborted(runner, receivers, method)
        raise
