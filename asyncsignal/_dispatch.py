"""Where receivers run: calling a plan's receivers and turning outcomes into responses.

Receivers are called as ``receiver(signal=signal, sender=sender, **named)``.
"""

from __future__ import annotations

import contextvars
import functools
import keyword
import logging
import sys
import unicodedata
from typing import TYPE_CHECKING, Any, NamedTuple

from ._backends import check_can_block, open_runner
from ._callables import describe
from ._context import copy_back
from ._policies import ASYNC, POLICY, SYNC

if sys.version_info < (3, 11):  # pragma: no cover - covered by the Python 3.10 run
    from exceptiongroup import ExceptionGroup

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from ._backends import TaskRunner
    from ._registry import Plan, Registration


class Method(NamedTuple):
    """How a send was made, as the dispatch functions take it: the method's
    name (in errors and logs) and whether receivers' ``Exception``\\ s become
    their responses."""

    name: str
    robust: bool


SEND = Method("send", robust=False)
SEND_ROBUST = Method("send_robust", robust=True)
ASEND = Method("asend", robust=False)
ASEND_ROBUST = Method("asend_robust", robust=True)

__all__ = (
    "ASEND",
    "ASEND_ROBUST",
    "SEND",
    "SEND_ROBUST",
    "Method",
    "asend",
    "check_named",
    "logger",
    "send",
    "send_with_policies",
)

logger = logging.getLogger("asyncsignal")

Responses = list[tuple[Any, Any]]


def check_named(named: dict[str, Any]) -> None:
    """Reject payload keys that would collide with the call's own arguments."""
    if "signal" in named:
        raise TypeError(
            "send()/asend() got a payload argument named 'signal': receivers get "
            "the signal as signal=, so the payload cannot use that name"
        )


def send(
    signal: object,
    registrations: tuple[Registration, ...],
    sender: object,
    named: dict[str, Any],
) -> Responses:
    """Call sync receivers in order; the first exception propagates."""
    keys = tuple(named)
    call_all = _send_callers.get(keys) or _make_send_caller(keys)
    return call_all(registrations, signal, sender, **named)


def _send_generic(
    registrations: tuple[Registration, ...],
    signal: object,
    sender: object,
    /,
    **named: Any,
) -> Responses:
    return [
        (receiver, receiver(signal=signal, sender=sender, **named))
        for registration in registrations
        if (receiver := registration()) is not None
    ]


#: Payload key names -> a function calling every receiver with those keywords.
_send_callers: dict[tuple[str, ...], Callable[..., Responses]] = {}
_SEND_CALLERS_LIMIT = 256
_PREFIX = "_asyncsignal_"


def _make_send_caller(keys: tuple[str, ...]) -> Callable[..., Responses]:
    """Build the caller for one set of payload keys.

    ``receiver(signal=..., sender=..., **named)`` builds a dict per receiver that
    the call then unpacks again; a call with literal keywords does neither and
    halves the cost of ``send``. So, once per distinct set of payload keys, we
    generate ``receiver(signal=s, sender=x, key=key, ...)``, as ``dataclasses``
    generates ``__init__``. Keys the generated code could not name unchanged,
    and key sets past a bound, use the generic caller.
    """
    if len(_send_callers) >= _SEND_CALLERS_LIMIT:
        return _send_generic
    call_all: Callable[..., Responses] = _send_generic
    if all(map(_is_plain_name, keys)):
        params = "".join(f", {key}" for key in keys)
        arguments = "".join(f", {key}={key}" for key in keys)
        p = _PREFIX
        source = (
            f"def call_all({p}registrations, {p}signal, {p}sender, /{params}):\n"
            f"    return [({p}r, {p}r(signal={p}signal, sender={p}sender{arguments}))\n"
            f"            for {p}reg in {p}registrations\n"
            f"            if ({p}r := {p}reg()) is not None]\n"
        )
        namespace: dict[str, Any] = {}
        exec(source, namespace)  # keys are checked by _is_plain_name
        call_all = namespace["call_all"]
    _send_callers[keys] = call_all
    return call_all


