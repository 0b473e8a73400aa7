"""Several "processes" in one: each :class:`Peer` has its own bridge and its
own signal objects, named like everyone else's, as separate processes would."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

import anyio

from asyncsignal import AsyncSignal
from asyncsignal.bridge import Bridge

if TYPE_CHECKING:
    from collections.abc import Callable

#: Generous bound for anything the tests wait for (loaded 2-core CI).
DEADLINE = 20.0


class Peer:
    """A bridge sharing ``order_placed`` (and ``invoice_due``), whose receivers
    record every call as ``(sender, kwargs)``."""

    def __init__(self, url: str, **options: Any) -> None:
        self.order_placed = AsyncSignal(name="order_placed")
        self.invoice_due = AsyncSignal(name="invoice_due")
        self.orders: list[tuple[object, dict[str, Any]]] = []
        self.invoices: list[tuple[object, dict[str, Any]]] = []
        self.bridge = Bridge(url, **options)
        self.bridge.share(self.order_placed, self.invoice_due)
        self._changed = anyio.Event()
        self.order_placed.connect(self._on_order)
        self.invoice_due.connect(self._on_invoice)

    def _on_order(self, sender: object, **kwargs: Any) -> str:
        kwargs.pop("signal")
        self.orders.append((sender, kwargs))
        self._notify()
        return "local"

    def _on_invoice(self, sender: object, **kwargs: Any) -> None:
        kwargs.pop("signal")
        self.invoices.append((sender, kwargs))
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        """Wait (at most :data:`DEADLINE`) until ``condition()`` holds after
        one of this peer's receivers ran."""
        with anyio.fail_after(DEADLINE):
            while not condition():
                await self._changed.wait()

    async def wait_orders(self, count: int) -> None:
        await self.wait_until(lambda: len(self.orders) >= count)

    async def reach(self, other: Peer) -> None:
        """Send probe orders until ``other`` has received one (bounded).

        Delivery is at most once: an event sent while a session is being
        re-established (a heartbeat slower than a short ``timeout`` on a
        loaded machine ends one) is lost, so one send proves nothing."""
        with anyio.fail_after(DEADLINE):
            while not other.numbers("probe"):
                await self.order_placed.asend(None, origin="probe", n=0)
                await anyio.sleep(0.02)

    def numbers(self, origin: str) -> list[int]:
        """The ``n`` of the orders received from ``origin``, in order."""
        return [kw["n"] for _, kw in self.orders if kw.get("origin") == origin]


async def eventually(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition`` (for counters no receiver reports), bounded."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await anyio.sleep(0.005)


def memory_url() -> str:
    """A ``memory://`` URL of its own: bridges of other tests never hear it."""
    return f"memory://{uuid.uuid4().hex}"
