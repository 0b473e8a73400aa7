"""asyncsignal.bridge over real Redis and NATS servers: delivery and echo,
what arrives malformed, and brokers that are unreachable, die or hang."""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest
from bridge_support.peers import DEADLINE, Peer, eventually
from bridge_support.raw import envelope, publish_raw
from bridge_support.servers import DroppingServer, Server
from support.backends import ASYNCIO_BACKENDS, BACKENDS_WITHOUT_EAGER

from asyncsignal import AsyncSignal
from asyncsignal._backends import asyncio_running
from asyncsignal.bridge import Bridge

if TYPE_CHECKING:
    from pathlib import Path

pytest_plugins = ["bridge_support.fixtures"]


async def test_events_cross_and_a_process_never_gets_its_own_back(
    broker: Server,
) -> None:
    # Redis echoes a subscriber's own publications; NATS is asked not to (and
    # the origin check would drop them anyway).
    a, b = Peer(broker.url), Peer(broker.url)
    async with a.bridge, b.bridge:
        assert a.bridge.connected
        assert b.bridge.connected
        for n in range(3):
            await a.order_placed.asend(None, origin="a", n=n)
        await b.order_placed.asend(None, origin="b", n=0)
        await b.wait_orders(4)
        await a.wait_until(lambda: bool(a.numbers("b")))
        # A burst: published in batches.
        for n in range(3, 100):
            await a.order_placed.asend(None, origin="a", n=n)
        await b.wait_orders(101)
    assert a.numbers("a") == b.numbers("a") == list(range(100))
    assert (a.bridge.published, a.bridge.received) == (100, 1)
    assert (b.bridge.published, b.bridge.received) == (1, 100)
    assert a.bridge.lost == b.bridge.missed == b.bridge.rejected == 0


@pytest.mark.parametrize("protocol", ["2", "3"])
async def test_redis_urls_choosing_either_protocol_carry_events(
    redis_server: Server, protocol: str
) -> None:
    # The bridge asks for RESP2; a URL's ?protocol= wins over it.
    url = f"{redis_server.url}?protocol={protocol}"
    a, b = Peer(url), Peer(url)
    async with a.bridge, b.bridge:
        for n in range(3):
            await a.order_placed.asend(None, origin="a", n=n)
        await b.wait_orders(3)
    assert b.numbers("a") == [0, 1, 2]
    assert b.bridge.rejected == 0


async def test_malformed_messages_are_rejected_and_logged(
    broker: Server, caplog: pytest.LogCaptureFixture
) -> None:
    b = Peer(broker.url)
    shop_ref = {"$ref": "nowhere:Shop"}
    malformed = [
        b"not json",
        b"\xff\xfe",
        b"[1, 2]",
        b'{"v": 1} and more',
        b'{"v": 2, "origin": "x"}',
        envelope("x", 1, seq="1"),
        envelope("x", 2, kwargs=[]),
        envelope("x", 3, kwargs={"signal": 1}),
        envelope("x", 4, sender=[1]),
        envelope("x", 5, sender={"$ref": 1}),
        envelope("x", 6, sender={**shop_ref, "extra": 1}),
    ]
    missing = b'{"v": 1, "origin": "x", "seq": 7}'
    elsewhere = envelope("x", 8, signal="not_shared_here")
    with caplog.at_level(logging.DEBUG, "asyncsignal.bridge"):
        async with b.bridge:
            await anyio.to_thread.run_sync(
                publish_raw,
                broker,
                [*malformed, missing, elsewhere, envelope("x", 9, sender=shop_ref)],
            )
            await b.wait_orders(1)
    [(sender, kwargs)] = b.orders
    assert repr(sender) == "RemoteSender('nowhere:Shop')"
    assert kwargs == {"origin": "x", "n": 9}
    assert b.bridge.rejected == len(malformed) + 1
    assert b.bridge.received == 1
    # Seen: 4, 5, 6 (rejected later), 8 (another signal), 9; 7 did not decode.
    assert b.bridge.missed == 1
    text = caplog.text
    for reason in (
        "it is not JSON: Expecting value",
        "it is not JSON: 'utf-8' codec can't decode",
        "it is not a JSON object",
        "it has data after its JSON document: ' and more'",
        "its format version is 2; this process reads version 1",
        "its fields have the wrong types or names",
        "its sender is a JSON array",
        "its sender {'$ref': 1} is not a sender reference",
        "it has no 'signal' field",
    ):
        assert reason in text
    # Warnings are rate-limited (one per 5 s: fewer than the rejections on a
    # loaded machine too); each rejection is logged at debug level.
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and "incoming message(s)" in r.getMessage()
    ]
    assert 1 <= len(warnings) < b.bridge.rejected
    assert warnings[0].startswith(
        f"bridge {broker.url} rejected 1 incoming message(s); the last because "
        "it is not JSON: Expecting value"
    )
    assert "it began b'not json'" in warnings[0]


