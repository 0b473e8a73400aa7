"""Subscriptions: ``async with signal.subscribe() as events``, then ``async for``.

A subscription sees every send (any method, any thread) made while its block is
open, filtered by sender like a receiver, before any receiver runs, without
being a receiver. Its bounded buffer drops the oldest or newest event, or makes
senders wait for room (``"block"``). It ends on exit, a cancelled consumer
included, and keeps nothing.
"""

from __future__ import annotations

import functools
import gc
import threading
import tracemalloc
from typing import TYPE_CHECKING, Any, cast

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread
import pytest
from receivers import METHODS, Sender, make_async, make_sync, send_by
from support.backends import BACKENDS_WITHOUT_EAGER

from asyncsignal import AsyncSignal, Event, Subscription, _seam

if TYPE_CHECKING:
    from collections.abc import Callable

    from _pytest.mark import ParameterSet
    from anyio.abc import TaskStatus


Responses = list[tuple[Any, Any]]


# -- helpers ------------------------------------------------------------------


async def take(events: Subscription, count: int) -> list[Event]:
    """The next ``count`` events, waiting for each (boundedly)."""
    with anyio.fail_after(10):
        return [await anext(events) for _ in range(count)]


async def remaining(events: Subscription) -> list[Event]:
    """Once the block has exited: the events still buffered (iteration then
    ends)."""
    with anyio.fail_after(5):
        return [event async for event in events]


def numbers(events: list[Event]) -> list[int]:
    return [event.kwargs["n"] for event in events]


class Thread(threading.Thread):
    """A plain thread (no event loop) that hands its exception to the test."""

    def __init__(self, call: Callable[[], object]) -> None:
        super().__init__(daemon=True)
        self._call = call
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._call()
        except BaseException as error:  # handed back to the test's thread
            self.error = error

    async def blocks_after(self, sending: threading.Event) -> bool:
        """Whether the thread blocks in the send it starts once it has set
        ``sending``: it is still running shortly after (a send that does not
        block takes microseconds)."""
        with anyio.fail_after(10):
            await anyio.to_thread.run_sync(sending.wait)
        await anyio.to_thread.run_sync(self.join, 0.05)
        return self.is_alive()

    async def finish(self) -> None:
        await anyio.to_thread.run_sync(self.join, 10)
        assert not self.is_alive()
        if self.error is not None:
            raise self.error


def setting_first(
    sending: threading.Event, call: Callable[[], object]
) -> Callable[[], None]:
    """``call``, preceded by setting ``sending``."""

    def run() -> None:
        sending.set()
        call()

    return run


def started(call: Callable[[], object]) -> Thread:
    thread = Thread(call)
    thread.start()
    return thread