def _is_plain_name(key: str) -> bool:
    """Whether ``key`` written as a parameter and a keyword in generated source
    names exactly ``key``: the parser rejects keywords and ``__debug__``, and
    NFKC-normalises identifiers (a black-letter H, U+210C, would become
    ``"H"``); the prefix is the generated code's own."""
    return (
        key.isidentifier()
        and unicodedata.is_normalized("NFKC", key)
        and not keyword.iskeyword(key)
        and key != "__debug__"
        and not key.startswith(_PREFIX)
    )


def send_with_policies(
    signal: object,
    plan: Plan,
    sender: object,
    named: dict[str, Any],
    method: Method,
    claim: Callable[[Registration], bool],
    run_from_sync: Callable[..., Any] | None,
) -> Responses:
    """The sync path for every plan the generated callers do not cover, and
    ``asend``'s for plans of plain sync receivers (``run_from_sync`` is then
    ``None``: no receiver needs a loop).

    Sync receivers (``thread=True`` ones too) are called in connection order in
    this thread, with no event loop running in it (under ``send``); then the
    async receivers run concurrently on an event loop (``run_from_sync``) and
    this waits. Under ``send`` without async receivers and not ``robust``, the
    first exception propagates and later receivers are not called; otherwise
    errors are isolated and settled as ``asend`` settles them.
    """
    name, robust = method
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
                registration.kind is POLICY
                and registration.policy.once
                and not claim(registration)
            ):
                continue
            index = len(receivers)
            receivers.append(receiver)
            outcomes.append(None)
            if registration.is_async:
                later.append((index, registration))
            elif not isolate:
                outcomes[index] = receiver(signal=signal, sender=sender, **named)
            else:
                try:
                    outcomes[index] = receiver(signal=signal, sender=sender, **named)
                except Exception as error:
                    errors[index] = error
        if later:
            assert run_from_sync is not None
            # The sync receivers ran in this context; the async ones share a
            # copy of it, copied back below (see _context).
            shared = contextvars.copy_context()
            run_from_sync(
                _run_later,
                *(signal, later, receivers, outcomes, errors, sender, named, name),
                shared,
            )
        return _settle(receivers, outcomes, errors, robust, name)
    finally:
        if shared is not None:
            copy_back(shared)
        # See asend: a kept exception must not keep every receiver alive.
        receivers.clear()
        outcomes.clear()
        receiver = None


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
) -> None:
    """Run ``send``'s async receivers concurrently on this event loop, in the
    context ``shared``."""
    runner = open_runner(outcomes, receivers, shared)
    runner.errors = errors
    try:
        for index, registration in later:
            try:
                coro = receivers[index](signal=signal, sender=sender, **named)
            except Exception as error:
                errors[index] = error
                continue
            runner.start(coro, index, registration.policy.timeout)
    # start() raises only a receiver's BaseException (eager start).
    except BaseException:
        await _abort(runner, receivers, method)
        raise
    if runner.waiting:
        await _wait(runner, receivers, method)


