"""asyncsignal.bridge within one process (``memory://``): delivery, what
crosses and what does not, buffers, configuration."""

from __future__ import annotations

import logging
import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest
from bridge_support.peers import DEADLINE, Peer, eventually

import asyncsignal
from asyncsignal import AsyncSignal
from asyncsignal.bridge import Bridge, RemoteSender
from asyncsignal.bridge._transports.memory import _HUBS
from asyncsignal.bridge._urls import PublicUrl
from asyncsignal.testing import capture

if TYPE_CHECKING:
    from collections.abc import Callable


def memory_url() -> str:
    return f"memory://{uuid.uuid4().hex}"


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


# -- delivery --------------------------------------------------------------------


async def test_every_other_bridge_runs_its_receivers_once_per_event() -> None:
    url = memory_url()
    a, b, c = Peer(url), Peer(url), Peer(url)
    async with a.bridge, b.bridge, c.bridge:
        for n in range(3):
            responses = await a.order_placed.asend(None, origin="a", n=n)
            # Only the local receiver's response: publishing adds none.
            assert responses == [(a._on_order, "local")]
        await b.order_placed.asend(None, origin="b", n=0)
        for peer in (a, b, c):
            await peer.wait_orders(4)
        # A barrier: each peer's last event arrives after anything it sent
        # before, so nothing can be on its way any more.
        for peer in (a, b, c):
            await peer.order_placed.asend(None, origin="end", n=0)
        for peer in (a, b, c):
            await peer.wait_orders(7)
    for peer in (a, b, c):
        assert peer.numbers("a") == [0, 1, 2]
        assert peer.numbers("b") == [0]
        assert len(peer.orders) == 7
    assert (a.bridge.published, a.bridge.received) == (4, 3)
    assert (b.bridge.published, b.bridge.received) == (2, 5)
    assert (c.bridge.published, c.bridge.received) == (1, 6)
    assert a.bridge.lost == b.bridge.missed == b.bridge.rejected == 0


async def test_a_sync_send_from_the_event_loops_thread_is_shared() -> None:
    url = memory_url()
    a, b = Peer(url), Peer(url)
    async with a.bridge, b.bridge:
        # Allowed with sync receivers only; the bridge never makes it wait.
        assert a.order_placed.send(None, origin="a", n=0) == [(a._on_order, "local")]
        await b.wait_orders(1)
    assert b.numbers("a") == [0]


async def test_a_sync_send_from_a_worker_thread_is_shared() -> None:
    url = memory_url()
    a, b = Peer(url), Peer(url)
    async with a.bridge, b.bridge:
        await anyio.to_thread.run_sync(
            lambda: a.order_placed.send(None, origin="a", n=0)
        )
        await anyio.to_thread.run_sync(
            lambda: a.order_placed.send_robust(None, origin="a", n=1)
        )
        await b.wait_orders(2)
    assert b.numbers("a") == [0, 1]


async def test_sends_outside_the_block_run_local_receivers_only() -> None:
    url = memory_url()
    a, b = Peer(url), Peer(url)
    await a.order_placed.asend(None, origin="a", n=0)  # before
    async with b.bridge:
        async with a.bridge:
            await a.order_placed.asend(None, origin="a", n=1)
            await b.wait_orders(1)
        await a.order_placed.asend(None, origin="a", n=2)  # after
        async with a.bridge:  # a bridge can run again
            await a.order_placed.asend(None, origin="a", n=3)
            await b.wait_orders(2)
    assert a.numbers("a") == [0, 1, 2, 3]
    assert b.numbers("a") == [1, 3]


async def test_a_send_cancelled_while_its_receivers_run_is_published_anyway() -> None:
    url = memory_url()
    a, b = Peer(url), Peer(url)
    started = anyio.Event()

    async def hangs(**kwargs: object) -> None:
        started.set()
        await anyio.sleep_forever()

    a.order_placed.connect(hangs)
    async with a.bridge, b.bridge:
        with anyio.move_on_after(0.05) as scope:
            await a.order_placed.asend(None, origin="a", n=0)
        assert scope.cancelled_caught
        assert started.is_set()
        await b.wait_orders(1)
    assert b.numbers("a") == [0]


