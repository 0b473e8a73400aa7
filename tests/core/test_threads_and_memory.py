"""Threads and memory: the registry stays consistent under concurrent use from
threads, and memory stays flat over long runs.

All but the first test are stress and memory tests, marked ``slow``.
"""

from __future__ import annotations

import gc
import itertools
import threading
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest
from receivers import Sender
from support.backends import STRESS_BACKENDS

from asyncsignal import AsyncSignal


def test_concurrent_connect_disconnect_and_send_from_threads_stay_consistent() -> None:
    signal = AsyncSignal()
    senders = [Sender() for _ in range(4)]
    barrier = threading.Barrier(8)

    def worker(number: int) -> None:
        def handler(**kwargs: Any) -> int:
            return number

        barrier.wait()
        for round_ in range(200):
            sender = senders[round_ % len(senders)]
            signal.connect(handler, sender=sender)
            signal.connect(handler)
            responses = signal.send(sender)
            assert (handler, number) in responses
            assert signal.disconnect(handler, sender=sender) is True
            assert signal.disconnect(handler) is True

    with ThreadPoolExecutor(8) as pool:
        for future in [pool.submit(worker, n) for n in range(8)]:
            future.result(timeout=60)  # raises what the worker raised
    assert len(signal.receivers) == 0
    assert all(signal.send(sender) == [] for sender in senders)


# -- stress -----------------------------------------------------------------------

#: Orders events across threads: ``next()`` on it is atomic under the GIL.
_ticks = itertools.count()


class Recorder:
    """A receiver that records the tick at which each send calling it started."""

    def __init__(self, name: int) -> None:
        self.name = name
        self.calls: list[int] = []

    def __call__(self, **kwargs: Any) -> int:
        self.calls.append(kwargs["started"])
        return self.name


class AsyncRecorder(Recorder):
    async def __call__(self, **kwargs: Any) -> int:  # type: ignore[override]
        return super().__call__(**kwargs)


@pytest.mark.slow
@pytest.mark.parametrize("anyio_backend", STRESS_BACKENDS)
async def test_concurrent_connect_disconnect_while_sending_from_loop_and_thread() -> (
    None
):
    """4 threads connect and disconnect thousands of receivers while the event
    loop asends in a loop and another thread sends. No exception, no receiver
    called by a send that started after its disconnect returned, and the final
    registrations are exactly what the threads left connected."""
    signal = AsyncSignal()
    stop = threading.Event()
    disconnected_at: dict[int, int] = {}
    kept: list[Recorder] = []
    kept_lock = threading.Lock()

    def churn(worker: int) -> None:
        for i in range(1000):
            kind = AsyncRecorder if i % 3 == 0 else Recorder
            receiver = kind(worker * 10_000 + i)
            signal.connect(receiver, weak=False)
            if i % 4 == 0:
                with kept_lock:
                    kept.append(receiver)
            else:
                assert signal.disconnect(receiver)
                disconnected_at[receiver.name] = next(_ticks)
                with kept_lock:
                    kept.append(receiver)  # kept alive, but disconnected

    def sync_sender() -> None:
        while not stop.is_set():
            signal.send(None, started=next(_ticks))

    async with anyio.create_task_group() as group:
        group.start_soon(anyio.to_thread.run_sync, sync_sender)
        try:
            with ThreadPoolExecutor(4) as pool:
                churners = [pool.submit(churn, worker) for worker in range(4)]
                while not all(churner.done() for churner in churners):
                    await signal.asend(None, started=next(_ticks))
        finally:
            stop.set()  # the task group waits for the sync sender's thread
        for churner in churners:
            churner.result()  # raises what the thread raised

    for receiver in kept:
        gone = disconnected_at.get(receiver.name)
        if gone is not None:
            # Sends that started after disconnect() returned never call it.
            assert all(started < gone for started in receiver.calls)
    still_connected = [r for r in kept if r.name not in disconnected_at]
    assert sorted(r.name for r in signal.receivers) == sorted(  # type: ignore[attr-defined]
        r.name for r in still_connected
    )
    assert len(still_connected) == 4 * 250


@pytest.mark.slow
def test_weakref_callbacks_firing_while_another_thread_connects() -> None:
    signal = AsyncSignal()
    survivors: list[Any] = []

    def connector() -> None:
        for i in range(3000):

            def survivor(i: int = i, **kwargs: Any) -> int:
                return i

            survivors.append(survivor)
            signal.connect(survivor)

    with ThreadPoolExecutor(1) as pool:
        connecting = pool.submit(connector)
        while not connecting.done():
            # Receivers that die at once: their callbacks race the connector.
            for _ in range(50):

                def ephemeral(**kwargs: Any) -> None:
                    """Connected weakly and dropped immediately."""

                signal.connect(ephemeral)
                del ephemeral
            gc.collect()
    connecting.result()  # raises what the connector raised
    gc.collect()
    assert len(signal.receivers) == len(survivors) == 3000
    assert [r for r, _ in signal.send(None)] == survivors


# -- memory -----------------------------------------------------------------------

#: Growth allowed over a measured run: far below one object per iteration.
_MEMORY_SLACK = 64 * 1024


@pytest.mark.slow
def test_connect_disconnect_cycles_leave_memory_flat_and_nothing_registered() -> None:
    signal = AsyncSignal()
    sender = Sender()

    def receiver(**kwargs: Any) -> None:
        """Connected and disconnected over and over."""

    def cycle(count: int) -> None:
        for i in range(count):
            target = sender if i % 2 else None
            signal.connect(receiver, sender=target, dispatch_uid=i % 7)
            signal.send(target)
            assert signal.disconnect(receiver, sender=target, dispatch_uid=i % 7)

    cycle(2_000)  # warm-up: caches, interned objects
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        cycle(20_000)
        gc.collect()
        growth = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert growth < _MEMORY_SLACK, f"memory grew by {growth} bytes"
    assert len(signal.receivers) == 0
    assert not signal.has_listeners(sender)


@pytest.mark.slow
@pytest.mark.parametrize("anyio_backend", STRESS_BACKENDS)
async def test_many_asends_leave_memory_flat() -> None:
    signal = AsyncSignal()

    def sync_receiver(**kwargs: Any) -> int:
        return 1

    async def async_receiver(**kwargs: Any) -> int:
        return 2

    async def suspending_receiver(**kwargs: Any) -> int:
        await anyio.lowlevel.checkpoint()
        return 3

    signal.connect(sync_receiver)
    signal.connect(async_receiver)
    signal.connect(suspending_receiver)

    async def run(count: int) -> None:
        for _ in range(count):
            assert len(await signal.asend(None)) == 3

    await run(2_000)
    gc.collect()
    # 10,000 asends leave no object behind (tasks, coroutines, frames, lists)...
    objects_before = len(gc.get_objects())
    await run(10_000)
    gc.collect()
    assert len(gc.get_objects()) - objects_before < 100
    # ...and, traced byte by byte over 8,000 more, no memory either.
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        await run(8_000)
        gc.collect()
        growth = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert growth < _MEMORY_SLACK, f"memory grew by {growth} bytes"
