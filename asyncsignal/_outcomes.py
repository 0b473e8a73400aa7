"""Receivers' outcomes made into a send's result: ``(receiver, response)``
pairs, an error raised (alone, or in an ``ExceptionGroup``), or errors logged
on the ``asyncsignal`` logger."""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any

from ._callables import describe

if sys.version_info < (3, 11):  # pragma: no cover - covered by the Python 3.10 run
    from exceptiongroup import ExceptionGroup

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._backends import TaskRunner

__all__ = ("log_aborted", "log_error", "logger", "settle")

logger = logging.getLogger("asyncsignal")

Responses = list[tuple[Any, Any]]


def settle(
    receivers: list[Callable[..., Any]],
    outcomes: list[Any],
    errors: dict[int, Exception],
    robust: bool,
    method: str,
) -> Responses:
    """The responses, in connection order; with ``robust``, each error is its
    receiver's response and is logged. Otherwise a single error is raised
    itself, several in an ``ExceptionGroup`` (connection order)."""
    if not errors:
        return list(zip(receivers, outcomes, strict=True))
    if robust:
        for index in sorted(errors):
            outcomes[index] = errors[index]
            log_error(receivers[index], errors[index], method)
        return list(zip(receivers, outcomes, strict=True))
    if len(errors) == 1:
        (error,) = errors.values()
        raise error
    raise ExceptionGroup(
        f"{len(errors)} receivers raised in {method}()",
        [errors[index] for index in sorted(errors)],
    )


def log_aborted(
    runner: TaskRunner, receivers: list[Callable[..., Any]], method: str
) -> None:
    """Log the receivers' errors that an aborted send displaced."""
    for index, displaced in runner.aborted_errors:
        log_error(receivers[index], displaced, method, " (aborted)")


def log_error(
    receiver: object, error: BaseException, method: str, note: str = ""
) -> None:
    logger.error(
        "Error calling %s in %s()%s",
        describe(receiver),
        method,
        note,
        exc_info=(type(error), error, error.__traceback__),
    )
