"""A subscription's bounded buffer when it is full: ``"drop_oldest"`` and
``"drop_newest"`` drop an event (counted) and never delay a sender;
``"block"`` makes senders wait for room. Sends from many threads keep each
thread's order.
"""

from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING, Any

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread
import pytest
from receivers import (
    METHODS,
    Sender,
    Thread,
    make_sync,
    numbers,
    remaining,
    send_by,
    started,
    take,
)
from support.backends import BACKENDS_WITHOUT_EAGER

from asyncsignal import AsyncSignal, Event, _seam

if TYPE_CHECKING:
    from collections.abc import Callable

    from anyio.abc import TaskStatus


Responses = list[tuple[Any, Any]]


def setting_first(
    sending: threading.Event, call: Callable[[], object]
) -> Callable[[], None]:
    """``call``, preceded by setting ``sending``."""

    def run() -> None:
        sending.set()
        call()

    return run


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
