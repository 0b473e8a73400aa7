"""Typed signals at run time: ``@asyncsignal.define`` turns a prototype function
into an :class:`~asyncsignal.AsyncSignal` whose sends must carry exactly the
payload the prototype declares (what type checkers see is checked by
``tests/typing/check_define.py``).
"""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any

import anyio
import pytest
from receivers import METHODS, send_by

import asyncsignal
from asyncsignal import AsyncSignal, TypedSignal, define
from asyncsignal.testing import capture

Responses = list[tuple[Any, Any]]


class Shop:
    pass


@define
def order_placed(sender: type[Shop], *, order_id: int, total: Decimal) -> None:
    """Sent after an order is stored."""
    raise AssertionError("a prototype's body is never run")


@define
def order_shipped(
    sender: type[Shop], *, order_id: int, carrier: str = "post", **extra: Any
) -> None:
    pass


class Calls:
    """A receiver recording the keyword arguments of each call."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)


# -- what define makes ------------------------------------------------------------


def test_define_makes_an_async_signal_named_and_documented_by_its_prototype() -> None:
    assert isinstance(order_placed, AsyncSignal)
    assert isinstance(order_placed, TypedSignal)
    assert isinstance(order_placed, asyncsignal.Signal)
    assert order_placed.name == "order_placed"
    assert order_placed.__doc__ == "Sent after an order is stored."
    assert order_placed.providing_args == frozenset({"order_id", "total"})
    assert "'order_placed'" in repr(order_placed)
    assert order_shipped.providing_args == frozenset({"order_id", "carrier"})
    assert order_shipped.__doc__ is None


def test_signals_defined_separately_share_nothing() -> None:
    @define
    def first(sender: object, *, value: int) -> None:
        pass

    @define
    def second(sender: object, *, value: int) -> None:
        pass

    calls = Calls()
    first.connect(calls)
    assert second.send(None, value=1) == []
    assert first.send(None, value=1) == [(calls, None)]


def test_a_plain_async_signal_is_untyped() -> None:
    signal = AsyncSignal()
    assert not isinstance(signal, TypedSignal)
    assert signal.providing_args == frozenset()
    calls = Calls()
    signal.connect(calls)
    assert signal.send(None) == [(calls, None)]
    assert signal.send(None, anything=1, at_all="x") == [(calls, None)]
    assert calls.calls[1] == {
        "signal": signal,
        "sender": None,
        "anything": 1,
        "at_all": "x",
    }
    documented = AsyncSignal(["order_id"])
    assert documented.send_robust(None) == []
    assert documented.send(None, unrelated=2) == []


# -- sends --------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
async def test_a_complete_payload_reaches_receivers_with_sender_positional_or_keyword(
    method: str,
) -> None:
    calls = Calls()
    order_placed.connect(calls)
    try:
        with capture(order_placed) as sent:
            first = await send_by(
                method, order_placed, Shop, order_id=1, total=Decimal(2)
            )
            second = await send_by(
                method, order_placed, sender=Shop, order_id=3, total=Decimal(4)
            )
    finally:
        order_placed.disconnect(calls)
    assert first == second == [(calls, None)]
    assert calls.calls == [
        {"signal": order_placed, "sender": Shop, "order_id": 1, "total": Decimal(2)},
        {"signal": order_placed, "sender": Shop, "order_id": 3, "total": Decimal(4)},
    ]
    assert [(event.sender, dict(event.kwargs)) for event in sent] == [
        (Shop, {"order_id": 1, "total": Decimal(2)}),
        (Shop, {"order_id": 3, "total": Decimal(4)}),
    ]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("payload", "match"),
    [
        ({"order_id": 1}, r"missing the payload argument\(s\) 'total'"),
        ({}, r"missing the payload argument\(s\) 'order_id', 'total'"),
        (
            {"order_id": 1, "total": Decimal(1), "extra": 2},
            r"got the payload argument\(s\) 'extra' that its prototype does not",
        ),
        (
            {"order_id": 1, "total": Decimal(1), "signal": 2},
            r"got the payload argument\(s\) 'signal'",
        ),
        ({"order_id": 1, "totl": Decimal(1)}, r"'total'"),
    ],
    ids=["missing", "all-missing", "unknown", "signal", "misspelt"],
)
async def test_a_wrong_payload_raises_type_error_naming_it_before_anything_runs(
    method: str, payload: dict[str, Any], match: str
) -> None:
    calls = Calls()
    order_placed.connect(calls)
    try:
        with capture(order_placed) as sent:
            async with order_placed.subscribe() as events:
                with pytest.raises(
                    TypeError, match=rf"order_placed\.{method}\(\) .*{match}"
                ):
                    await send_by(method, order_placed, Shop, **payload)
    finally:
        order_placed.disconnect(calls)
    assert calls.calls == []
    assert sent == []
    with anyio.fail_after(5):
        assert [event async for event in events] == []


@pytest.mark.parametrize("method", METHODS)
async def test_a_missing_sender_raises_type_error_naming_it(method: str) -> None:
    with capture(order_placed) as sent, pytest.raises(TypeError, match="'sender'"):
        await send_by(method, order_placed, order_id=1, total=Decimal(1))
    assert sent == []


@pytest.mark.parametrize("method", METHODS)
async def test_a_default_makes_a_payload_argument_optional(method: str) -> None:
    calls = Calls()
    order_shipped.connect(calls)
    try:
        await send_by(method, order_shipped, Shop, order_id=1)
        await send_by(method, order_shipped, Shop, order_id=2, carrier="ship")
        with pytest.raises(TypeError, match="'order_id'"):
            await send_by(method, order_shipped, Shop, carrier="ship")
    finally:
        order_shipped.disconnect(calls)
    assert [call["order_id"] for call in calls.calls] == [1, 2]
    assert calls.calls[1]["carrier"] == "ship"


@pytest.mark.parametrize("method", METHODS)
async def test_var_keywords_in_the_prototype_allow_extra_arguments(
    method: str,
) -> None:
    calls = Calls()
    order_shipped.connect(calls)
    try:
        await send_by(
            method, order_shipped, Shop, order_id=1, tracking="T1", weight=2.5
        )
    finally:
        order_shipped.disconnect(calls)
    (call,) = calls.calls
    assert (call["order_id"], call["tracking"], call["weight"]) == (1, "T1", 2.5)


def test_a_typed_signal_without_payload_accepts_only_the_sender() -> None:
    @define
    def ping(sender: object) -> None:
        """No payload."""

    calls = Calls()
    ping.connect(calls)
    assert ping.providing_args == frozenset()
    assert ping.send(None) == [(calls, None)]
    assert ping.send(sender=None) == [(calls, None)]
    with pytest.raises(TypeError, match="'extra'"):
        ping.send(None, extra=1)  # type: ignore[call-arg]
    assert len(calls.calls) == 2


def test_an_async_prototype_defines_a_signal_too() -> None:
    @define
    async def fetched(sender: object, *, url: str) -> None:
        """Declared with async def."""

    assert isinstance(fetched, TypedSignal)
    assert fetched.providing_args == frozenset({"url"})
    with pytest.raises(TypeError, match="'url'"):
        fetched.send(None)  # type: ignore[call-arg]


# -- bad prototypes -------------------------------------------------------------


def no_parameters() -> None:
    pass


def first_not_sender(shop: object, *, order_id: int) -> None:
    pass


def keyword_only_payload_without_sender(*, order_id: int) -> None:
    pass


def positional_payload(sender: object, order_id: int) -> None:
    pass


def positional_payload_with_default(sender: object, order_id: int = 0) -> None:
    pass


def var_positional_payload(sender: object, *orders: int) -> None:
    pass


def var_positional_first(*args: object) -> None:
    pass


def payload_named_signal(sender: object, *, signal: object) -> None:
    pass


class CallableObject:
    def __call__(self, sender: object, *, order_id: int) -> None:
        pass


@pytest.mark.parametrize(
    ("prototype", "match"),
    [
        (Shop, r"define\(\) takes a prototype function, got type"),
        (print, "takes a prototype function"),
        (CallableObject(), "takes a prototype function"),
        (functools.partial(first_not_sender, None), "takes a prototype function"),
        ("order_placed", "takes a prototype function"),
        (None, "takes a prototype function"),
        (no_parameters, r"no_parameters\(\).* 'sender' as its first parameter"),
        (first_not_sender, "first_not_sender.*'sender' as its first parameter"),
        (keyword_only_payload_without_sender, "'sender' as its first parameter"),
        (var_positional_first, "'sender' as its first parameter"),
        (positional_payload, "positional_payload.*keyword-only parameters"),
        (positional_payload_with_default, "keyword-only parameters"),
        (var_positional_payload, "keyword-only parameters"),
        (payload_named_signal, r"payload_named_signal.*none named 'signal'"),
    ],
)
def test_define_rejects_a_bad_prototype(prototype: Any, match: str) -> None:
    with pytest.raises(TypeError, match=match):
        define(prototype)
