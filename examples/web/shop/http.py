"""Framework-neutral HTTP pieces: problem details for receivers' errors, SSE text."""

from __future__ import annotations

import json
import logging
import sys
from typing import TYPE_CHECKING, Any

from asyncsignal import ReceiverTimeout

from .orders import Order, OrderRejected

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

log = logging.getLogger("shop")

#: The media type of RFC 9457 problem details.
PROBLEM_JSON = "application/problem+json"

#: What each stream sends first, once it is subscribed: a comment, which
#: ``EventSource`` ignores. A client that has read it sees every later order.
SSE_SUBSCRIBED = ": subscribed\n\n"


def receiver_errors(error: BaseException) -> list[BaseException]:
    """The receivers' errors in what ``asend`` raised: the error itself if one
    receiver failed, the leaves of its ``ExceptionGroup`` if several did."""
    if isinstance(error, BaseExceptionGroup):
        return [leaf for each in error.exceptions for leaf in receiver_errors(each)]
    return [error]


def problem(errors: Sequence[BaseException]) -> tuple[int, dict[str, object]]:
    """The HTTP status and RFC 9457 body for receivers' errors: 422 if one
    refused the order, else 504 if one timed out, else 500. Unexpected errors
    are logged here and not shown to the client."""
    expected = [e for e in errors if isinstance(e, (OrderRejected, ReceiverTimeout))]
    for error in errors:
        if error not in expected:
            log.error("a receiver of order_placed failed", exc_info=error)
    if any(isinstance(e, OrderRejected) for e in expected):
        status, title = 422, "Order rejected"
    elif expected:
        status, title = 504, "A dependency did not answer in time"
    else:
        status, title = 500, "Order processing failed"
    return status, {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": "; ".join(map(str, expected)) or "see the server's log",
    }


def placed(
    order: Order, responses: Sequence[tuple[Callable[..., Any], Any]]
) -> dict[str, object]:
    """The body of a 201: the order and each receiver's response."""
    return {
        "order": order.as_json(),
        "receivers": {
            receiver.__name__: str(response) for receiver, response in responses
        },
    }


def sse_event(order: Order) -> str:
    """One ``order_placed`` event in the ``text/event-stream`` format."""
    data = json.dumps(order.as_json())
    return f"event: order_placed\nid: {order.id}\ndata: {data}\n\n"
