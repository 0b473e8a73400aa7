"""What crosses between processes, over ``memory://``: senders (``_senders.py``),
payloads, codecs (``_codecs.py``), and typed signals' checks of what arrives."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import functools
import logging
import uuid
import zoneinfo
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest
from bridge_support.peers import Peer, eventually, memory_url

import asyncsignal
from asyncsignal import AsyncSignal
from asyncsignal.bridge import Bridge, RemoteSender

if TYPE_CHECKING:
    from collections.abc import Callable


class Shop:
    """A sender class, reachable as ``<this module>:Shop``."""


class Warehouse:
    """A sender class no receiver is connected for."""


def make_invoice(sender: object, **kwargs: object) -> None:
    """A sender function."""


class Money:
    def __init__(self, cents: int) -> None:
        self.cents = cents

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Money) and other.cents == self.cents

    __hash__ = None  # type: ignore[assignment]


class Euros(Money):
    pass


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


@dataclasses.dataclass(frozen=True)
class Line:
    sku: str
    price: Decimal


@dataclasses.dataclass
class Order:
    id: uuid.UUID
    lines: list[Line]
    placed_at: datetime.datetime
    color: Color = Color.RED
    total: Decimal = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.total = sum((line.price for line in self.lines), Decimal(0))


@dataclasses.dataclass
class Box:
    n: int


class Model:
    """A class with pydantic's protocol (pydantic is not a test dependency of
    the core; tests/web runs the web guide's real pydantic model)."""

    def __init__(self, amount: Decimal) -> None:
        self.amount = amount

    def model_dump(self, *, mode: str) -> dict[str, str]:
        assert mode == "json"
        return {"amount": str(self.amount)}

    @classmethod
    def model_validate(cls, data: object) -> Model:
        if not isinstance(data, dict) or set(data) != {"amount"}:
            raise ValueError(f"1 validation error for Model: {data!r}")
        return cls(Decimal(data["amount"]))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Model) and other.amount == self.amount

    __hash__ = None  # type: ignore[assignment]


BUILT_IN_VALUES: list[Any] = [
    Decimal("2.50"),
    Decimal("-0.000"),
    Decimal("1E+400"),
    datetime.datetime(2026, 12, 7, 1, 2, 3, 456789),
    datetime.datetime(2026, 12, 7, 1, 2, 3, tzinfo=datetime.timezone.utc),
    datetime.datetime(
        2026, 6, 1, 9, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=5.5))
    ),
    datetime.date(2024, 2, 29),
    datetime.time(23, 59, 59, 999999),
    datetime.time(8, 0, tzinfo=datetime.timezone(-datetime.timedelta(hours=3))),
    uuid.UUID("12345678-1234-5678-1234-567812345678"),
    Color.GREEN,
]


# -- what crosses ------------------------------------------------------------------


@pytest.mark.parametrize(
    "sender",
    [None, "shop", 7, 2.5, True, Shop, make_invoice, len],
    # Stable across pytest-xdist workers: no object addresses.
    ids=lambda sender: getattr(sender, "__qualname__", repr(sender)),
)
async def test_senders_that_cross(sender: object) -> None:
    url = memory_url()
    a, b = Peer(url), Peer(url)
    for_sender: list[object] = []
    b.order_placed.connect(
        lambda sender, **kwargs: for_sender.append(sender),
        sender=sender,
        weak=False,
    )
    async with a.bridge, b.bridge:
        await a.order_placed.asend(sender, origin="a", n=0)
        await b.wait_orders(1)
    [(received, _)] = b.orders
    assert received == sender
    assert type(received) is type(sender)
    assert for_sender == [sender]


async def test_a_scalar_sender_becomes_the_equal_one_receivers_are_connected_for() -> (
    None
):
    # Receivers match senders by identity, which JSON cannot carry.
    url = memory_url()
    a, b = Peer(url), Peer(url)
    seven = 7_000_007  # not a cached int: the decoded one is another object
    for_seven: list[object] = []
    b.order_placed.connect(lambda **kwargs: None, sender=Shop, weak=False)
    b.order_placed.connect(lambda **kwargs: None, sender=7.5, weak=False)
    b.order_placed.connect(
        lambda sender, **kwargs: for_seven.append(sender), sender=seven, weak=False
    )
    async with a.bridge, b.bridge:
        await a.order_placed.asend(7_000_007, origin="a", n=0)
        await a.order_placed.asend(8, origin="a", n=1)  # nobody's: as it came
        await b.wait_orders(2)
    assert [sender for sender, _ in b.orders] == [seven, 8]
    assert b.orders[0][0] is seven
    assert for_seven == [seven]


