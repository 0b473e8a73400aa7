"""asyncsignal.bridge within one process (``memory://``): delivery, and running a
bridge (sharing while it runs, entering it, waiting for the connection)."""

from __future__ import annotations

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest
from bridge_support.peers import DEADLINE, Peer, eventually, memory_url

from asyncsignal import AsyncSignal
from asyncsignal.bridge import Bridge
from asyncsignal.bridge._transports.memory import _HUBS
from asyncsignal.testing import capture

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


async def test_a_connection_change_amid_incoming_events_shares_what_it_sends() -> None:
    # One batch for A's dispatcher: an event from B, A's reconnection, another
    # event. What the reconnected receiver sends is published (it is A's own
    # news); what the events' receiver sends stays local.
    from asyncsignal.bridge._session import Up

    url = memory_url()
    a, b = Peer(url), Peer(url)

    async def bill(sender: object, origin: str, n: int, **kwargs: object) -> None:
        await a.invoice_due.asend(None, origin=f"a for {origin}", n=n)

    async def on_reconnected(sender: object, **kwargs: object) -> None:
        await a.invoice_due.asend(None, origin="a reconnected", n=0)

    a.order_placed.connect(bill)
    a.bridge.reconnected.connect(on_reconnected, weak=False)
    async with a.bridge, b.bridge:
        (inbox,) = [
            session.deliver.__self__  # type: ignore[attr-defined]
            for session in _HUBS[url]
            if session.deliver.__self__._echo == a.bridge._wire.echo_prefix  # type: ignore[attr-defined]
        ]
        wire = b.bridge._wire
        event = wire.encode("order_placed", None, {"origin": "b", "n": 1})
        inbox.deliver([wire.finish(event, 1)])
        inbox.put(Up(lost=0, downtime=0.0))
        inbox.deliver([wire.finish(event, 2)])
        await a.wait_until(lambda: len(a.invoices) == 3)
        # A barrier from A: what A publishes arrives in order (its local bill
        # of this order is published, after the order).
        await a.order_placed.asend(None, origin="end", n=0)
        await b.wait_until(lambda: len(b.invoices) == 2)
    assert [kwargs["origin"] for _, kwargs in a.invoices] == [
        "a for b",
        "a reconnected",
        "a for b",
        "a for end",
    ]
    assert [kwargs["origin"] for _, kwargs in b.invoices] == [
        "a reconnected",
        "a for end",
    ]


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


# -- running -----------------------------------------------------------------------


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
