"""What the views and the management command share: reading an order from a
request, and the outcome of ``order_placed`` as HTTP."""

from __future__ import annotations

import json
import logging
import sys
from typing import TYPE_CHECKING, Any

from asyncsignal import ReceiverTimeout

from .receivers import OrderRejected

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from .models import Order

log = logging.getLogger("sales")


def new_order(body: bytes) -> tuple[str, int]:
    """``item`` and ``quantity`` from a request's JSON body.

    :raises ValueError: invalid JSON or values.
    """
    data = json.loads(body)
    if isinstance(data, dict):
        item, quantity = data.get("item"), data.get("quantity")
        if (
            isinstance(item, str)
            and 0 < len(item) <= 100
            and type(quantity) is int
            and quantity > 0
        ):
            return item, quantity
    raise ValueError(
        'expected {"item": a non-empty string, "quantity": a positive int}'
    )


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


def receiver_errors(error: BaseException) -> list[BaseException]:
    """The receivers' errors in what ``send``/``asend`` raised: the error itself,
    or the leaves of the ``ExceptionGroup`` raised when several failed."""
    if isinstance(error, BaseExceptionGroup):
        return [leaf for each in error.exceptions for leaf in receiver_errors(each)]
    return [error]


def problem(order: Order, error: BaseException) -> tuple[int, dict[str, object]]:
    """The HTTP status and RFC 9457 body for what a send raised about
    ``order``: 422 if a receiver refused it, else 504 if one timed out, else
    500 (the error is logged, not shown). The body names the order, which
    stays in the database as failed."""
    errors = receiver_errors(error)
    expected = [e for e in errors if isinstance(e, (OrderRejected, ReceiverTimeout))]
    for each in errors:
        if each not in expected:
            log.error("a receiver of order_placed failed", exc_info=each)
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
        "order": order.pk,
    }
