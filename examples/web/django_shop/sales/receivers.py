"""Receivers of ``order_placed``, connected when the app is ready (``apps.py``).

Under ``asend`` (the async view) the sync ones run through asgiref's
``sync_to_async(thread_sensitive=True)``, as with ``django.dispatch.Signal``,
so they use the ORM as a sync view would; ``reserve_stock`` runs concurrently
in its own task. Under ``send`` (the sync view, the management command) sync
receivers run in the caller's thread, then ``reserve_stock`` on an event loop.
Each logs when it starts and finishes on the ``sales`` logger.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import TYPE_CHECKING

import anyio
from django.conf import settings

from asyncsignal.django import receiver

from .models import AuditEntry, Order
from .signals import order_placed

if TYPE_CHECKING:
    from collections.abc import Iterator

log = logging.getLogger("sales")

#: At most this many of one item per order (``check_limits``).
MAX_QUANTITY = 10
#: Items the simulated stock service never answers for (an outage).
UNREACHABLE = frozenset({"sundial"})


class OrderRejected(Exception):
    """A receiver refuses the order; the client can change the request (HTTP 422)."""


@contextlib.contextmanager
def _running(name: str, order: Order) -> Iterator[None]:
    log.info("%s started order %d", name, order.pk)
    outcome = "ok"
    try:
        yield
    except BaseException as error:  # cancellation included: log, re-raise
        outcome = type(error).__name__
        raise
    finally:
        log.info("%s finished order %d: %s", name, order.pk, outcome)


@receiver(order_placed, sender=Order, dispatch_uid="sales.audit_order")
def audit_order(sender: type[Order], order: Order, **kwargs: object) -> str:
    with _running("audit_order", order):
        AuditEntry.objects.create(
            order=order, receiver="audit_order", note=f"{order.quantity} x {order.item}"
        )
        return "audited"


@receiver(order_placed, sender=Order, dispatch_uid="sales.write_ledger")
def write_ledger(sender: type[Order], order: Order, **kwargs: object) -> str:
    """A blocking legacy client (``time.sleep`` stands for its socket I/O): the
    signal's default ``thread=True`` keeps it off the event loop."""
    with _running("write_ledger", order):
        time.sleep(settings.SHOP_LEDGER_SECONDS)
        AuditEntry.objects.create(order=order, receiver="write_ledger", note="posted")
        return "ledger line written"


@receiver(
    order_placed,
    sender=Order,
    timeout=settings.SHOP_STOCK_TIMEOUT,
    dispatch_uid="sales.reserve_stock",
)
async def reserve_stock(sender: type[Order], order: Order, **kwargs: object) -> str:
    """A call to a stock service over the network (simulated), bounded by
    ``timeout=``: order a ``"sundial"`` and it never answers."""
    with _running("reserve_stock", order):
        if order.item in UNREACHABLE:
            await anyio.sleep_forever()
        await anyio.sleep(settings.SHOP_STOCK_LATENCY)
        return f"reserved {order.quantity} x {order.item}"


@receiver(order_placed, sender=Order, thread=False, dispatch_uid="sales.check_limits")
def check_limits(sender: type[Order], order: Order, **kwargs: object) -> str:
    """A quick rule with no I/O: called inline, in the event loop's thread."""
    with _running("check_limits", order):
        if order.quantity > MAX_QUANTITY:
            raise OrderRejected(
                f"at most {MAX_QUANTITY} of an item per order, got {order.quantity}"
            )
        return "within limits"