# -- what a subscription sees ---------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("connected", [False, True], ids=["unconnected", "connected"])
async def test_subscription_sees_each_send_method_as_an_event(
    method: str, connected: bool
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    receiver = make_sync(log, "receiver")
    if connected:
        signal.connect(receiver)
    sender = Sender()
    async with signal.subscribe() as events:
        await send_by(method, signal, sender, n=1, text="x")
        (event,) = await take(events, 1)
    assert isinstance(event, Event)
    assert event.signal is signal
    assert event.sender is sender
    assert dict(event.kwargs) == {"n": 1, "text": "x"}
    assert log == (["receiver"] if connected else [])
    with pytest.raises(TypeError):
        event.kwargs["n"] = 2  # type: ignore[index]
    assert await remaining(events) == []


async def test_subscription_sees_sends_from_plain_worker_and_event_loop_threads() -> (
    None
):
    signal = AsyncSignal()
    async with signal.subscribe() as events:
        await started(lambda: signal.send(None, n=1)).finish()
        await started(lambda: signal.send_robust(None, n=2)).finish()
        await anyio.to_thread.run_sync(lambda: signal.send(None, n=3))
        await anyio.to_thread.run_sync(lambda: signal.send_robust(None, n=4))
        for n, (method, backend) in enumerate(
            [("asend", "asyncio"), ("asend_robust", "asyncio"), ("asend", "trio")],
            start=5,
        ):
            await started(
                functools.partial(
                    anyio.run,
                    functools.partial(send_by, method, signal, None, n=n),
                    backend=backend,
                )
            ).finish()
        assert numbers(await take(events, 7)) == [1, 2, 3, 4, 5, 6, 7]


async def test_subscription_sees_only_sends_made_while_its_block_is_open() -> None:
    signal = AsyncSignal()
    signal.send(None, n=0)
    subscription = signal.subscribe()
    await signal.asend(None, n=1)  # subscribe() called, block not yet entered
    async with subscription as events:
        signal.send(None, n=2)
        await signal.asend(None, n=3)
    signal.send(None, n=4)
    await signal.asend(None, n=5)
    assert numbers(await remaining(events)) == [2, 3]


async def test_subscription_filters_by_sender_identity_like_a_receiver() -> None:
    signal = AsyncSignal()
    mine, equal_but_other = [1], [1]
    assert mine == equal_but_other
    async with (
        signal.subscribe(mine) as from_mine,
        signal.subscribe() as from_anyone,
    ):
        signal.send(mine, n=1)
        signal.send(equal_but_other, n=2)
        signal.send(None, n=3)
        await signal.asend(equal_but_other, n=4)
        await signal.asend(mine, n=5)
    assert numbers(await remaining(from_mine)) == [1, 5]
    assert numbers(await remaining(from_anyone)) == [1, 2, 3, 4, 5]


async def test_subscription_is_not_a_receiver() -> None:
    signal = AsyncSignal()
    sender = Sender()
    async with signal.subscribe() as events, signal.subscribe(sender) as own:
        assert len(signal.receivers) == 0
        assert not signal.receivers
        assert list(signal.receivers) == []
        assert not signal.has_listeners()
        assert not signal.has_listeners(sender)
        for method in METHODS:
            assert await send_by(method, signal, sender) == []
        log: list[str] = []
        receiver = make_sync(log, "receiver")
        signal.connect(receiver)
        assert list(signal.receivers) == [receiver]
        for method in METHODS:
            assert await send_by(method, signal, sender) == [(receiver, "receiver")]
    assert len(await remaining(events)) == len(await remaining(own)) == 8


async def test_several_subscriptions_each_get_every_event() -> None:
    signal = AsyncSignal()
    async with signal.subscribe() as first, signal.subscribe() as second:
        for n in range(3):
            await signal.asend(None, n=n)
        assert numbers(await take(first, 3)) == [0, 1, 2]
        assert numbers(await take(second, 3)) == [0, 1, 2]


@pytest.mark.parametrize("method", METHODS)
async def test_a_send_refused_before_any_receiver_runs_is_not_an_event(
    method: str,
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    receiver = make_sync(log, "receiver")  # referenced: connected weakly
    signal.connect(receiver)
    async with signal.subscribe() as events:
        with pytest.raises(TypeError, match="'signal'"):
            await send_by(method, signal, None, signal=1)
        if not method.startswith("a"):
            areceiver = make_async(log, "async")  # referenced: connected weakly
            signal.connect(areceiver)
            with pytest.raises(RuntimeError, match="running event loop"):
                await send_by(method, signal, None, n=1)
    assert log == []
    assert await remaining(events) == []


@pytest.mark.parametrize("method", ["asend", "asend_robust"])
async def test_async_receivers_find_the_event_already_buffered(method: str) -> None:
    signal = AsyncSignal()
    seen: list[Event] = []
    async with signal.subscribe() as events:

        async def receiver(**kwargs: Any) -> None:
            # Buffered: this returns without waiting.
            with anyio.fail_after(1):
                seen.append(await anext(events))

        signal.connect(receiver)
        await send_by(method, signal, None, n=7)
    assert numbers(seen) == [7]


@pytest.mark.parametrize("method", ["send", "send_robust"])
async def test_sync_receivers_find_the_event_already_buffered(method: str) -> None:
    signal = AsyncSignal()
    seen: list[Event] = []
    async with signal.subscribe() as events:

        def receiver(**kwargs: Any) -> None:
            # Called in an anyio worker thread: take the event on its loop.
            seen.append(anyio.from_thread.run(take, events, 1)[0])

        signal.connect(receiver)
        call = getattr(signal, method)
        await anyio.to_thread.run_sync(lambda: call(None, n=7))
    assert numbers(seen) == [7]


# -- how a subscription ends ----------------------------------------------------


async def test_exiting_the_block_ends_iteration_in_the_consuming_task() -> None:
    signal = AsyncSignal()
    seen: list[int] = []
    finished = anyio.Event()

    async def consume(events: Subscription) -> None:
        async for event in events:
            seen.append(event.kwargs["n"])
        finished.set()

    with anyio.fail_after(5):
        async with (
            anyio.create_task_group() as tg,
            signal.subscribe() as events,
        ):
            tg.start_soon(consume, events)
            await signal.asend(None, n=1)
            await anyio.wait_all_tasks_blocked()
            assert seen == [1]
            assert not finished.is_set()
    assert finished.is_set()
    assert signal._subscriptions == ()
    await signal.asend(None, n=2)
    assert seen == [1]


async def test_exit_ends_iteration_in_every_task_iterating_the_subscription() -> None:
    signal = AsyncSignal()
    seen: list[int] = []

    async def consume(events: Subscription) -> None:
        async for event in events:
            seen.append(event.kwargs["n"])

    with anyio.fail_after(1):
        async with (
            anyio.create_task_group() as tg,
            signal.subscribe() as events,
        ):
            tg.start_soon(consume, events)
            tg.start_soon(consume, events)
            await anyio.wait_all_tasks_blocked()
            await signal.asend(None, n=1)
            await signal.asend(None, n=2)
            await anyio.wait_all_tasks_blocked()
            # Exiting must end the iteration of both consumers now.
    assert sorted(seen) == [1, 2]
    assert signal._subscriptions == ()


async def test_cancelling_the_consuming_task_exits_the_block_and_unsubscribes() -> None:
    signal = AsyncSignal()
    seen: list[int] = []
    exited = anyio.Event()

    async def consume(*, task_status: TaskStatus[None]) -> None:
        try:
            async with signal.subscribe() as events:
                task_status.started()
                async for event in events:
                    seen.append(event.kwargs["n"])
        finally:
            exited.set()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            await tg.start(consume)
            await signal.asend(None, n=1)
            await anyio.wait_all_tasks_blocked()
            assert seen == [1]
            assert len(signal._subscriptions) == 1
            tg.cancel_scope.cancel()
    assert exited.is_set()
    assert signal._subscriptions == ()
    signal.send(None, n=2)
    await signal.asend(None, n=3)
    assert seen == [1]


async def test_a_consumer_timing_out_exits_the_block_and_unsubscribes() -> None:
    signal = AsyncSignal()
    with pytest.raises(TimeoutError):  # noqa: PT012 - the block is the subject
        with anyio.fail_after(0.05):
            async with signal.subscribe() as events:
                async for _ in events:
                    pass  # pragma: no cover - nothing is sent
    assert signal._subscriptions == ()


async def test_subscription_ends_on_exit_by_exception_and_keeps_its_buffer() -> None:
    signal = AsyncSignal()
    with pytest.raises(LookupError):  # noqa: PT012 - the block is the subject
        async with signal.subscribe() as events:
            await signal.asend(None, n=1)
            raise LookupError
    assert signal._subscriptions == ()
    await signal.asend(None, n=2)
    assert numbers(await remaining(events)) == [1]


def without_asyncio_debug(backend: ParameterSet) -> ParameterSet:
    """``backend``, with asyncio's debug mode off: it records a traceback for
    every callback scheduled, which makes 10^5 cycles under tracemalloc take
    minutes, and is beside the point of a memory test."""
    name, options = cast("tuple[str, dict[str, Any]]", backend.values[0])
    if name == "asyncio":
        options = {**options, "debug": False}
    return pytest.param((name, options), id=backend.id)


@pytest.mark.slow
@pytest.mark.parametrize(
    "anyio_backend", [without_asyncio_debug(b) for b in BACKENDS_WITHOUT_EAGER]
)
async def test_many_subscribe_exit_cycles_leave_memory_flat() -> None:
    signal = AsyncSignal()

    def receiver(**kwargs: Any) -> None:
        """Connected throughout, so every send also runs a receiver."""

    signal.connect(receiver)

    async def cycle(count: int) -> None:
        for n in range(count):
            async with signal.subscribe(max_buffer=1) as events:
                signal.send(None, n=n)
                if n % 10 == 0:  # asend costs more: every tenth cycle
                    await signal.asend(None, n=n)
                    assert events.dropped == 1
                assert (await anext(events)).kwargs["n"] == n
                if n % 100 == 0:  # a consumer cancelled while it waits
                    with anyio.move_on_after(0):
                        await anext(events)
            await anyio.lowlevel.checkpoint()  # a consumer lets others run

    await cycle(2_000)  # warm-up: caches, interned objects
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        await cycle(100_000)
        gc.collect()
        growth = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert growth < 64 * 1024, f"memory grew by {growth} bytes"
    assert signal._subscriptions == ()


# -- overflow: dropping -----------------------------------------------------------


@pytest.mark.parametrize(
    ("overflow", "kept"),
    [("drop_oldest", [5, 6, 7]), ("drop_newest", [0, 1, 2])],
)
async def test_a_full_buffer_drops_events_and_counts_them(
    overflow: Any, kept: list[int]
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    receiver = make_sync(log, "receiver")  # referenced: connected weakly
    signal.connect(receiver)
    with anyio.fail_after(5):  # a sender that waited for room would time out
        async with signal.subscribe(max_buffer=3, overflow=overflow) as events:
            for n, method in enumerate(METHODS * 2):
                await send_by(method, signal, None, n=n)
            assert events.dropped == 5
            assert numbers(await take(events, 3)) == kept
            # Room again: nothing more is dropped.
            await signal.asend(None, n=8)
            signal.send(None, n=9)
            assert events.dropped == 5
    assert numbers(await remaining(events)) == [8, 9]
    assert len(log) == 10


@pytest.mark.parametrize("overflow", ["drop_oldest", "drop_newest"])
async def test_dropping_never_delays_a_sender_in_another_thread(overflow: Any) -> None:
    signal = AsyncSignal()
    async with signal.subscribe(max_buffer=1, overflow=overflow) as events:

        def send_many() -> None:
            for n in range(50):
                signal.send(None, n=n)
                signal.send_robust(None, n=n)

        # Nobody consumes meanwhile.
        await started(send_many).finish()
        assert events.dropped == 99
        assert numbers(await take(events, 1)) == (
            [49] if overflow == "drop_oldest" else [0]
        )


# -- overflow: "block" ----------------------------------------------------------


@pytest.mark.parametrize("method", ["asend", "asend_robust"])
async def test_block_makes_asend_wait_for_room_before_running_receivers(
    method: str,
) -> None:
    signal = AsyncSignal()
    log: list[str] = []

    def receiver(**kwargs: Any) -> None:
        log.append(f"receiver {kwargs['n']}")

    signal.connect(receiver)
    delivered = anyio.Event()

    async def send_second() -> None:
        await send_by(method, signal, None, n=1)
        delivered.set()

    with anyio.fail_after(5):
        async with (
            anyio.create_task_group() as tg,
            signal.subscribe(max_buffer=1, overflow="block") as events,
        ):
            await send_by(method, signal, None, n=0)
            tg.start_soon(send_second)
            await anyio.wait_all_tasks_blocked()
            assert log == ["receiver 0"]
            assert not delivered.is_set()
            assert numbers(await take(events, 1)) == [0]
            await delivered.wait()
            assert log == ["receiver 0", "receiver 1"]
            assert numbers(await take(events, 1)) == [1]
            assert events.dropped == 0


@pytest.mark.parametrize("method", ["asend", "asend_robust"])
async def test_cancelling_an_asend_waiting_for_room_raises_and_runs_no_receiver(
    method: str,
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    receiver = make_sync(log, "receiver")  # referenced: connected weakly
    signal.connect(receiver)
    outcome: list[str] = []

    async def send_second(*, task_status: TaskStatus[anyio.CancelScope]) -> None:
        with anyio.CancelScope() as scope:
            task_status.started(scope)
            try:
                await send_by(method, signal, None, n=1)
            except anyio.get_cancelled_exc_class():
                outcome.append("cancelled")
                raise
            outcome.append("returned")  # pragma: no cover - the bug we test for

    with anyio.fail_after(5):
        async with signal.subscribe(max_buffer=1, overflow="block") as events:
            await signal.asend(None, n=0)
            async with anyio.create_task_group() as tg:
                scope = await tg.start(send_second)
                await anyio.wait_all_tasks_blocked()
                scope.cancel()
    assert outcome == ["cancelled"]
    assert log == ["receiver"]  # the first send's only
    assert numbers(await remaining(events)) == [0]
    assert events.dropped == 0


@pytest.mark.parametrize("method", ["send", "send_robust"])
async def test_block_makes_send_in_a_plain_thread_wait_for_room(method: str) -> None:
    signal = AsyncSignal()
    log: list[int] = []

    def receiver(**kwargs: Any) -> None:
        log.append(kwargs["n"])

    signal.connect(receiver)
    call = getattr(signal, method)
    sending = threading.Event()

    def send_three() -> None:
        call(None, n=0)  # room for it
        sending.set()
        call(None, n=1)  # waits for room
        call(None, n=2)

    async with signal.subscribe(max_buffer=1, overflow="block") as events:
        thread = started(send_three)
        assert await thread.blocks_after(sending)
        assert log == [0]
        assert numbers(await take(events, 1)) == [0]
        assert numbers(await take(events, 1)) == [1]
        assert numbers(await take(events, 1)) == [2]
        await thread.finish()
        assert log == [0, 1, 2]
        assert events.dropped == 0


async def test_block_makes_send_in_a_worker_thread_wait_for_its_loop_to_consume() -> (
    None
):
    signal = AsyncSignal()
    async with (
        anyio.create_task_group() as tg,
        signal.subscribe(max_buffer=1, overflow="block") as events,
    ):

        def send_three() -> None:
            for n in range(3):
                signal.send(None, n=n)

        tg.start_soon(anyio.to_thread.run_sync, send_three)
        # The worker can only finish if this loop keeps running meanwhile.
        assert numbers(await take(events, 3)) == [0, 1, 2]


@pytest.mark.parametrize("method", ["send", "send_robust"])
@pytest.mark.parametrize("connected", [False, True], ids=["unconnected", "connected"])
async def test_send_in_an_event_loop_thread_refuses_a_full_block_subscription(
    method: str, connected: bool
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    receiver = make_sync(log, "receiver")  # referenced: connected weakly
    if connected:
        signal.connect(receiver)
    call = getattr(signal, method)
    async with (
        signal.subscribe() as earlier,
        signal.subscribe(max_buffer=1, overflow="block") as blocking,
        signal.subscribe() as later,
    ):
        call(None, n=0)  # room for it: fine from the loop's thread
        with pytest.raises(
            RuntimeError,
            match=rf"^{method}\(\) was called from a running event loop .*"
            rf"overflow='block' is full.*'await signal\.a{method}\(\.\.\.\)'",
        ):
            call(None, n=1)
    assert log == (["receiver"] if connected else [])
    for events in (earlier, blocking, later):
        assert numbers(await remaining(events)) == [0]
    assert blocking.dropped == 0


class FillsBeforeDelivery:
    """A subscriber published to before a ``"block"`` subscription: on the
    first event it makes another thread take that subscription's last slot,
    as a concurrent sender would between the full-check and the delivery."""

    sender = None

    def __init__(self, signal: AsyncSignal) -> None:
        self._signal = signal
        self._filled = False

    def put_nowait(self, event: Event) -> bool:
        if not self._filled:
            self._filled = True
            thread = threading.Thread(target=self._signal.send, args=(None,))
            thread.start()
            thread.join(10)
        return True

    def is_full(self) -> bool:
        return False

    async def put(self, event: Event) -> None:  # pragma: no cover - sync sends only
        self.put_nowait(event)

    def put_blocking(self, event: Event) -> None:
        self.put_nowait(event)


async def test_send_in_a_loop_thread_never_waits_for_a_buffer_filled_meanwhile() -> (
    None
):
    signal = AsyncSignal()
    log: list[str] = []
    receiver = make_sync(log, "receiver")  # referenced: connected weakly
    signal.connect(receiver)
    filler = FillsBeforeDelivery(signal)
    _seam.subscribe(signal, filler)
    try:
        async with signal.subscribe(max_buffer=1, overflow="block") as events:
            # If the loop's thread ends up waiting for room (nobody can make it:
            # this loop is blocked), release it after a while to fail, not hang.
            watchdog = threading.Timer(0.5, events.close)
            watchdog.start()
            try:
                with pytest.raises(RuntimeError, match="overflow='block' is full"):
                    signal.send(None)
            finally:
                watchdog.cancel()
    finally:
        _seam.unsubscribe(signal, filler)
    assert log == ["receiver"]  # the other thread's send only
    assert len(await remaining(events)) == 1


async def test_a_full_block_subscription_for_another_sender_holds_no_send() -> None:
    signal = AsyncSignal()
    other = Sender()
    async with signal.subscribe(other, max_buffer=1, overflow="block") as events:
        signal.send(other, n=0)
        with anyio.fail_after(5):
            for n in range(1, 4):
                signal.send(None, n=n)
                await signal.asend(Sender(), n=n)
    assert numbers(await remaining(events)) == [0]


async def test_exiting_releases_asend_waiting_for_room() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    receiver = make_sync(log, "receiver")  # referenced: connected weakly
    signal.connect(receiver)
    responses: list[Responses] = []

    async def send_second() -> None:
        responses.append(await signal.asend(None, n=1))

    with anyio.fail_after(5):
        async with (
            anyio.create_task_group() as tg,
            signal.subscribe(max_buffer=1, overflow="block") as events,
        ):
            await signal.asend(None, n=0)
            tg.start_soon(send_second)
            await anyio.wait_all_tasks_blocked()
            assert log == ["receiver"]
    assert len(responses) == 1  # released, and ran its receivers
    assert log == ["receiver", "receiver"]
    assert numbers(await remaining(events)) == [0]


async def test_asends_released_by_exit_are_counted_in_dropped() -> None:
    signal = AsyncSignal()
    with anyio.fail_after(5):
        async with (
            anyio.create_task_group() as tg,
            signal.subscribe(max_buffer=1, overflow="block") as events,
        ):
            await signal.asend(None, n=0)
            tg.start_soon(functools.partial(signal.asend, None, n=1))
            tg.start_soon(functools.partial(signal.asend_robust, None, n=2))
            await anyio.wait_all_tasks_blocked()
    assert numbers(await remaining(events)) == [0]
    assert events.dropped == 2


async def test_exiting_releases_a_thread_send_waiting_for_room_counted_in_dropped() -> (
    None
):
    signal = AsyncSignal()
    async with signal.subscribe(max_buffer=1, overflow="block") as events:
        signal.send(None, n=0)
        sending = threading.Event()
        thread = started(setting_first(sending, lambda: signal.send(None, n=1)))
        assert await thread.blocks_after(sending)
    await thread.finish()
    assert numbers(await remaining(events)) == [0]
    assert events.dropped == 1


# -- many threads -----------------------------------------------------------------

THREADS, SENDS = 4, 500


def send_from(signal: AsyncSignal, thread: int, method: str = "send") -> None:
    call = signal.send if method == "send" else signal.send_robust
    for n in range(SENDS):
        call(None, thread=thread, n=n)


async def asend_from(signal: AsyncSignal, thread: int) -> None:
    for n in range(SENDS):
        await signal.asend(None, thread=thread, n=n)


def per_thread(events: list[Event]) -> dict[int, list[int]]:
    order: dict[int, list[int]] = {thread: [] for thread in range(THREADS)}
    for event in events:
        order[event.kwargs["thread"]].append(event.kwargs["n"])
    return order


@pytest.mark.parametrize(
    ("max_buffer", "overflow"),
    [(THREADS * SENDS, "drop_oldest"), (8, "block")],
    ids=["big-buffer", "block"],
)
@pytest.mark.parametrize("origin", ["plain-threads", "worker-threads", "thread-loops"])
@pytest.mark.parametrize("anyio_backend", BACKENDS_WITHOUT_EAGER)
async def test_sends_from_4_threads_all_reach_the_subscriber_in_per_thread_order(
    max_buffer: int, overflow: Any, origin: str
) -> None:
    signal = AsyncSignal()
    log: list[int] = []
    lock = threading.Lock()

    def receiver(**kwargs: Any) -> None:
        with lock:
            log.append(kwargs["n"])

    signal.connect(receiver)
    async with (
        anyio.create_task_group() as tg,
        signal.subscribe(max_buffer=max_buffer, overflow=overflow) as events,
    ):
        threads: list[Thread] = []
        for thread in range(THREADS):
            method = ("send", "send_robust")[thread % 2]
            if origin == "plain-threads":
                threads.append(started(functools.partial(send_from, signal, thread)))
            elif origin == "worker-threads":
                tg.start_soon(
                    anyio.to_thread.run_sync,
                    functools.partial(send_from, signal, thread, method),
                )
            else:  # each thread runs asend on an event loop of its own
                backend = ("asyncio", "trio")[thread % 2]
                threads.append(
                    started(
                        functools.partial(
                            anyio.run, asend_from, signal, thread, backend=backend
                        )
                    )
                )
        collected = await take(events, THREADS * SENDS)
        for each in threads:
            await each.finish()
    assert per_thread(collected) == {t: list(range(SENDS)) for t in range(THREADS)}
    assert events.dropped == 0
    assert len(log) == THREADS * SENDS


# -- arguments ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "error", "match"),
    [
        ({"max_buffer": 0}, ValueError, r"max_buffer .*\b0\b"),
        ({"max_buffer": -1}, ValueError, r"max_buffer .*-1\b"),
        ({"max_buffer": "10"}, TypeError, r"max_buffer .*'10'"),
        ({"max_buffer": True}, TypeError, r"max_buffer .*True"),
        ({"max_buffer": 2.0}, TypeError, r"max_buffer .*2\.0"),
        ({"max_buffer": None}, TypeError, r"max_buffer .*None"),
        ({"overflow": "nope"}, ValueError, r"overflow .*'nope'"),
        ({"overflow": None}, ValueError, r"overflow .*None"),
        ({"overflow": "BLOCK"}, ValueError, r"overflow .*'BLOCK'"),
    ],
)
def test_subscribe_rejects_bad_arguments_naming_them(
    arguments: dict[str, Any], error: type[Exception], match: str
) -> None:
    signal = AsyncSignal()
    with pytest.raises(error, match=match):
        signal.subscribe(**arguments)
    assert signal._subscriptions == ()


def test_subscribe_keeps_its_arguments() -> None:
    signal = AsyncSignal()
    sender = Sender()
    default = signal.subscribe()
    assert (default.sender, default.max_buffer, default.overflow) == (
        None,
        100,
        "drop_oldest",
    )
    custom = signal.subscribe(sender, max_buffer=1, overflow="block")
    assert (custom.sender, custom.max_buffer, custom.overflow) == (sender, 1, "block")
    assert custom.dropped == 0
    assert "overflow='block'" in repr(custom)


# -- misuse and fairness -----------------------------------------------------


async def test_a_subscription_can_be_entered_only_once() -> None:
    signal = AsyncSignal()
    subscription = signal.subscribe()
    async with subscription:
        pass
    with pytest.raises(RuntimeError, match="entered only once"):
        await subscription.__aenter__()
    assert signal._subscriptions == ()


async def test_iterating_a_subscription_outside_its_block_is_an_error() -> None:
    signal = AsyncSignal()
    subscription = signal.subscribe()
    with pytest.raises(RuntimeError, match="inside its block"):
        await anext(subscription)


async def test_taking_a_ready_event_is_a_checkpoint_that_loses_nothing() -> None:
    """A ready event is taken only after a checkpoint (other tasks may run, a
    pending cancellation is delivered), so a cancelled consumer loses nothing."""
    signal = AsyncSignal()
    async with signal.subscribe() as events:
        await signal.asend(None, n=1)
        with anyio.CancelScope() as scope:
            scope.cancel()
            await anext(events)
        assert scope.cancelled_caught
        assert (await anext(events)).kwargs == {"n": 1}


def test_a_plain_with_is_refused_with_a_message_saying_async_with() -> None:
    signal = AsyncSignal()
    with (
        pytest.raises(
            TypeError,
            match=r"^a subscription is an async context manager: use "
            r"'async with signal\.subscribe\(\) as events:', not 'with'$",
        ),
        signal.subscribe(),  # type: ignore[attr-defined]
    ):
        pass  # pragma: no cover
    assert signal._subscriptions == ()
