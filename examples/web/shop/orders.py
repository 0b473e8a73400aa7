"""Orders, the ``order_placed`` signal and the settings of the simulation."""

from __future__ import annotations

import itertools
import os
import threading
from dataclasses import dataclass

from asyncsignal import AsyncSignal

#: Sent once an order is stored, as
#: ``await order_placed.asend(sender=OrderBook, order=order)``. Subscribers
#: (the SSE stream) see every send; receivers decide whether the order holds.
order_placed = AsyncSignal(name="order_placed")


@dataclass(frozen=True)
class Order:
    id: int
    item: str
    quantity: int

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "item": self.item, "quantity": self.quantity}


class OrderRejected(Exception):
    """A receiver refuses the order; the client can change the request (HTTP 422)."""


class OrderBook:
    """The orders, in memory (a database in a real app); safe from any thread.

    Ids count from ``first_id``."""

    def __init__(self, first_id: int = 1) -> None:
        self._ids = itertools.count(first_id)
        self._lock = threading.Lock()
        self.orders: dict[int, Order] = {}

    def place(self, item: str, quantity: int) -> Order:
        with self._lock:
            order = Order(next(self._ids), item, quantity)
            self.orders[order.id] = order
        return order

    def discard(self, order: Order) -> None:
        """Drop an order that a receiver refused or could not complete."""
        with self._lock:
            self.orders.pop(order.id, None)


def _seconds(variable: str, default: float) -> float:
    value = float(os.environ.get(variable, default))
    if not value > 0:
        raise ValueError(
            f"{variable} must be a positive number of seconds, got {value}"
        )
    return value


@dataclass(frozen=True)
class Settings:
    """How the simulated dependencies behave, from the environment."""

    #: ``SHOP_STOCK_LATENCY``: how long the stock service takes to answer.
    stock_latency: float = 0.01
    #: ``SHOP_STOCK_TIMEOUT``: ``timeout=`` of the receiver that calls it.
    stock_timeout: float = 1.0
    #: ``SHOP_LEDGER_SECONDS``: how long the legacy ledger client blocks.
    ledger_seconds: float = 0.3

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            stock_latency=_seconds("SHOP_STOCK_LATENCY", cls.stock_latency),
            stock_timeout=_seconds("SHOP_STOCK_TIMEOUT", cls.stock_timeout),
            ledger_seconds=_seconds("SHOP_LEDGER_SECONDS", cls.ledger_seconds),
        )