async def test_a_class_sender_no_receiver_is_connected_for_arrives_as_a_reference() -> (
    None
):
    # Nothing arriving is imported: B has no receiver for Warehouse, so its
    # receivers for any sender get a RemoteSender naming it.
    url = memory_url()
    a, b = Peer(url), Peer(url)
    b.order_placed.connect(lambda **kwargs: None, sender=Shop, weak=False)
    async with a.bridge, b.bridge:
        await a.order_placed.asend(Warehouse, origin="a", n=0)
        await b.wait_orders(1)
    [(received, _)] = b.orders
    assert received == RemoteSender(f"{__name__}:Warehouse")
    assert repr(received) == f"RemoteSender('{__name__}:Warehouse')"


async def test_payload_crosses_as_json() -> None:
    url = memory_url()
    a, b = Peer(url), Peer(url)
    payload: dict[str, Any] = {
        "origin": "a",
        "n": 0,
        "items": [{"sku": "X-1", "qty": 2}, None, True, 1.5],
        "note": "caf\u00e9 \u2615",
        "pair": (1, 2),
        "counts": {1: "one"},
    }
    async with a.bridge, b.bridge:
        await a.order_placed.asend(None, **payload)
        await b.wait_orders(1)
    [(_, kwargs)] = b.orders
    # As JSON reads it: tuples become lists, dict keys strings.
    assert kwargs == {**payload, "pair": [1, 2], "counts": {"1": "one"}}


class NotJson:
    pass


def _nested() -> Callable[..., None]:
    def inner(**kwargs: object) -> None:
        pass

    return inner


def _local_enum() -> type[enum.Enum]:
    class Color(enum.Enum):
        RED = 1

    return Color


_LocalColor: Any = _local_enum()

_circular: list[object] = []
_circular.append(_circular)

REFUSED: list[Any] = [
    pytest.param(
        {"sender": object()},
        "its sender <object object at",
        id="object sender",
    ),
    pytest.param(
        {"sender": _nested()},
        "_nested.<locals>.inner (function) cannot cross",
        id="nested function sender",
    ),
    pytest.param(
        {"sender": [].append},
        "its sender list.append (builtin_function_or_method) cannot cross",
        id="bound builtin method sender",
    ),
    pytest.param(
        {"sender": Shop()},
        "(Shop) cannot cross: senders cross as None, a str, int, float or bool, "
        "a Decimal, datetime, date, time, UUID or Enum member, a module-level "
        "class or function (sender=Shop, for instance), or an instance of a "
        "registered class: bridge.register(Shop) for a dataclass or a pydantic "
        "model, bridge.register_codec(Shop, encode, decode) for any other class",
        id="instance sender",
    ),
    pytest.param(
        {"sender": functools.partial(make_invoice, 1)},
        "(partial) cannot cross: senders cross as None, a str, int, float or bool",
        id="partial sender",
    ),
    pytest.param(
        {"sender": _LocalColor},
        ") cannot cross: a class or function crosses only when it is "
        "defined at a module's top level",
        id="local class sender",
    ),
    pytest.param(
        {"sender": None, "color": _LocalColor.RED},
        "payload argument 'color' is not JSON-serialisable (test_crossing:"
        "_local_enum.<locals>.Color is not reachable under its name",
        id="local enum payload",
    ),
    pytest.param(
        {"sender": None, "box": Box(1)},
        "payload argument 'box' is not JSON-serialisable (Box Box(n=1)); pass "
        "JSON data (dict, list, str, int, float, "
        "bool, None), a Decimal, datetime, date, time, UUID or Enum member, or "
        "register its type: bridge.register(Box) for a dataclass or a pydantic "
        "model, bridge.register_codec(Box, encode, decode) for any other class",
        id="unregistered dataclass payload",
    ),
    pytest.param(
        {"sender": float("nan")},
        "its sender nan is not a finite number",
        id="nan sender",
    ),
    pytest.param(
        {"sender": None, "items": {1, 2}},
        "payload argument 'items' is not JSON-serialisable (set {1, 2})",
        id="set payload",
    ),
    pytest.param(
        {"sender": None, "thing": NotJson()},
        "payload argument 'thing' is not JSON-serialisable (NotJson <",
        id="object payload",
    ),
    pytest.param(
        {"sender": None, "ratio": float("inf")},
        "payload argument 'ratio' is not JSON-serialisable (Out of range float",
        id="infinite payload",
    ),
    pytest.param(
        {"sender": None, "loop": _circular},
        "payload argument 'loop' is not JSON-serialisable (Circular reference",
        id="circular payload",
    ),
    pytest.param(
        {"sender": None, "blob": "x" * 70_000},
        "its event is 70,",
        id="over the size cap",
    ),
]