async def test_gaps_in_an_origins_sequence_are_counted_as_missed(
    broker: Server,
) -> None:
    b = Peer(broker.url)
    async with b.bridge:
        await anyio.to_thread.run_sync(
            publish_raw,
            broker,
            [envelope("x", 1), envelope("x", 2), envelope("x", 6), envelope("x", 4)],
        )
        await b.wait_orders(3)
        # 4 came after 6: never delivered, as a repeat would not be.
        await eventually(lambda: b.bridge.rejected == 1, "the late event rejected")
    assert b.numbers("x") == [1, 2, 6]
    assert b.bridge.missed == 3  # 3, 4 and 5 missing after 2


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.parametrize("scheme", ["redis", "nats"])
async def test_a_bridge_that_cannot_reach_its_broker_still_lets_sends_run_locally(
    scheme: str, caplog: pytest.LogCaptureFixture
) -> None:
    a = Peer(f"{scheme}://127.0.0.1:{_closed_port()}", timeout=2.0)
    announced: list[dict[str, Any]] = []
    a.bridge.disconnected.connect(
        lambda sender, **kwargs: announced.append({"sender": sender, **kwargs}),
        weak=False,
    )
    started = time.monotonic()
    async with a.bridge:
        assert time.monotonic() - started < DEADLINE
        assert not a.bridge.connected
        assert repr(a.bridge).endswith("disconnected, 2 shared signals>")
        for n in range(3):
            assert await a.order_placed.asend(None, origin="a", n=n) == [
                (a._on_order, "local")
            ]
        await eventually(lambda: bool(announced), "the disconnected announcement")
    assert a.numbers("a") == [0, 1, 2]
    assert (a.bridge.published, a.bridge.lost) == (0, 3)
    [announcement] = announced
    assert announcement["sender"] is a.bridge
    assert isinstance(announcement["error"], Exception)
    assert "cannot reach the broker" in caplog.text
    assert caplog.text.count("the broker is unreachable: sends of shared signals") == 1


@pytest.mark.parametrize("scheme", ["redis", "nats"])
async def test_the_bridge_keeps_retrying_a_broker_that_drops_every_connection(
    scheme: str,
) -> None:
    with DroppingServer() as server:
        a = Peer(f"{scheme}://127.0.0.1:{server.port}", timeout=2.0)
        async with a.bridge:
            assert not a.bridge.connected
            # 50 ms, then 100, 200: retries back off.
            await eventually(lambda: server.attempts >= 4, "four attempts")
            await a.order_placed.asend(None, origin="a", n=0)
    assert (a.bridge.published, a.bridge.lost) == (0, 1)
    assert a.numbers("a") == [0]


async def test_a_nats_server_refusing_events_of_max_event_bytes_is_reported(
    nats_server: Server,
) -> None:
    bridge = Bridge(
        nats_server.url,
        max_event_bytes=2 * 1024 * 1024,
        max_buffer_bytes=4 * 1024 * 1024,
    )
    errors: list[BaseException] = []
    bridge.disconnected.connect(
        lambda error, **kwargs: errors.append(error), weak=False
    )
    async with bridge:
        assert not bridge.connected
        await eventually(lambda: bool(errors), "the disconnected announcement")
    assert "accepts messages of up to 1,048,576 bytes (its max_payload)" in str(
        errors[0]
    )


