"""The receivers of ``order_placed``: one of each kind that asyncsignal runs.

=================  ====================================  ===============================
receiver           stands for                            connected with
=================  ====================================  ===============================
``reserve_stock``  a call to a stock service (async I/O)  ``timeout=``: a hung service
                                                         becomes a ``ReceiverTimeout``
``write_ledger``   a blocking legacy client              ``thread=True``: the event loop
                                                         serves other requests meanwhile
``check_limits``   a quick business rule                 nothing: called inline; raises
                                                         ``OrderRejected``
=================  ====================================  ===============================

Under ``asend`` they run concurrently; one that fails neither cancels nor skips
the others. Each logs on the ``shop`` logger when it starts and when it
finishes, and :func:`receivers_running` counts those under way, so that a
server's shutdown can show that it cut none of them off.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import TYPE_CHECKING

import anyio

from .orders import Order, OrderRejected, Settings, order_placed

if TYPE_CHECKING:
    from collections.abc import Iterator

    from asyncsignal import AsyncSignal

log = logging.getLogger("shop")

#: At most this many of one item per order (``check_limits``).
MAX_QUANTITY = 10


class StockService:
    """Stands in for a stock service reached over the network.

    It answers after ``latency`` seconds, and never for an item in
    :attr:`UNREACHABLE`: a simulated outage. Order a ``"sundial"`` to watch
    the receiver's ``timeout=`` turn the hang into an HTTP 504.
    """

    UNREACHABLE = frozenset({"sundial"})

    def __init__(self, latency: float) -> None:
        self.latency = latency

    async def reserve(self, item: str, quantity: int) -> str:
        if item in self.UNREACHABLE:
            await anyio.sleep_forever()
        await anyio.sleep(self.latency)
        return f"reserved {quantity} x {item}"


class LegacyLedger:
    """A blocking client of the accounting system (``time.sleep`` stands for
    its socket I/O): it must not run in the event loop's thread."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def record(self, order: Order) -> str:
        time.sleep(self.seconds)
        return f"ledger line for order {order.id}"


class _Running:
    """Counts the receivers under way, from any thread, and logs each one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    @contextlib.contextmanager
    def receiver(self, name: str, order: Order) -> Iterator[None]:
        with self._lock:
            self.count += 1
        log.info("%s started order %d", name, order.id)
        outcome = "ok"
        try:
            yield
        except BaseException as error:  # cancellation included: log, re-raise
            outcome = type(error).__name__
            raise
        finally:
            with self._lock:
                self.count -= 1
            log.info("%s finished order %d: %s", name, order.id, outcome)


_RUNNING = _Running()


def receivers_running() -> int:
    """How many receivers of this module are running now."""
    return _RUNNING.count


class OrderReceivers:
    """The receivers and the services they call, connected for an app's life."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stock = StockService(settings.stock_latency)
        self.ledger = LegacyLedger(settings.ledger_seconds)

    @contextlib.contextmanager
    def connected(self, signal: AsyncSignal = order_placed) -> Iterator[None]:
        """Connect the receivers for the block (an app's lifespan)."""
        # Bound methods are held weakly: as long as this object lives.
        signal.connect(self.reserve_stock, timeout=self.settings.stock_timeout)
        signal.connect(self.write_ledger, thread=True)
        signal.connect(self.check_limits)
        try:
            yield
        finally:
            signal.disconnect(self.reserve_stock)
            signal.disconnect(self.write_ledger)
            signal.disconnect(self.check_limits)

    async def reserve_stock(
        self, sender: object, order: Order, **kwargs: object
    ) -> str:
        with _RUNNING.receiver("reserve_stock", order):
            return await self.stock.reserve(order.item, order.quantity)

    def write_ledger(self, sender: object, order: Order, **kwargs: object) -> str:
        with _RUNNING.receiver("write_ledger", order):
            return self.ledger.record(order)

    def check_limits(self, sender: object, order: Order, **kwargs: object) -> str:
        with _RUNNING.receiver("check_limits", order):
            if order.quantity > MAX_QUANTITY:
                raise OrderRejected(
                    f"at most {MAX_QUANTITY} of an item per order, got {order.quantity}"
                )
            return "within limits"
