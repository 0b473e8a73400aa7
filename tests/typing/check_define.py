from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from typing_extensions import assert_type

import asyncsignal


class Shop:
    pass


@asyncsignal.define
def order_placed(sender: type[Shop], *, order_id: int, total: Decimal) -> int:
    """Sent after an order is stored."""
    raise NotImplementedError


def good(sender: type[Shop], *, order_id: int, **kwargs: Any) -> int:
    return order_id


def anything(**kwargs: Any) -> int:
    return 1


async def good_async(sender: type[Shop], **kwargs: Any) -> int:
    return 1


def contradicts(sender: type[Shop], *, order_id: str, **kwargs: Any) -> int:
    return 1


def wrong_return(sender: type[Shop], **kwargs: Any) -> str:
    return ""


order_placed.connect(good)
order_placed.connect(anything)
order_placed.connect(good_async)
order_placed.connect(contradicts)  # type: ignore[arg-type]  # pyright: ignore[reportCallIssue,reportArgumentType]
order_placed.connect(wrong_return)  # type: ignore[arg-type]  # pyright: ignore[reportCallIssue,reportArgumentType]

responses = order_placed.send(Shop, order_id=1, total=Decimal(1))
assert_type(responses, list[tuple[Callable[..., Any], int]])
order_placed.send(sender=Shop, order_id=1, total=Decimal(1))
order_placed.send(Shop, order_id="1", total=Decimal(1))  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
order_placed.send(Shop, order_id=1)  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
order_placed.send(Shop, order_id=1, total=Decimal(1), extra=2)  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]


async def main() -> None:
    r = await order_placed.asend(Shop, order_id=1, total=Decimal(1))
    assert_type(r, list[tuple[Callable[..., Any], int]])
    await order_placed.asend(Shop, order_id=1)  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