async def test_sends_made_while_an_incoming_event_is_delivered_stay_local() -> None:
    # B bills every order it hears of: each process derives the invoice from
    # the order itself, so B must not publish it (A would get it twice).
    url = memory_url()
    a, b = Peer(url), Peer(url)

    async def bill(sender: object, origin: str, n: int, **kwargs: object) -> None:
        if origin == "a":
            await b.invoice_due.asend(None, origin=f"b for {origin}", n=n)

    b.order_placed.connect(bill)
    async with a.bridge, b.bridge:
        await a.order_placed.asend(None, origin="a", n=0)
        await b.wait_until(lambda: len(b.invoices) == 1)
        # A barrier from B: anything B published before would arrive first.
        await b.order_placed.asend(None, origin="b", n=0)
        await a.wait_until(lambda: bool(a.numbers("b")))
    assert b.invoices == [(None, {"origin": "b for a", "n": 0})]
    assert a.invoices == []
    assert b.bridge.published == 1  # the barrier only


async def test_incoming_events_keep_their_origins_order() -> None:
    url = memory_url()
    a, b, c = Peer(url), Peer(url), Peer(url)
    async with a.bridge, b.bridge, c.bridge:
        async with anyio.create_task_group() as group:
            for peer, origin in ((a, "a"), (b, "b")):
                group.start_soon(_send_many, peer, origin, 200)
        await c.wait_orders(400)
    assert c.numbers("a") == list(range(200))
    assert c.numbers("b") == list(range(200))


async def _send_many(peer: Peer, origin: str, count: int) -> None:
    for n in range(count):
        await peer.order_placed.asend(None, origin=origin, n=n)
        if n % 10 == 0:
            await anyio.lowlevel.checkpoint()  # interleave the two senders


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
        "(Shop) cannot cross: senders cross as None, a str, int, float or bool",
        id="instance sender",
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
    [record] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(record.getMessage()) < 600
    assert "...; it began" in record.getMessage()


# -- buffers -----------------------------------------------------------------------


async def test_a_full_outgoing_buffer_drops_the_oldest_events(
    anyio_backend: Any, caplog: pytest.LogCaptureFixture
) -> None:
    url = memory_url()
    a, b = Peer(url, max_buffer_bytes=4096, max_event_bytes=1024), Peer(url)
    a.order_placed.disconnect(a._on_order)
    count = 400
    async with a.bridge, b.bridge:
        # B learns A's sequence first, so that it sees the gaps.
        await a.order_placed.asend(None, origin="a", n=-1)
        await b.wait_orders(1)
        # No receiver suspends: on asyncio the publisher cannot run meanwhile.
        for n in range(count):
            await a.order_placed.asend(None, origin="a", n=n, pad="x" * 60)
        await b.wait_until(lambda: count - 1 in b.numbers("a"))
    received = b.numbers("a")
    assert received == sorted(received)  # the survivors, in order
    assert a.bridge.published + a.bridge.lost == count + 1
    assert len(received) == a.bridge.published
    assert b.bridge.missed == a.bridge.lost  # seen as gaps by the receiver
    if anyio_backend[0] == "asyncio":  # on trio a helper thread publishes
        assert a.bridge.lost > 0
        assert "the outgoing buffer is full (max_buffer_bytes=4096)" in caplog.text


async def test_a_full_incoming_buffer_drops_the_oldest_events(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = memory_url()
    a, b = Peer(url), Peer(url, max_buffer_bytes=2048, max_event_bytes=1024)

    async def slow(**kwargs: object) -> None:
        await anyio.sleep(0.002)

    b.order_placed.connect(slow)
    count = 200
    async with a.bridge, b.bridge:
        await a.order_placed.asend(None, origin="a", n=-1)
        await b.wait_orders(1)
        for n in range(count):
            await a.order_placed.asend(None, origin="a", n=n, pad="x" * 60)
        await b.wait_until(lambda: count - 1 in b.numbers("a"))
    received = b.numbers("a")
    assert received == sorted(received)
    assert b.bridge.received + b.bridge.missed == count + 1
    assert b.bridge.missed > 0
    assert "the incoming buffer is full (max_buffer_bytes=2048)" in caplog.text


# -- configuration ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"url": 6379}, TypeError, "url must be a str, got int 6379"),
        ({"url": "http://x"}, ValueError, "must start with one of redis://"),
        ({"url": "redis"}, ValueError, "got 'redis'"),
        (
            {"url": "redis://u:secret@x", "channel": ""},
            ValueError,
            "channel must be a non-empty str",
        ),
        ({"channel": "a b"}, ValueError, "without spaces"),
        ({"channel": "a.*"}, ValueError, "got 'a.*'"),
        ({"channel": 7}, ValueError, "got 7"),
        ({"max_event_bytes": 10}, ValueError, "max_event_bytes must be at least 64"),
        ({"max_event_bytes": 1.5}, TypeError, "max_event_bytes must be an int"),
        ({"max_event_bytes": True}, TypeError, "got bool True"),
        (
            {"max_event_bytes": 2048, "max_buffer_bytes": 1024},
            ValueError,
            "max_buffer_bytes must be at least 2,048, got 1,024",
        ),
        ({"timeout": 0}, ValueError, "timeout must be a positive number"),
        ({"timeout": float("inf")}, ValueError, "got inf"),
        ({"timeout": "5"}, ValueError, "got '5'"),
        ({"timeout": True}, ValueError, "got True"),
    ],
)
def test_bad_configuration_is_refused(
    arguments: dict[str, Any], error: type[Exception], message: str
) -> None:
    options = {"url": "memory://", **arguments}
    with pytest.raises(error, match=message.replace("*", r"\*")):
        Bridge(**options)