@pytest.mark.parametrize(("arguments", "message"), REFUSED)
@pytest.mark.parametrize("method", ["asend", "send_robust"])
async def test_a_send_that_cannot_cross_raises_typeerror_before_any_receiver_runs(
    arguments: dict[str, Any], message: str, method: str
) -> None:
    a = Peer(memory_url(), max_event_bytes=65_536)
    async with a.bridge:
        call = getattr(a.order_placed, method)
        if method.startswith("a"):
            with pytest.raises(TypeError) as raised:
                await call(**arguments)
        else:
            with pytest.raises(TypeError) as raised:
                await anyio.to_thread.run_sync(lambda: call(**arguments))
    text = str(raised.value)
    assert text.startswith(
        "this send of the shared signal 'order_placed' cannot reach other processes: "
    )
    assert message in text
    assert "over the bridge's max_event_bytes=65,536" in text or "blob" not in str(
        arguments
    )
    assert a.orders == []
    assert (a.bridge.published, a.bridge.lost) == (0, 0)


async def test_a_payload_argument_named_signal_is_refused_even_without_receivers() -> (
    None
):
    signal = AsyncSignal(name="lonely")
    bridge = Bridge(memory_url())
    bridge.share(signal)
    async with bridge:
        with pytest.raises(TypeError, match="payload argument named 'signal'"):
            await signal.asend(None, signal=1)


# -- built-in codecs and registered classes -------------------------------------------


@pytest.mark.parametrize("value", BUILT_IN_VALUES, ids=repr)
async def test_built_in_values_cross_exactly_without_registration(value: Any) -> None:
    url = memory_url()
    a, b = Peer(url), Peer(url)
    for_value: list[object] = []
    b.order_placed.connect(
        lambda sender, **kwargs: for_value.append(sender), sender=value, weak=False
    )
    async with a.bridge, b.bridge:
        await a.order_placed.asend(value, value=value, values=[value, {"v": value}])
        await b.wait_orders(1)
    [(sender, kwargs)] = b.orders
    for received in (sender, kwargs["value"], *kwargs["values"][:1]):
        assert received == value
        assert type(received) is type(value)
        assert str(received) == str(value)  # Decimal's exponent, time zones
        assert getattr(received, "tzinfo", None) == getattr(value, "tzinfo", None)
    assert kwargs["values"][1] == {"v": value}
    # The equal sender that receivers are connected for (an enum member is itself).
    assert for_value == [value]
    assert for_value[0] is value


async def test_int_and_str_enum_members_cross_as_json_numbers_and_strings() -> None:
    url = memory_url()
    a, b = Peer(url), Peer(url)
    async with a.bridge, b.bridge:
        await a.order_placed.asend(Level.HIGH, level=Level.HIGH)
        await b.wait_orders(1)
    [(sender, kwargs)] = b.orders
    assert sender is Level.HIGH  # a sender of a built-in codec
    assert kwargs == {"level": 2}
    assert type(kwargs["level"]) is int  # JSON wrote it as the int it is