#: Heavy tests skip the eager variant (it changes how the suite's own tasks
#: start, not the bridge's).
heavy = pytest.mark.parametrize("anyio_backend", BACKENDS_WITHOUT_EAGER)


@pytest.mark.parametrize("anyio_backend", ASYNCIO_BACKENDS)
async def test_an_error_escaping_a_nats_client_task_ends_the_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """nats-py closes a lost connection from its reader task; an error raised
    meanwhile (seen: writing to the dead socket) escapes that task, which
    nothing of nats-py awaits. It must end the session (the bridge then
    reconnects), not be reported by asyncio as never retrieved."""
    from asyncsignal.bridge._transports.nats import NatsBroker

    server = Server("nats", tmp_path)
    server.start()
    try:
        session = await NatsBroker(server.url, "t", 5.0, 1024).connect(
            lambda data: False
        )
        failure = ConnectionError("flushing to the dead socket failed")

        async def fail_while_closing(error: Exception) -> None:
            raise failure

        monkeypatch.setattr(session._client, "_process_op_err", fail_while_closing)
        server.kill()
        with anyio.fail_after(DEADLINE), pytest.raises(ConnectionError) as ended:
            await session.receive()
        assert repr(failure) in str(ended.value)
        await session.aclose()
    finally:
        server.stop()


@pytest.mark.parametrize("anyio_backend", ASYNCIO_BACKENDS)
async def test_a_session_publishes_batches_whole_and_in_order(broker: Server) -> None:
    """The sessions pack a batch's commands themselves (RESP's PUBLISH, NATS's
    PUB): every message arrives whole, in order, whatever bytes it holds."""
    from asyncsignal.bridge._transports import make_broker

    received: list[bytes] = []
    arrived = anyio.Event()
    batches = [[b"%d" % n + b"x" * n for n in range(k, k + 100)] for k in (0, 100)]
    batches.append([b""])  # an empty message is a message too
    # The protocols' own delimiters inside messages: no injection.
    batches.append([b"\r\nPUB t 1\r\n*3\r\n$7\r\nPUBLISH\r\n\xff"] * 99)
    expected = [message for batch in batches for message in batch]

    def deliver(messages: list[bytes]) -> bool:
        received.extend(messages)
        if len(received) == len(expected):
            arrived.set()
        return False

    url, channel = broker.url, "batches-in-order"
    listener = await make_broker(url, channel, 5.0, 1024).connect(deliver)
    sender = await make_broker(url, channel, 5.0, 1024).connect(lambda data: False)
    if url.startswith("nats"):  # the bridge's own reader reads them
        from asyncsignal.bridge._transports.nats_parser import MessageParser

        assert type(listener._client._ps) is MessageParser  # type: ignore[attr-defined]
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(listener.receive)  # Redis's reader (NATS's: its own)
            for batch in batches:
                await sender.publish(batch)
            with anyio.fail_after(DEADLINE):
                await arrived.wait()
            group.cancel_scope.cancel()
        assert received == expected
    finally:
        await sender.aclose()
        await listener.aclose()


def test_the_nats_internals_for_batch_publishing_are_found() -> None:
    """Fails on a nats-py without them: the sessions would then publish each
    message through the public publish(), correct but slower."""
    import nats.aio.client

    from asyncsignal.bridge._transports.nats import BATCH_INTERNALS, batches_writes

    client = nats.aio.client.Client()
    assert batches_writes(client), [
        name for name in BATCH_INTERNALS if not hasattr(client, name)
    ]