def test_the_password_of_a_url_never_shows() -> None:
    bridge = Bridge("redis://user:s3cret@127.0.0.1:6379/0")
    assert repr(bridge) == (
        "<Bridge redis://user:***@127.0.0.1:6379/0 channel='asyncsignal' "
        "not running, 0 shared signals>"
    )
    assert "s3cret" not in repr(Bridge("nats://:s3cret@host:4222"))
    with pytest.raises(ValueError, match="got 'http://user:\\*\\*\\*@x'") as raised:
        Bridge("http://user:s3cret@x")
    assert "s3cret" not in str(raised.value)
    assert "<a malformed URL>" in repr(Bridge("redis://[::1"))


@pytest.mark.parametrize(
    "url",
    [
        "user:s3cret@host",  # no scheme
        "s3cret?x",
        "redis://127.0.0.1:1/s3cret@host",  # "/" in a password, a numeric start
        "redis://host:1?s3cret",  # a query that is not name=value pairs
        "redis://host:1?x=1&s3cret",
        "redis://user:s3cret\n@host",
    ],
)
def test_a_url_that_cannot_be_read_unambiguously_is_never_shown(url: str) -> None:
    if "://" in url:
        assert repr(Bridge(url)).startswith("<Bridge <a malformed URL> channel=")
    else:
        with pytest.raises(ValueError, match="got '<a malformed URL>'"):
            Bridge(url)
    public = PublicUrl(url)
    # Nor are the client's errors: they may echo what it took for a port.
    assert public.describe(ValueError("port 's3cret'")) == "ValueError"


def test_errors_are_described_without_the_credentials_of_the_url() -> None:
    public = PublicUrl("redis://user:s3cret@host:1/0?db=2&token=t%2Bk&timeout=1.5")
    assert public.text == "redis://user:***@host:1/0?db=2&token=***&timeout=1.5"
    assert public.describe(OSError("s3cret t+k t%2Bk")) == "OSError: *** *** ***"
    assert public.describe(TimeoutError()) == "TimeoutError"
    assert str(public) == public.text
    assert PublicUrl("memory://").text == "memory://"
    assert PublicUrl("redis").text == "redis"


def test_share_checks_its_signals() -> None:
    bridge = Bridge("memory://")
    first, same_name = AsyncSignal(name="x"), AsyncSignal(name="x")
    bridge.share(first)
    bridge.share(first)  # again: nothing happens
    with pytest.raises(ValueError, match="shares another signal named 'x' already"):
        bridge.share(AsyncSignal(name="y"), same_name)
    with pytest.raises(ValueError, match="needs signals with a name"):
        bridge.share(AsyncSignal())
    with pytest.raises(TypeError, match="share\\(\\) takes signals, got str 'x'"):
        bridge.share("x")  # type: ignore[arg-type]
    # Other processes would refuse its events: refused here first.
    with pytest.raises(ValueError, match="named in at most 256 characters, got"):
        bridge.share(AsyncSignal(name="n" * 257))
    # Nothing was shared by the refused calls.
    assert repr(bridge).endswith("1 shared signals>")


async def test_a_signal_is_shared_by_one_running_bridge_at_a_time() -> None:
    signal = AsyncSignal(name="x")
    first, second = Bridge(memory_url()), Bridge(memory_url())
    first.share(signal)
    second.share(signal)
    async with first:
        with pytest.raises(RuntimeError, match="is shared by <Bridge memory://"):
            async with second:
                pass  # pragma: no cover
        assert repr(second).endswith("not running, 1 shared signals>")
        late = Bridge(memory_url())
        async with late:
            with pytest.raises(RuntimeError, match="one running bridge at a time"):
                late.share(signal)
    async with second:  # the first one stopped sharing it
        pass


