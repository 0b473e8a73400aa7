from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from typing_extensions import assert_type

import asyncsignal
from asyncsignal.testing import capture, connected_to, muted


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


# -- every send method checks the payload and the sender ---------------------------

robust = order_placed.send_robust(Shop, order_id=1, total=Decimal(1))
assert_type(robust, list[tuple[Callable[..., Any], int | Exception]])
order_placed.send_robust(Shop, order_id=1)  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
order_placed.send_robust(Shop, order_id=1, total=Decimal(1), extra=2)  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
order_placed.send(Shop, 1, Decimal(1))  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
order_placed.send(Shop(), order_id=1, total=Decimal(1))  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
order_placed.send(order_id=1, total=Decimal(1))  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]


async def more_sends() -> None:
    r = await order_placed.asend_robust(Shop, order_id=1, total=Decimal(1))
    assert_type(r, list[tuple[Callable[..., Any], int | Exception]])
    await order_placed.asend(sender=Shop, order_id=1, total=Decimal(1))
    await order_placed.asend(Shop, order_id=1, total=1.5)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    await order_placed.asend_robust(Shop, order_id=1, total=Decimal(1), extra=2)  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
    await order_placed.asend_robust(Shop, order_id=1)  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]


# -- subscriptions, wait and the test helpers ---------------------------------------


async def subscriptions() -> None:
    async with order_placed.subscribe(Shop, max_buffer=10, overflow="block") as events:
        assert_type(events, asyncsignal.Subscription)
        async for event in events:
            assert_type(event, asyncsignal.Event)
            assert_type(event.kwargs, Mapping[str, Any])
    event = await order_placed.wait(Shop, where=lambda event: event.sender is Shop)
    assert_type(event, asyncsignal.Event)
    order_placed.subscribe(overflow="nope")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    order_placed.subscribe(max_buffer="10")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    order_placed.subscribe(Shop, 10)  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
    await order_placed.wait(where=lambda event: event.kwargs)  # type: ignore[arg-type,return-value]  # pyright: ignore[reportArgumentType]


def helpers() -> None:
    with capture(order_placed, Shop) as sent:
        assert_type(sent, list[asyncsignal.Event])
    with muted(order_placed):
        pass
    with connected_to(order_placed, anything) as got:
        assert_type(got(), int)  # the receiver keeps its type
    capture(anything)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    connected_to(order_placed, 1)  # type: ignore[type-var]  # pyright: ignore[reportArgumentType]


# -- the decorator forms check the receiver as the call form does -------------------


@asyncsignal.receiver(order_placed)
def decorated(sender: type[Shop], *, order_id: int, **kwargs: Any) -> int:
    return order_id


@asyncsignal.receiver(order_placed, sender=Shop, thread=True, timeout=2, once=True)
def decorated_with_options(**kwargs: Any) -> int:
    return 1


@order_placed.connect(thread=True, timeout=2)
def connected_with_options(sender: type[Shop], **kwargs: Any) -> int:
    return 1


@order_placed.connect()
async def connected_async(sender: type[Shop], **kwargs: Any) -> int:
    return 1


@asyncsignal.receiver(order_placed)  # type: ignore[arg-type]  # pyright: ignore[reportCallIssue,reportArgumentType,reportUntypedFunctionDecorator]
def decorated_contradicts(sender: type[Shop], *, order_id: str, **kwargs: Any) -> int:
    return 1


@order_placed.connect(timeout=2)  # type: ignore[arg-type]  # pyright: ignore[reportCallIssue,reportArgumentType,reportUntypedFunctionDecorator]
def connected_wrong_return(sender: type[Shop], **kwargs: Any) -> str:
    return ""


order_placed.connect(thread="yes")  # type: ignore[call-overload]  # pyright: ignore[reportArgumentType]
asyncsignal.receiver(order_placed, timeout="2")  # type: ignore[call-overload]  # pyright: ignore[reportCallIssue,reportArgumentType]

untyped = asyncsignal.AsyncSignal()


@untyped.connect(sender=Shop, once=True)
def on_untyped(**kwargs: Any) -> str:
    return ""


@asyncsignal.receiver([untyped, order_placed], weak=False)
def on_both(**kwargs: Any) -> int:
    return 1


assert_type(on_untyped(), str)  # the function keeps its type
