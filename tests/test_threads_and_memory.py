"""Stress: threads mutating the registry while the loop and another thread send,
re-entrant receivers, garbage collection during dispatch, and memory that stays
flat over long runs."""

from __future__ import annotations

import gc
import threading
import time
import tracemalloc
from typing import Any

import anyio
import anyio.to_thread
import pytest

from asyncsignal import AsyncSignal

pytestmark = pytest.mark.anyio


class Recorder:
    """A receiver that records each call with the time it happened."""

    def __init__(self, name: int) -> None:
        self.name = name
        self.calls: list[float] = []

    def __call__(self, **kwargs: Any) -> int:
        self.calls.append(kwargs["started"])
        return self.name


class AsyncRecorder(Recorder):
    async def __call__(self, **kwargs: Any) -> int:  # type: ignore[override]
        return super().__call__(**kwargs)


async def test_concurrent_connect_disconnect_while_sending_from_loop_and_thread() -> (
    None
):
    """4 threads connect and disconnect thousands of receivers while the event
    loop asends in a loop and another thread sends. No exception, no receiver
    called by a send that started after its disconnect returned, and the final
    registrations are exactly what the threads left connected."""
    signal = AsyncSignal()
    stop = threading.Event()
    disconnected_at: dict[int, float] = {}
    kept: list[Recorder] = []
    kept_lock = threading.Lock()
    errors: list[BaseException] = []

    def churn(worker: int) -> None:
        try:
            for i in range(3000):
                kind = AsyncRecorder if i % 3 == 0 else Recorder
                receiver = kind(worker * 10_000 + i)
                signal.connect(receiver, weak=False)
                if i % 4 == 0:
                    with kept_lock:
                        kept.append(receiver)
                else:
                    assert signal.disconnect(receiver)
                    disconnected_at[receiver.name] = time.perf_counter()
                    with kept_lock:
                        kept.append(receiver)  # kept alive, but disconnected
        except BaseException as error:  # handed to the test's thread
            errors.append(error)

    def sync_sender() -> None:
        try:
            while not stop.is_set():
                signal.send(None, started=time.perf_counter())
        except BaseException as error:
            errors.append(error)

    async with anyio.create_task_group() as group:
        threads = [threading.Thread(target=churn, args=(w,)) for w in range(4)]
        sender_done = anyio.Event()

        async def run_sync_sender() -> None:
            await anyio.to_thread.run_sync(sync_sender)
            sender_done.set()

        group.start_soon(run_sync_sender)
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            await signal.asend(None, started=time.perf_counter())
        for thread in threads:
            thread.join()
        stop.set()
        await sender_done.wait()

    assert errors == []
    for receiver in kept:
        gone = disconnected_at.get(receiver.name)
        if gone is not None:
            # Sends that started after disconnect() returned never call it.
            assert all(started < gone for started in receiver.calls)
    still_connected = [r for r in kept if r.name not in disconnected_at]
    assert sorted(r.name for r in signal.receivers) == sorted(  # type: ignore[attr-defined]
        r.name for r in still_connected
    )
    assert len(still_connected) == 4 * 750


async def test_receivers_may_resend_disconnect_themselves_and_connect_others() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    added: list[Any] = []

    def late(**kwargs: Any) -> str:
        log.append("late")
        return "late"

    def sync_once(depth: int = 0, **kwargs: Any) -> str:
        log.append(f"sync_once:{depth}")
        signal.disconnect(sync_once)
        return "sync_once"

    async def async_resender(depth: int = 0, **kwargs: Any) -> str:
        log.append(f"async_resender:{depth}")
        if depth == 0:
            signal.connect(late)
            added.append(late)
            await signal.asend_robust(None, depth=1)
        return "async_resender"

    signal.connect(sync_once)
    signal.connect(async_resender)
    first = await signal.asend(None)
    # Changes made during a dispatch apply from the next send on.
    assert [r for r, _ in first] == [sync_once, async_resender]
    assert log[:2] == ["sync_once:0", "async_resender:0"]
    # The nested send already saw sync_once gone and late connected (in which
    # order async and sync receivers first run is the backend's).
    assert sorted(log[2:]) == ["async_resender:1", "late"]
    second = await signal.asend(None, depth=1)
    assert [r for r, _ in second] == [async_resender, late]


class Sender:
    """A weakly referenceable sender."""


async def test_receivers_and_senders_dying_while_asend_is_in_flight() -> None:
    signal = AsyncSignal()
    sender = Sender()
    midway = anyio.Event()
    proceed = anyio.Event()
    calls: list[str] = []

    class Listener:
        async def on_event(self, **kwargs: Any) -> str:
            calls.append("listener")
            midway.set()
            await proceed.wait()
            return "listener"

    listener = Listener()
    signal.connect(listener.on_event, sender=sender)

    async def send_and_keep_result(results: list[Any], sender: Sender) -> None:
        results.extend(await signal.asend(sender))

    results: list[Any] = []
    async with anyio.create_task_group() as group:
        group.start_soon(send_and_keep_result, results, sender)
        await midway.wait()
        # Drop our references while the receiver runs: the in-flight dispatch
        # still owns the bound method, but the registration must go.
        del listener
        gc.collect()
        proceed.set()
    assert [response for _, response in results] == ["listener"]
    del results
    del sender
    gc.collect()
    assert len(signal.receivers) == 0
    assert not signal.has_listeners(Sender())


def test_weakref_callbacks_firing_while_another_thread_connects() -> None:
    signal = AsyncSignal()
    stop = threading.Event()
    errors: list[BaseException] = []
    survivors: list[Any] = []

    def connector() -> None:
        try:
            for i in range(3000):

                def survivor(i: int = i, **kwargs: Any) -> int:
                    return i

                survivors.append(survivor)
                signal.connect(survivor)
        except BaseException as error:
            errors.append(error)
        finally:
            stop.set()

    thread = threading.Thread(target=connector)
    thread.start()
    while not stop.is_set():
        # Receivers that die at once: their callbacks race the connector.
        for _ in range(50):

            def ephemeral(**kwargs: Any) -> None:
                """Connected weakly and dropped immediately."""

            signal.connect(ephemeral)
            del ephemeral
        gc.collect()
    thread.join()
    gc.collect()
    assert errors == []
    assert len(signal.receivers) == len(survivors) == 3000
    assert [r for r, _ in signal.send(None)] == survivors


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
        cycle(100_000)
        gc.collect()
        growth = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert growth < 64 * 1024, f"memory grew by {growth} bytes"
    assert len(signal.receivers) == 0
    assert not signal._registry.by_sender


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
            await signal.asend(None)

    await run(2_000)
    gc.collect()
    # 100,000 asends leave no object behind (tasks, coroutines, frames, lists)...
    objects_before = len(gc.get_objects())
    await run(100_000)
    gc.collect()
    assert len(gc.get_objects()) - objects_before < 100
    # ...and, traced byte by byte over 20,000 more, no memory either.
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        await run(20_000)
        gc.collect()
        growth = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert growth < 64 * 1024, f"memory grew by {growth} bytes"