async def test_a_signal_shared_while_the_bridge_runs_is_shared_at_once() -> None:
    url = memory_url()
    a, b = Peer(url), Peer(url)
    late_a, late_b = AsyncSignal(name="late"), AsyncSignal(name="late")
    got: list[int] = []
    late_b.connect(lambda n, **kwargs: got.append(n), weak=False)
    async with a.bridge, b.bridge:
        a.bridge.share(late_a)
        b.bridge.share(late_b)
        await late_a.asend(None, n=1)
        await eventually(lambda: got == [1], "the late signal")


async def test_capture_and_subscriptions_see_the_sends_of_a_shared_signal() -> None:
    url = memory_url()
    a, b = Peer(url), Peer(url)
    with capture(a.order_placed) as captured:
        async with a.order_placed.subscribe() as events, a.bridge, b.bridge:
            await a.order_placed.asend(None, origin="a", n=0)
            await b.wait_orders(1)
            event = await events.__anext__()
    assert event.kwargs == {"origin": "a", "n": 0}
    assert [e.kwargs for e in captured] == [{"origin": "a", "n": 0}]


async def test_events_from_other_processes_reach_subscriptions_too() -> None:
    # What a server-sent-events endpoint iterates, in every worker.
    url = memory_url()
    a, b = Peer(url), Peer(url)
    async with a.bridge, b.bridge, b.order_placed.subscribe() as events:
        await a.order_placed.asend(None, origin="a", n=0)
        with anyio.fail_after(20):
            event = await events.__anext__()
    assert event.signal is b.order_placed
    assert (event.sender, dict(event.kwargs)) == (None, {"origin": "a", "n": 0})
    assert b.bridge.published == 0  # delivered, not published again


async def test_an_idle_bridge_checks_its_connection_and_stays_connected() -> None:
    url = memory_url()
    a, b = Peer(url, timeout=0.01), Peer(url, timeout=0.01)
    async with a.bridge, b.bridge:
        await anyio.sleep(0.1)  # several checks
        await a.order_placed.asend(None, origin="a", n=0)
        await b.wait_orders(1)
        assert a.bridge.connected


async def test_a_bridge_entered_in_a_cancelled_scope_leaves_nothing_behind() -> None:
    a = Peer(memory_url())
    with anyio.CancelScope() as scope:
        scope.cancel()
        async with a.bridge:
            # Reached where nothing in entering waited (asyncio+eager: the
            # memory broker connects without suspending).
            await anyio.lowlevel.checkpoint()
    assert scope.cancelled_caught
    assert not a.order_placed._subscriptions
    assert repr(a.bridge).endswith("not running, 2 shared signals>")
    async with a.bridge:  # and it can start afterwards
        assert a.bridge.connected


async def test_a_bridge_cannot_run_twice_at_once() -> None:
    bridge = Bridge(memory_url())
    async with bridge:
        assert repr(bridge).endswith("connected, 0 shared signals>")
        with pytest.raises(RuntimeError, match="is running already"):
            await bridge.__aenter__()


async def test_two_tasks_entering_one_bridge_at_once_only_one_enters() -> None:
    url = memory_url()
    a, b = Peer(url), Peer(url)
    refused: list[RuntimeError] = []
    entered = anyio.Event()
    leave = anyio.Event()

    async def enter() -> None:
        try:
            async with a.bridge:
                entered.set()
                await leave.wait()
        except RuntimeError as error:
            refused.append(error)

    async with b.bridge:
        with anyio.fail_after(DEADLINE):
            async with anyio.create_task_group() as group:
                group.start_soon(enter)
                group.start_soon(enter)
                await entered.wait()
                await eventually(lambda: bool(refused), "the second entry")
                await b.order_placed.asend(None, origin="b", n=0)
                await a.wait_orders(1)
                # A barrier: a duplicate of the first would arrive before it.
                await b.order_placed.asend(None, origin="b", n=1)
                await a.wait_orders(2)
                leave.set()
        # Only b's own session is left on the hub: nothing of a outlives it.
        assert len(_HUBS[url]) == 1
    [error] = refused
    assert "is running already" in str(error)
    assert a.numbers("b") == [0, 1]
    assert repr(a.bridge).endswith("not running, 2 shared signals>")
    async with a.bridge:  # and it can run again
        assert a.bridge.connected


async def test_wait_connected_returns_at_once_and_only_while_running() -> None:
    bridge = Bridge(memory_url())
    with pytest.raises(RuntimeError, match="is not running: wait_connected"):
        await bridge.wait_connected()
    async with bridge:
        with anyio.fail_after(DEADLINE):
            await bridge.wait_connected()
            await bridge.wait_connected()
        assert bridge.connected
    with pytest.raises(RuntimeError, match="is not running: wait_connected"):
        await bridge.wait_connected()
