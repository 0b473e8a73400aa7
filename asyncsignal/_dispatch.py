"""Where receivers run: calling a plan's receivers and turning outcomes into responses.

Receivers are called as ``receiver(signal=signal, sender=sender, **named)``.
"""

from __future__ import annotations

import keyword
import logging
import sys
from typing import TYPE_CHECKING, Any

from ._callables import describe
from ._tasks import open_runner

if sys.version_info < (3, 11):  # pragma: no cover - covered by the Python 3.10 run
    from exceptiongroup import ExceptionGroup

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._registry import Registration

__all__ = ("asend", "check_named", "logger", "send", "send_robust")

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
    generates ``__init__``. Keys that are not plain identifiers, and key sets
    past a bound, use the generic caller.
    """
    if len(_send_callers) >= _SEND_CALLERS_LIMIT or not all(
        key.isidentifier()
        and not keyword.iskeyword(key)
        and not key.startswith(_PREFIX)
        for key in keys
    ):
        return _send_generic
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
    exec(source, namespace)  # keys are validated identifiers
    call_all: Callable[..., Responses] = namespace["call_all"]
    _send_callers[keys] = call_all
    return call_all


def send_robust(
    signal: object,
    registrations: tuple[Registration, ...],
    sender: object,
    named: dict[str, Any],
) -> Responses:
    """Call sync receivers in order; an ``Exception`` becomes the response."""
    responses: Responses = []
    for registration in registrations:
        receiver = registration()
        if receiver is None:
            continue
        try:
            response = receiver(signal=signal, sender=sender, **named)
        except Exception as error:
            _log_error(receiver, error, "send_robust")
            response = error
        responses.append((receiver, response))
    return responses


async def asend(
    signal: object,
    registrations: tuple[Registration, ...],
    sender: object,
    named: dict[str, Any],
    robust: bool,
) -> Responses:
    """Start every receiver in connection order and wait for all of them.

    Sync receivers are called inline; async ones run concurrently, one task
    each. Errors are isolated: each is either the receiver's response
    (``robust``) or raised once every receiver has finished.
    """
    receivers: list[Callable[..., Any]] = []
    outcomes: list[Any] = []
    runner = open_runner(outcomes)
    errors = runner.errors
    receiver: Callable[..., Any] | None = None
    try:
        try:
            try:
                for registration in registrations:
                    receiver = registration()
                    if receiver is None:
                        continue
                    index = len(receivers)
                    receivers.append(receiver)
                    outcomes.append(None)
                    try:
                        result = receiver(signal=signal, sender=sender, **named)
                    except Exception as error:
                        errors[index] = error
                        continue
                    if registration.is_async:
                        runner.start(result, index)
                    else:
                        outcomes[index] = result
            except BaseException:
                await runner.abort()
                raise
            if runner.waiting:
                await runner.wait()
        except BaseException:
            # asend was cancelled, or a receiver raised a BaseException: that
            # propagates; receivers' errors it displaced are logged, not lost.
            for index, displaced in runner.aborted_errors:
                _log_error(receivers[index], displaced, "asend (aborted)")
            raise
        if errors:
            return _settle(receivers, outcomes, errors, robust)
        return list(zip(receivers, outcomes, strict=True))
    finally:
        # A receiver's exception (raised from here, or returned by *_robust)
        # keeps this frame alive through its traceback for as long as the
        # caller keeps it: the frame must not keep every receiver alive too.
        receivers.clear()
        outcomes.clear()
        receiver = result = None


def _settle(
    receivers: list[Callable[..., Any]],
    outcomes: list[Any],
    errors: dict[int, Exception],
    robust: bool,
) -> Responses:
    if robust:
        for index in sorted(errors):
            outcomes[index] = errors[index]
            _log_error(receivers[index], errors[index], "asend_robust")
        return list(zip(receivers, outcomes, strict=True))
    if len(errors) == 1:
        (error,) = errors.values()
        raise error
    raise ExceptionGroup(
        f"{len(errors)} receivers raised in asend()",
        [errors[index] for index in sorted(errors)],
    )


def _log_error(receiver: object, error: BaseException, method: str) -> None:
    logger.error(
        "Error calling %s in %s()",
        describe(receiver),
        method,
        exc_info=(type(error), error, error.__traceback__),
    )