async def test_a_zoned_datetime_arrives_with_its_utc_offset() -> None:
    # The OS's time zone database, or the tzdata package of the test group.
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    url = memory_url()
    a, b = Peer(url), Peer(url)
    sent = datetime.datetime(2026, 7, 1, 12, 0, tzinfo=paris)
    async with a.bridge, b.bridge:
        await a.order_placed.asend(None, at=sent)
        await b.wait_orders(1)
    [(_, kwargs)] = b.orders
    assert kwargs["at"] == sent
    assert kwargs["at"].utcoffset() == sent.utcoffset() == datetime.timedelta(hours=2)
    assert kwargs["at"].replace(tzinfo=None) == sent.replace(tzinfo=None)


async def test_registered_dataclasses_and_models_cross_in_one_line() -> None:
    url = memory_url()
    a, b = Peer(url), Peer(url)
    for peer in (a, b):
        peer.bridge.register(Order)
        peer.bridge.register(Line)
        peer.bridge.register(Model, name="model")
    order = Order(
        uuid.uuid4(),
        [Line("tea", Decimal("4.10")), Line("mug", Decimal("9.00"))],
        datetime.datetime(2026, 12, 7, 10, 0, tzinfo=datetime.timezone.utc),
        Color.GREEN,
    )
    async with a.bridge, b.bridge:
        await a.order_placed.asend(order, order=order, model=Model(Decimal("1.5")))
        await b.wait_orders(1)
    [(sender, kwargs)] = b.orders
    assert sender == order
    assert sender is not order  # a new instance, rebuilt by Order(**fields)
    assert kwargs == {"order": order, "model": Model(Decimal("1.5"))}
    assert kwargs["order"].total == Decimal("13.10")  # __post_init__ ran
    assert type(kwargs["order"].lines[0]) is Line


def test_register_takes_only_dataclasses_and_pydantic_models() -> None:
    bridge = Bridge(memory_url())
    with pytest.raises(TypeError, match="register_codec\\(Money, encode, decode\\)"):
        bridge.register(Money)
    with pytest.raises(TypeError, match="register\\(\\) takes a class, got Box"):
        bridge.register(Box(1))  # type: ignore[arg-type]
    bridge.register(Box)
    with pytest.raises(ValueError, match="registered already"):
        bridge.register(Box)
    with pytest.raises(
        ValueError, match="'decimal' is registered already \\(a built-in"
    ):
        bridge.register(Line, name="decimal")


async def test_a_registered_codec_replaces_the_built_in_one_for_its_type() -> None:
    url = memory_url()
    a, b = Peer(url), Peer(url)
    for peer in (a, b):
        peer.bridge.register_codec(
            datetime.date, lambda d: d.toordinal(), datetime.date.fromordinal
        )
    async with a.bridge, b.bridge:
        await a.order_placed.asend(None, day=datetime.date(2026, 1, 1))
        await b.wait_orders(1)
    assert b.orders == [(None, {"day": datetime.date(2026, 1, 1)})]


