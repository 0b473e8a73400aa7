"""Where receivers run: calling a plan's receivers and turning outcomes into responses.

Receivers are called as ``receiver(signal=signal, sender=sender, **named)``.
"""

from __future__ import annotations

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
    return [
        (receiver, receiver(signal=signal, sender=sender, **named))
        for registration in registrations
        if (receiver := registration()) is not None
    ]


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
    try:
        async with runner:
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
        # asend was cancelled, or a receiver raised a BaseException: that
        # propagates; receivers' errors it displaced are logged, not lost.
        for index, error in runner.aborted_errors:
            _log_error(receivers[index], error, "asend (aborted)")
        raise
    if errors:
        return _settle(receivers, outcomes, errors, robust)
    return list(zip(receivers, outcomes))


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
        return list(zip(receivers, outcomes))
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
