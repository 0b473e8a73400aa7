"""What a hostile publisher on the broker, or a hostile receiver, does to a
bridge over real Redis and NATS servers: one bad message is rejected and
counted, and the next event is delivered; nothing leaves a bridge that says
it is connected but delivers nothing."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
import pytest
from bridge_support.peers import Peer, eventually
from bridge_support.raw import envelope, origin_id, publish_raw

from asyncsignal.bridge._envelope import Wire
from asyncsignal.bridge._signing import keys_of

if TYPE_CHECKING:
    from bridge_support.servers import Server

pytest_plugins = ["bridge_support.fixtures"]


def deep(depth: int) -> bytes:
    """An envelope whose payload nests ``depth`` lists (about 2 bytes each)."""
    lists = "[" * depth + "]" * depth
    return envelope("deep", 1).replace(b'"n": 1}', b'"n": %s}' % lists.encode())


async def publish(server: Server, *messages: bytes) -> None:
    await anyio.to_thread.run_sync(publish_raw, server, list(messages))


async def test_a_deeply_nested_message_is_rejected_and_delivery_goes_on(
    broker: Server, caplog: pytest.LogCaptureFixture
) -> None:
    b = Peer(broker.url)
    async with b.bridge:
        # 5,000 deep made json.loads raise RecursionError in the dispatcher.
        await publish(broker, deep(5000), envelope("x", 1))
        await b.wait_orders(1)
        assert b.bridge.connected
    assert json.loads(deep(3))["kwargs"]["n"] == [[[]]]
    assert b.numbers("x") == [1]
    assert b.bridge.rejected == 1
    assert "nests arrays and objects over 32 levels deep" in caplog.text


async def test_hostile_fields_are_rejected_before_they_cost_memory(
    broker: Server, caplog: pytest.LogCaptureFixture
) -> None:
    b = Peer(broker.url, max_event_bytes=64 * 1024)
    huge = envelope("x", 1, signal="elsewhere", kwargs={"pad": "x" * 300_000})
    hostile = [
        huge,  # was decoded at any size, even for a signal not shared here
        envelope("x", 2, origin="o" * 50_000),  # was kept in the origin table
        envelope("x", 3, origin="X" * 32),
        envelope("x", 4, seq=10**300),  # made `missed` 10**300 - 1
        envelope("x", 5, v=True),  # passed as version 1
        envelope("x", 6, signal="s" * 1000),
    ]
    with caplog.at_level(logging.DEBUG, "asyncsignal.bridge"):
        async with b.bridge:
            await publish(broker, *hostile, envelope("x", 7))
            await b.wait_orders(1)
    assert b.numbers("x") == [7]
    assert b.bridge.rejected == len(hostile)
    assert b.bridge.missed == 0
    for reason in (
        "bytes long, over max_event_bytes=65,536",
        "its origin 'ooooooooo",
        "is not 32 hex digits",
        "its seq 1000000000",
        "its format version is True",
        "its signal name is over 256 characters",
    ):
        assert reason in caplog.text
    # Logs show a bounded part of what arrived.
    assert max(map(len, caplog.messages)) < 1000


async def test_a_replayed_or_repeated_event_is_delivered_once(
    broker: Server,
) -> None:
    b = Peer(broker.url)
    async with b.bridge:
        await publish(broker, envelope("x", 1), envelope("x", 1), envelope("x", 2))
        await b.wait_orders(2)
        await eventually(lambda: b.bridge.rejected == 1, "the repeat rejected")
    assert b.numbers("x") == [1, 2]


async def test_signed_bridges_accept_only_events_signed_with_their_secret(
    broker: Server, caplog: pytest.LogCaptureFixture
) -> None:
    a = Peer(broker.url, secret=["k2", b"k1"])
    b = Peer(broker.url, secret=[b"k1", "k2"])  # rotating: verifies both
    forger = Wire(origin_id("forged"), 256 * 1024, keys_of("guessed"))
    legit = Wire(origin_id("m"), 256 * 1024, keys_of("k1"))
    captured = legit.finish(legit.encode("order_placed", None, {"origin": "m"}), 1)
    with caplog.at_level(logging.DEBUG, "asyncsignal.bridge"):
        async with a.bridge, b.bridge:
            await a.order_placed.asend(None, origin="a", n=0)
            await b.wait_until(lambda: bool(b.numbers("a")))
            await publish(
                broker,
                envelope("forged", 1),  # unsigned
                forger.finish(forger.encode("order_placed", None, {"n": 2}), 1),
                captured,
                captured,  # replayed
            )
            await b.wait_until(lambda: any(k["origin"] == "m" for _, k in b.orders))
            await eventually(lambda: b.bridge.rejected == 3, "three rejections")
            await a.order_placed.asend(None, origin="a", n=1)
            await b.wait_until(lambda: b.numbers("a") == [0, 1])
    assert [k["origin"] for _, k in b.orders] == ["a", "m", "a"]
    assert a.bridge.rejected == 3  # the same three reached it
    text = caplog.text
    assert "it is not signed" in text
    assert "its signature is not valid for this bridge's secret" in text
    assert "its origin sent seq 1 already: a repeat or a replay" in text
    for secret in ("k1", "k2"):
        assert f"'{secret}'" not in text
        assert secret not in repr(a.bridge)


async def test_an_unsigned_bridge_cannot_talk_to_a_signed_one(broker: Server) -> None:
    a, b = Peer(broker.url), Peer(broker.url, secret="k")
    async with a.bridge, b.bridge:
        await a.order_placed.asend(None, origin="a", n=0)
        await eventually(lambda: b.bridge.rejected == 1, "the unsigned event")
        await b.order_placed.asend(None, origin="b", n=0)
        await a.wait_until(lambda: a.numbers("b") == [0])  # signed reads as JSON
    assert b.numbers("a") == []


# -- receivers of incoming events that raise BaseException ---------------------------


@pytest.mark.parametrize("error", [KeyboardInterrupt, SystemExit])
async def test_an_interrupt_from_an_incoming_events_receiver_ends_the_block(
    broker: Server, error: type[BaseException]
) -> None:
    a, b = Peer(broker.url), Peer(broker.url)

    def interrupt(sender: object, **kwargs: Any) -> None:
        if kwargs.get("n") == 1:
            raise error("from a receiver")

    b.order_placed.connect(interrupt, weak=False)
    after_block: list[str] = []

    async def run_b() -> None:
        async with b.bridge:
            await a.order_placed.asend(None, origin="a", n=0)
            await b.wait_orders(1)
            await a.order_placed.asend(None, origin="a", n=1)
            with anyio.fail_after(20):
                await anyio.sleep_forever()
            after_block.append("never")

    async with a.bridge:
        with pytest.raises(error, match="from a receiver"):
            await run_b()
        assert not b.bridge.connected
    assert after_block == []
    assert b.numbers("a") == [0, 1]
    # It ran again (and returned) as a local send would.
    with anyio.fail_after(20):
        async with b.bridge:
            assert b.bridge.connected


async def test_other_base_exceptions_from_receivers_are_logged_and_delivery_goes_on(
    broker: Server, caplog: pytest.LogCaptureFixture
) -> None:
    class Custom(BaseException):
        pass

    a, b = Peer(broker.url), Peer(broker.url)
    raised = [GeneratorExit("odd"), Custom("odder")]

    def misbehave(sender: object, **kwargs: Any) -> None:
        if raised and kwargs.get("n", 0) < 2:
            raise raised.pop(0)

    b.order_placed.connect(misbehave, weak=False)
    async with a.bridge, b.bridge:
        for n in range(3):
            await a.order_placed.asend(None, origin="a", n=n)
        await b.wait_orders(3)
        assert b.bridge.connected
    assert b.numbers("a") == [0, 1, 2]
    assert "a receiver of an incoming event raised GeneratorExit" in caplog.text
    assert "a receiver of an incoming event raised Custom" in caplog.text


async def test_base_exceptions_of_concurrent_receivers_are_logged_together(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Several async receivers raising at once propagate from asend_robust as
    a group; one without an interrupt in it is logged, and delivery goes on."""
    import uuid

    class Custom(BaseException):
        pass

    url = f"memory://{uuid.uuid4().hex}"
    a, b = Peer(url), Peer(url)
    failing = [True]

    async def misbehave(sender: object, **kwargs: Any) -> None:
        if failing[0]:
            raise Custom("odd")

    async def misbehave_too(sender: object, **kwargs: Any) -> None:
        if failing[0]:
            raise Custom("odder")

    b.order_placed.connect(misbehave, weak=False)
    b.order_placed.connect(misbehave_too, weak=False)
    async with a.bridge, b.bridge:
        await a.order_placed.asend(None, origin="a", n=0)
        await b.wait_orders(1)
        await eventually(lambda: "raised" in caplog.text, "the error logged")
        failing[0] = False
        await a.order_placed.asend(None, origin="a", n=1)
        await b.wait_orders(2)
        assert b.bridge.connected
    assert "a receiver of an incoming event raised" in caplog.text