async def test_a_dataclass_with_other_fields_is_rejected_by_the_receiving_process(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = memory_url()
    a, b = Peer(url), Peer(url)
    a.bridge.register_codec(Box, lambda box: {"n": box.n, "extra": 1}, Box)
    b.bridge.register(Box)
    caplog.set_level(logging.DEBUG, "asyncsignal.bridge")
    async with a.bridge, b.bridge:
        await a.order_placed.asend(None, box=Box(1))
        await a.order_placed.asend(None, origin="a", n=0)
        await b.wait_orders(1)
    assert b.numbers("a") == [0]
    assert b.bridge.rejected == 1
    assert any(
        "expected an object of Box's fields (n)" in r.getMessage()
        for r in caplog.records
    )


# -- codecs ------------------------------------------------------------------------


async def test_registered_codecs_carry_payload_values_and_senders() -> None:
    url = memory_url()
    a, b = Peer(url), Peer(url)
    for peer in (a, b):
        peer.bridge.register_codec(Decimal, str, Decimal)
        peer.bridge.register_codec(Money, lambda m: m.cents, Money, name="money")
    async with a.bridge, b.bridge:
        await a.order_placed.asend(
            Euros(250), origin="a", n=0, total=Decimal("2.50"), lines=[Money(3)]
        )
        await b.wait_orders(1)
    [(sender, kwargs)] = b.orders
    # A subclass uses its base class's codec (and arrives as the base class).
    assert sender == Money(250)
    assert kwargs == {
        "origin": "a",
        "n": 0,
        "total": Decimal("2.50"),
        "lines": [Money(3)],
    }


async def test_a_codec_registered_twice_is_refused() -> None:
    bridge = Bridge(memory_url())
    bridge.register_codec(Decimal, str, Decimal)
    with pytest.raises(ValueError, match="registered already"):
        bridge.register_codec(Decimal, str, Decimal, name="other")
    with pytest.raises(ValueError, match="registered already"):
        bridge.register_codec(Money, str, Money, name="decimal:Decimal")


async def test_a_codec_whose_output_is_not_json_raises_typeerror_at_the_send() -> None:
    a = Peer(memory_url())
    a.bridge.register_codec(Money, lambda m: {m.cents}, Money)
    async with a.bridge:
        with pytest.raises(TypeError, match=r"codec .*Money' turned its sender"):
            await a.order_placed.asend(Money(1), origin="a", n=0)
        with pytest.raises(TypeError, match="payload argument 'total'"):
            await a.order_placed.asend(None, total=Money(1))
    assert a.orders == []


async def test_an_event_whose_codec_the_receiving_process_lacks_is_rejected(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = memory_url()
    a, b = Peer(url), Peer(url)
    a.bridge.register_codec(Decimal, str, Decimal)
    b.bridge.register_codec(
        Money, lambda m: m.cents, lambda data: Money(int(data)), name="decimal:Decimal"
    )
    caplog.set_level(logging.DEBUG, "asyncsignal.bridge")  # each rejection
    async with a.bridge, b.bridge:
        await a.order_placed.asend(None, total=Decimal("1.5"))  # b's codec fails
        a.bridge.register_codec(Euros, lambda m: m.cents, Euros)
        await a.order_placed.asend(None, total=Euros(1))  # b has no such codec
        await a.order_placed.asend(None, origin="a", n=0)
        await b.wait_orders(1)
    assert b.numbers("a") == [0]
    assert b.bridge.rejected == 2
    assert b.bridge.received == 1
    messages = [
        r.getMessage() for r in caplog.records if r.name == "asyncsignal.bridge"
    ]
    assert any(
        "codec 'decimal:Decimal' could not decode '1.5': ValueError(" in m
        for m in messages
    )
    assert any(
        f"a value of codec '{__name__}:Euros', which this process has not registered"
        in m
        for m in messages
    )


# -- typed signals -----------------------------------------------------------------


async def test_a_typed_signal_refuses_a_payload_its_prototype_does_not_declare(
    caplog: pytest.LogCaptureFixture,
) -> None:
    @asyncsignal.define
    def order_placed(sender: object, *, origin: str, n: int) -> None:
        """The typed declaration, in the receiving process."""

    got: list[int] = []
    order_placed.connect(lambda sender, origin, n, **kwargs: got.append(n), weak=False)
    url = memory_url()
    a = Peer(url)
    b = Bridge(url)
    b.share(order_placed)
    async with a.bridge, b:
        await a.order_placed.asend(None, origin="a")  # no n: refused there
        await a.order_placed.asend(None, origin="a", n=1)
        await eventually(lambda: got == [1], "the typed receiver")
    assert b.rejected == 1
    assert "missing the payload argument(s) 'n'" in caplog.text


async def test_a_long_reason_for_a_rejection_is_logged_shortened(
    caplog: pytest.LogCaptureFixture,
) -> None:
    @asyncsignal.define
    def order_placed(sender: object, *, n: int) -> None:
        """The typed declaration, in the receiving process."""

    url = memory_url()
    a, b = Peer(url), Bridge(url)
    b.share(order_placed)
    long_name = "k" * 256  # the longest an argument may be named
    caplog.set_level(logging.DEBUG, "asyncsignal.bridge")
    async with a.bridge, b:
        await a.order_placed.asend(None, n=1, **{long_name: 1, "j" + long_name[1:]: 2})
        await eventually(lambda: b.rejected == 1, "the rejection")
    # The bridge's own warning: another logger's (a receiver of an earlier
    # test collected now) is not this test's business.
    [record] = [
        r
        for r in caplog.records
        if r.levelno == logging.WARNING and r.name == "asyncsignal.bridge"
    ]
    assert len(record.getMessage()) < 600
    assert "...; it began" in record.getMessage()