@pytest.mark.parametrize("anyio_backend", ASYNCIO_BACKENDS)
async def test_without_the_internals_a_nats_session_publishes_each_message(
    nats_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """And nats-py's own parser reads them."""
    import nats.protocol.parser

    from asyncsignal.bridge._transports import nats as transport

    monkeypatch.setattr(transport, "BATCH_INTERNALS", ("_not_in_any_nats_py",))
    monkeypatch.setattr(transport, "parses_messages", lambda client: False)
    received: list[bytes] = []
    arrived = anyio.Event()
    expected = [b"one", b"", b"three\r\nPUB x 1\r\n"]

    def deliver(messages: list[bytes]) -> bool:
        received.extend(messages)
        if len(received) == len(expected):
            arrived.set()
        return len(received) == 1  # as if it woke the dispatcher: a yield

    url = nats_server.url
    listener = await transport.NatsBroker(url, "t", 5.0, 1024).connect(deliver)
    sender = await transport.NatsBroker(url, "t", 5.0, 1024).connect(lambda data: False)
    try:
        assert type(listener._client._ps) is nats.protocol.parser.Parser
        await sender.publish(expected)
        with anyio.fail_after(DEADLINE):
            await arrived.wait()
        assert received == expected
    finally:
        await sender.aclose()
        await listener.aclose()


@pytest.mark.parametrize("anyio_backend", ASYNCIO_BACKENDS)
async def test_a_closed_nats_session_refuses_to_publish(nats_server: Server) -> None:
    """Publishing on a closed client raises (the session then ends and the
    batch counts as lost) instead of queueing into a dead client."""
    import nats.errors

    from asyncsignal.bridge._transports.nats import NatsBroker

    session = await NatsBroker(nats_server.url, "t", 5.0, 1024).connect(
        lambda data: False
    )
    await session.aclose()
    with pytest.raises(nats.errors.ConnectionClosedError):
        await session.publish([b"late"])


@heavy
async def test_a_broker_killed_and_restarted_mid_stream(
    own_broker: Server, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = Peer(own_broker.url), Peer(own_broker.url)
    changes: dict[str, list[tuple[str, dict[str, Any]]]] = {"a": [], "b": []}
    for name, peer in (("a", a), ("b", b)):
        for which in ("disconnected", "reconnected"):
            getattr(peer.bridge, which).connect(
                lambda sender, _n=name, _w=which, **kwargs: changes[_n].append(
                    (_w, kwargs)
                ),
                weak=False,
            )
    sent = 0
    slowest = 0.0

    async def send_one() -> None:
        nonlocal sent, slowest
        began = time.perf_counter()
        await a.order_placed.asend(None, origin="a", n=sent)
        slowest = max(slowest, time.perf_counter() - began)
        sent += 1
        await anyio.sleep(0.002)

    async def stream_until(condition: Any, what: str) -> None:
        deadline = time.monotonic() + DEADLINE
        while not condition():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            await send_one()

    async with a.bridge, b.bridge:
        await stream_until(lambda: len(b.orders) >= 5, "events before the kill")
        own_broker.kill()
        await stream_until(
            lambda: len(changes["a"]) == len(changes["b"]) == 1, "disconnections"
        )
        await stream_until(lambda: a.bridge.lost >= 3, "losses during the outage")
        own_broker.start()
        await stream_until(
            lambda: len(changes["a"]) == len(changes["b"]) == 2, "reconnections"
        )
        resumed_at = sent
        await stream_until(
            lambda: any(n >= resumed_at for n in b.numbers("a")), "events after"
        )
    # Local delivery never stopped, and sends never waited for the broker.
    assert a.numbers("a") == list(range(sent))
    assert slowest < 0.5
    for name in ("a", "b"):
        (down, error), (up, recovery) = changes[name]
        assert (down, up) == ("disconnected", "reconnected")
        assert isinstance(error["error"], Exception)
        assert recovery["downtime"] > 0
    assert changes["a"][1][1]["lost"] >= 3
    received = b.numbers("a")
    assert received == sorted(set(received))  # in order, none twice
    assert a.bridge.published + a.bridge.lost == sent
    assert b.bridge.missed >= 3
    assert "lost the broker" in caplog.text
    assert "reconnected after" in caplog.text


@heavy
async def test_a_hung_broker_is_noticed_and_never_holds_up_sends_or_exit(
    own_broker: Server,
) -> None:
    a, b = Peer(own_broker.url, timeout=0.5), Peer(own_broker.url, timeout=0.5)
    down: list[BaseException] = []
    a.bridge.disconnected.connect(
        lambda error, **kwargs: down.append(error), weak=False
    )
    try:
        async with a.bridge, b.bridge:
            # On a loaded machine a first attempt may exceed 0.5 s: they retry.
            await eventually(
                lambda: a.bridge.connected and b.bridge.connected, "connections"
            )
            await a.reach(b)
            down.clear()
            # Every probe handed over or lost (an acknowledgement may still be
            # on its way when the other side has the probe already).
            await eventually(
                lambda: a.bridge.published + a.bridge.lost == len(a.numbers("probe")),
                "the probes to be acknowledged",
            )
            sent_before = a.bridge.published + a.bridge.lost
            own_broker.pause()
            slowest = 0.0
            for n in range(200):
                began = time.perf_counter()
                await a.order_placed.asend(None, origin="a", n=n)
                slowest = max(slowest, time.perf_counter() - began)
            # Publishing stalls; the heartbeat gives up after two timeouts.
            await eventually(lambda: bool(down), "the hang to be noticed")
            assert not a.bridge.connected
            exit_began = time.monotonic()
        # Closing connections to a hung broker is bounded too.
        assert time.monotonic() - exit_began < DEADLINE
    finally:
        own_broker.resume()
    assert slowest < 0.5
    assert a.numbers("a") == list(range(200))
    assert a.bridge.published + a.bridge.lost - sent_before == 200


@heavy
async def test_leaving_the_block_while_a_hung_broker_holds_a_publish_is_bounded(
    own_broker: Server,
) -> None:
    a = Peer(own_broker.url, timeout=0.5)
    try:
        async with a.bridge:
            await eventually(lambda: a.bridge.connected, "a connection")
            own_broker.pause()
            for n in range(50):
                await a.order_placed.asend(None, origin="a", n=n)
            began = time.monotonic()
            # Leaving waits (at most `timeout`) for the publisher, which waits
            # for the broker (Redis; nats-py buffers) until that fails.
        took = time.monotonic() - began
    finally:
        own_broker.resume()
    assert took < DEADLINE
    assert a.bridge.published + a.bridge.lost == 50
    assert a.numbers("a") == list(range(50))


@heavy
async def test_a_bridge_cancelled_during_a_burst_counts_what_it_did_not_publish(
    broker: Server,
) -> None:
    a, b = Peer(broker.url), Peer(broker.url)
    sent = 0
    async with b.bridge:
        with anyio.CancelScope() as scope:
            async with a.bridge:
                for n in range(2000):
                    await a.order_placed.asend(None, origin="a", n=n)
                    sent += 1
                    if n == 1000:
                        scope.cancel()  # takes effect at the next checkpoint
                await anyio.lowlevel.checkpoint()
        assert scope.cancelled_caught
        assert a.bridge.published + a.bridge.lost == sent
        # A batch cut short counts as lost, but may have reached the broker:
        # at most once. A last event, from the same bridge run again, comes
        # after all of them.
        async with a.bridge:
            await a.order_placed.asend(None, origin="a", n=-1)
            await b.wait_until(lambda: -1 in b.numbers("a"))
    received = b.numbers("a")[:-1]
    assert received == list(range(len(received)))
    assert a.bridge.published - 1 <= len(received) <= sent


@pytest.mark.parametrize(
    ("url", "module", "client"),
    [
        ("redis://127.0.0.1", "redis", "redis-py"),
        ("nats://127.0.0.1", "nats", "nats-py"),
    ],
)
async def test_a_missing_client_library_fails_at_async_with(
    url: str, module: str, client: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As if the extra were not installed: importing the client fails.
    monkeypatch.setitem(sys.modules, module, None)
    monkeypatch.delitem(
        sys.modules, f"asyncsignal.bridge._transports.{module}", raising=False
    )
    signal = AsyncSignal(name="x")
    bridge = Bridge(url)
    bridge.share(signal)
    with pytest.raises(ImportError) as raised:
        async with bridge:
            pass  # pragma: no cover
    assert str(raised.value) == (
        f"Bridge({url!r}) needs {client}; install it with "
        f"pip install 'asyncsignal[{module}]'"
    )
    assert not signal._subscriptions


@pytest.mark.parametrize("scheme", ["redis", "nats"])
async def test_a_refusing_broker_is_announced_as_a_builtin_connection_error(
    scheme: str,
) -> None:
    bridge = Bridge(f"{scheme}://127.0.0.1:{_closed_port()}", timeout=2.0)
    errors: list[BaseException] = []
    announced = anyio.Event()

    def on_disconnected(error: BaseException, **kwargs: object) -> None:
        errors.append(error)
        announced.set()

    bridge.disconnected.connect(on_disconnected, weak=False)
    async with bridge:
        with anyio.fail_after(DEADLINE):
            await announced.wait()
        # Waiting for the connection can be given up while the broker is down.
        with anyio.move_on_after(0.2) as waited:
            await bridge.wait_connected()
        assert waited.cancelled_caught
        assert not bridge.connected
    error = errors[0]
    assert isinstance(error, ConnectionError)
    assert "cannot reach the broker" in str(error)
    if scheme == "redis":
        import redis.exceptions

        assert isinstance(error.__cause__, redis.exceptions.ConnectionError)
    else:
        assert isinstance(error.__cause__, ConnectionRefusedError)


async def test_wait_connected_ends_with_runtimeerror_when_the_bridge_stops() -> None:
    bridge = Bridge(f"redis://127.0.0.1:{_closed_port()}", timeout=2.0)
    outcome: list[BaseException] = []
    waiting = anyio.Event()

    async def wait() -> None:
        waiting.set()
        try:
            await bridge.wait_connected()
        except RuntimeError as error:
            outcome.append(error)

    with anyio.fail_after(DEADLINE):
        async with anyio.create_task_group() as group, bridge:
            group.start_soon(wait)
            await waiting.wait()
            await anyio.sleep(0.05)  # it waits meanwhile
    [error] = outcome
    assert "stopped before it connected" in str(error)


@heavy
async def test_wait_connected_returns_once_a_restarted_broker_is_back(
    own_broker: Server,
) -> None:
    a, b = Peer(own_broker.url), Peer(own_broker.url)
    async with a.bridge, b.bridge:
        with anyio.fail_after(DEADLINE):
            await a.bridge.wait_connected()
            await b.bridge.wait_connected()
        own_broker.kill()
        await eventually(
            lambda: not (a.bridge.connected or b.bridge.connected), "the outage"
        )
        back: list[bool] = []

        async def wait_for_a() -> None:
            await a.bridge.wait_connected()
            back.append(a.bridge.connected)

        with anyio.fail_after(DEADLINE):
            async with anyio.create_task_group() as group:
                group.start_soon(wait_for_a)
                await anyio.sleep(0.05)  # it waits meanwhile
                assert not back
                await anyio.to_thread.run_sync(own_broker.start)
            await b.bridge.wait_connected()
        assert back == [True]
        # Both connected and subscribed: an event sent now arrives.
        await a.order_placed.asend(None, origin="a", n=1)
        await b.wait_orders(1)
    assert b.numbers("a") == [1]


#: URLs with credentials in every form the clients read, "{port}" a closed
#: loopback port. Where an unencoded "/", "#" or "?" ends the host part early,
#: the clients fail on the port they read ("pa") before any name lookup.
CREDENTIAL_URLS = [
    pytest.param("redis://user:s3cret@127.0.0.1:{port}/0", id="redis-user-password"),
    pytest.param("redis://:s3cret@127.0.0.1:{port}", id="redis-password-only"),
    pytest.param("redis://s3cret@127.0.0.1:{port}", id="redis-userinfo-only"),
    pytest.param("redis://127.0.0.1:{port}/0?password=s3cret", id="redis-query"),
    pytest.param(
        "rediss://127.0.0.1:{port}?db=1&username=u&password=s3cret&ssl_password=s3cret",
        id="rediss-query",
    ),
    pytest.param("redis://user:s3cret%2Fx@127.0.0.1:{port}", id="redis-encoded"),
    pytest.param("redis://user:pa@s3cret@127.0.0.1:{port}", id="redis-at"),
    pytest.param("redis://user:pa/s3cret@127.0.0.1:{port}/0", id="redis-slash"),
    pytest.param("redis://user:pa#s3cret@127.0.0.1:{port}", id="redis-hash"),
    pytest.param("redis://user:pa?s3cret@127.0.0.1:{port}", id="redis-question"),
    pytest.param("unix://user:s3cret@/nonexistent/{port}.sock", id="unix-userinfo"),
    pytest.param("unix:///nonexistent/{port}.sock?password=s3cret", id="unix-query"),
    pytest.param("nats://s3cret@127.0.0.1:{port}", id="nats-token"),
    pytest.param("tls://s3cret@127.0.0.1:{port}", id="tls-token"),
    pytest.param("nats://user:s3cret@127.0.0.1:{port}", id="nats-user-password"),
    pytest.param("nats://:s3cret@127.0.0.1:{port}", id="nats-password-only"),
    pytest.param("nats://user:pa@s3cret@127.0.0.1:{port}", id="nats-at"),
    pytest.param("nats://user:pa/s3cret@127.0.0.1:{port}", id="nats-slash"),
    pytest.param("nats://user:pa#s3cret@127.0.0.1:{port}", id="nats-hash"),
    pytest.param(
        "nats://user:s3cret@127.0.0.1:{port},nats://s3cret@127.0.0.1:{port}",
        id="nats-several-servers",
    ),
]


@pytest.mark.parametrize("url", CREDENTIAL_URLS)
async def test_credentials_never_show_in_repr_logs_or_errors(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = url.format(port=_closed_port())
    caplog.set_level(logging.DEBUG)
    bridge = Bridge(url, timeout=2.0)
    errors: list[BaseException] = []
    announced = anyio.Event()

    def on_disconnected(error: BaseException, **kwargs: object) -> None:
        errors.append(error)
        announced.set()

    bridge.disconnected.connect(on_disconnected, weak=False)
    assert "s3cret" not in repr(bridge)
    if "several-servers" not in url:
        async with bridge:
            assert "s3cret" not in repr(bridge)
            with anyio.fail_after(DEADLINE):
                await announced.wait()
        assert errors
        assert "s3cret" not in str(errors[0])
        assert "cannot reach the broker" in caplog.text
    for record in caplog.records:
        assert "s3cret" not in record.getMessage()
    assert "s3cret" not in caplog.text
    with pytest.raises(ValueError, match="must start with") as refused:
        Bridge(f"http{url[url.index(':') :]}")
    assert "s3cret" not in str(refused.value)


def _bridge_tasks() -> list[str]:
    """The bridge's tasks and helper threads alive now."""
    alive = [t.name for t in threading.enumerate() if t.name == "asyncsignal-bridge"]
    if asyncio_running():
        for task in asyncio.all_tasks():
            coro = task.get_coro()
            code = getattr(coro, "cr_code", None)
            if code is not None and "asyncsignal" in code.co_filename:
                alive.append(getattr(coro, "__qualname__", code.co_name))
    else:
        import trio

        def walk(task: trio.lowlevel.Task) -> None:
            if "asyncsignal" in task.name:
                alive.append(task.name)
            for nursery in task.child_nurseries:
                for child in nursery.child_tasks:
                    walk(child)

        root = trio.lowlevel.current_root_task()
        assert root is not None
        walk(root)
    return alive


async def test_two_tasks_entering_one_bridge_at_once_over_a_broker(
    redis_server: Server,
) -> None:
    a, b = Peer(redis_server.url), Peer(redis_server.url)
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
        before = _bridge_tasks()
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
        assert sorted(_bridge_tasks()) == sorted(before)
    assert a.numbers("b") == [0, 1]
    assert "is running already" in str(refused[0])