async def asend(
    signal: object,
    registrations: tuple[Registration, ...],
    sender: object,
    named: dict[str, Any],
    method: Method,
    claim: Callable[[Registration], bool],
    run_in_thread: Callable[[Callable[[], Any]], Coroutine[Any, Any, Any]],
) -> Responses:
    """Start every receiver in connection order and wait for all of them.

    Plain sync receivers are called inline; async ones run concurrently, one
    task each; receivers with a policy are wrapped by it (a worker thread, a
    time limit, removal before the call). Errors are isolated: each is either
    the receiver's response (``robust``) or raised once every receiver has
    finished. All run in one copy of the caller's context, copied back at the
    end (see ``_context``).
    """
    receivers: list[Callable[..., Any]] = []
    outcomes: list[Any] = []
    shared = contextvars.copy_context()
    run = shared.run
    runner = open_runner(outcomes, receivers, shared)
    errors = runner.errors
    receiver: Callable[..., Any] | None = None
    try:
        try:
            for registration in registrations:
                receiver = registration()
                if receiver is None:
                    continue
                kind = registration.kind
                if (
                    kind is POLICY
                    and registration.policy.once
                    and not claim(registration)
                ):
                    continue
                index = len(receivers)
                receivers.append(receiver)
                outcomes.append(None)
                try:
                    if kind is SYNC:
                        outcomes[index] = run(
                            receiver, signal=signal, sender=sender, **named
                        )
                    elif kind is ASYNC:
                        runner.start(
                            receiver(signal=signal, sender=sender, **named), index
                        )
                    elif registration.is_async:
                        runner.start(
                            receiver(signal=signal, sender=sender, **named),
                            index,
                            registration.policy.timeout,
                        )
                    elif registration.policy.thread:
                        call = functools.partial(
                            receiver, signal=signal, sender=sender, **named
                        )
                        runner.start(
                            _in_thread(run_in_thread, call),
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
            await _abort(runner, receivers, method.name)
            raise
        if runner.waiting:
            await _wait(runner, receivers, method.name)
        if errors:
            return _settle(receivers, outcomes, errors, method.robust, method.name)
        return list(zip(receivers, outcomes, strict=True))
    finally:
        # A receiver's exception (raised from here, or returned by *_robust)
        # keeps this frame alive through its traceback for as long as the
        # caller keeps it: the frame must not keep every receiver alive too.
        receivers.clear()
        outcomes.clear()
        receiver = None
        copy_back(shared)


async def _in_thread(
    run_in_thread: Callable[[Callable[[], Any]], Coroutine[Any, Any, Any]],
    call: Callable[[], Any],
) -> Any:
    """A ``thread=True`` receiver's call, in a copy of the send's context whose
    changes are copied back into it when the thread is done."""
    context = contextvars.copy_context()
    try:
        return await run_in_thread(functools.partial(context.run, call))
    finally:
        copy_back(context)


async def _abort(
    runner: TaskRunner, receivers: list[Callable[..., Any]], method: str
) -> None:
    """Stop early (a receiver raised a ``BaseException`` while starting)."""
    try:
        await runner.abort()
    finally:
        _log_aborted(runner, receivers, method)


async def _wait(
    runner: TaskRunner, receivers: list[Callable[..., Any]], method: str
) -> None:
    try:
        await runner.wait()
    except BaseException:
        # The caller was cancelled, or a receiver raised a BaseException: that
        # propagates; receivers' errors it displaced are logged, not lost.
        _log_aborted(runner, receivers, method)
        raise


def _log_aborted(
    runner: TaskRunner, receivers: list[Callable[..., Any]], method: str
) -> None:
    for index, displaced in runner.aborted_errors:
        _log_error(receivers[index], displaced, method, " (aborted)")


def _settle(
    receivers: list[Callable[..., Any]],
    outcomes: list[Any],
    errors: dict[int, Exception],
    robust: bool,
    method: str,
) -> Responses:
    if not errors:
        return list(zip(receivers, outcomes, strict=True))
    if robust:
        for index in sorted(errors):
            outcomes[index] = errors[index]
            _log_error(receivers[index], errors[index], method)
        return list(zip(receivers, outcomes, strict=True))
    if len(errors) == 1:
        (error,) = errors.values()
        raise error
    raise ExceptionGroup(
        f"{len(errors)} receivers raised in {method}()",
        [errors[index] for index in sorted(errors)],
    )


def _log_error(
    receiver: object, error: BaseException, method: str, note: str = ""
) -> None:
    logger.error(
        "Error calling %s in %s()%s",
        describe(receiver),
        method,
        note,
        exc_info=(type(error), error, error.__traceback__),
    )
