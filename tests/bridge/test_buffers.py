"""The outgoing and incoming buffers (``_buffers.py``), full, over ``memory://``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
import anyio.to_thread
from bridge_support.peers import Peer, memory_url

if TYPE_CHECKING:
    import pytest


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


async def test_a_read_is_queued_at_once_without_the_bridges_own_messages() -> None:
    from asyncsignal.bridge._buffers import Inbox

    inbox = Inbox(max_bytes=10, echo_prefix=b"own:")
    assert not inbox.deliver([b"own:1", b"own:2"])  # nothing queued, no wake-up
    taken: list[object] = []

    async def take() -> None:
        taken.append(await inbox.take())

    async with anyio.create_task_group() as group:
        group.start_soon(take)
        await anyio.wait_all_tasks_blocked()  # the dispatcher waits
        # The oldest messages go when a read overflows the bound (10 bytes).
        assert inbox.deliver([b"a" * 9, b"own:3", b"b", b"c", b"own", b"12345"])
    assert taken == [[b"b", b"c", b"own", b"12345"]]
    assert not inbox.deliver([b"6"])  # no dispatcher waits
    assert await inbox.take() == [b"6"]
