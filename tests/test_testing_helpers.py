"""``asyncsignal.testing``: ``capture``, ``muted`` and ``connected_to``.

``capture`` records the sends made inside its block, from tasks and threads,
in send order, while receivers still run; ``muted`` keeps every receiver from
being called (sends return ``[]``) and nests; ``connected_to`` connects a
receiver strongly for its block only, leaving other registrations alone.
"""

from __future__ import annotations

import gc
import threading
import warnings
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest
from receivers import METHODS, Sender, make_async, make_sync, numbers, send_by

from asyncsignal import AsyncSignal, Event
from asyncsignal.testing import capture, connected_to, muted

if TYPE_CHECKING:
    from collections.abc import Callable


Responses = list[tuple[Any, Any]]


async def in_plain_thread(call: Callable[[], object]) -> None:
    """Run ``call()`` in a new thread with no event loop; wait for it here."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            call()
        except BaseException as error:  # handed back to the test's thread
            errors.append(error)

    thread = threading.Thread(target=target)
    thread.start()
    await anyio.to_thread.run_sync(thread.join, 10)
    assert not thread.is_alive()
    if errors:
        raise errors[0]


# -- capture ------------------------------------------------------------------------


async def test_capture_records_every_send_method_in_order_while_receivers_run() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    receiver = make_sync(log, "receiver")  # referenced: connected weakly
    signal.connect(receiver)
    sender = Sender()
    with capture(signal) as sent:
        for n, method in enumerate(METHODS):
            assert await send_by(method, signal, sender, n=n) == [
                (receiver, "receiver")
            ]
    assert log == ["receiver"] * 4
    assert all(isinstance(event, Event) for event in sent)
    assert [(event.signal, event.sender, dict(event.kwargs)) for event in sent] == [
        (signal, sender, {"n": n}) for n in range(4)
    ]


async def test_capture_records_sends_with_no_receiver_connected() -> None:
    signal = AsyncSignal()
    with capture(signal) as sent:
        assert signal.send(None, n=1) == []
        assert await signal.asend_robust(None, n=2) == []
    assert numbers(sent) == [1, 2]


async def test_capture_records_sends_from_tasks_and_threads_in_send_order() -> None:
    signal = AsyncSignal()
    received: list[tuple[str, int]] = []
    lock = threading.Lock()

    async def receiver(**kwargs: Any) -> None:
        await anyio.lowlevel.checkpoint()
        with lock:
            received.append((kwargs["origin"], kwargs["n"]))

    signal.connect(receiver)

    async def send_from_task(origin: str) -> None:
        for n in range(50):
            await signal.asend(None, origin=origin, n=n)

    def send_from_thread(origin: str) -> None:
        for n in range(50):
            signal.send(None, origin=origin, n=n)

    with capture(signal) as sent:
        async with anyio.create_task_group() as tg:
            tg.start_soon(send_from_task, "task 1")
            tg.start_soon(send_from_task, "task 2")
            tg.start_soon(anyio.to_thread.run_sync, send_from_thread, "worker")
            tg.start_soon(in_plain_thread, lambda: send_from_thread("plain"))
    origins = ("task 1", "task 2", "worker", "plain")
    assert {
        origin: [
            event.kwargs["n"] for event in sent if event.kwargs["origin"] == origin
        ]
        for origin in origins
    } == {origin: list(range(50)) for origin in origins}
    assert len(received) == len(sent) == 200


async def test_capture_records_a_send_before_its_receivers_run() -> None:
    signal = AsyncSignal()
    seen_by_receivers: list[int] = []
    with capture(signal) as sent:

        def sync_receiver(**kwargs: Any) -> None:
            seen_by_receivers.append(len(sent))

        async def async_receiver(**kwargs: Any) -> None:
            seen_by_receivers.append(len(sent))

        signal.connect(sync_receiver)
        signal.send_robust(None)
        signal.connect(async_receiver)
        await signal.asend(None)
    assert seen_by_receivers == [1, 2, 2]


async def test_capture_filters_by_sender_identity() -> None:
    signal = AsyncSignal()
    mine, equal_but_other = [1], [1]
    with capture(signal, mine) as mine_sent, capture(signal) as all_sent:
        signal.send(mine, n=1)
        signal.send(equal_but_other, n=2)
        await signal.asend(None, n=3)
        await signal.asend(mine, n=4)
    assert numbers(mine_sent) == [1, 4]
    assert all(event.sender is mine for event in mine_sent)
    assert numbers(all_sent) == [1, 2, 3, 4]


async def test_capture_stops_recording_when_its_block_exits() -> None:
    signal = AsyncSignal()
    signal.send(None, n=0)
    with capture(signal) as sent:
        signal.send(None, n=1)
    signal.send(None, n=2)
    await signal.asend(None, n=3)
    await in_plain_thread(lambda: signal.send(None, n=4))
    assert numbers(sent) == [1]
    assert signal._subscriptions == ()


def test_capture_stops_recording_when_its_block_exits_by_exception() -> None:
    signal = AsyncSignal()
    with pytest.raises(LookupError), capture(signal) as sent:  # noqa: PT012
        signal.send(None, n=1)
        raise LookupError
    signal.send(None, n=2)
    assert numbers(sent) == [1]
    assert signal._subscriptions == ()


def test_capture_is_not_a_receiver() -> None:
    signal = AsyncSignal()
    with capture(signal):
        assert not signal.has_listeners()
        assert len(signal.receivers) == 0
        assert signal.send(None) == []


# -- muted --------------------------------------------------------------------------


async def test_muted_calls_no_receiver_and_every_send_returns_nothing() -> None:
    signal = AsyncSignal()
    sender = Sender()
    log: list[str] = []
    receivers = [
        make_sync(log, "sync"),
        make_async(log, "async"),
        make_async(log, "suspending", suspend=True),
    ]
    for each in receivers:
        signal.connect(each)
    thread_receiver = make_sync(log, "thread")
    signal.connect(thread_receiver, sender=sender, thread=True, once=True)
    with muted(signal):
        assert not signal.has_listeners()
        assert not signal.has_listeners(sender)
        for method in METHODS:
            assert await send_by(method, signal, sender) == []
            assert await send_by(method, signal, None) == []
        await anyio.to_thread.run_sync(lambda: signal.send(sender))
        await in_plain_thread(lambda: signal.send_robust(sender))
    assert log == []
    assert signal.has_listeners()
    assert signal.has_listeners(sender)
    assert len(signal.receivers) == 4
    assert len(await signal.asend(sender)) == 4  # the once receiver is still there
    assert len(await signal.asend(sender)) == 3


def test_muted_nests_and_unmutes_on_the_outer_exit() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    receiver = make_sync(log, "receiver")  # referenced: connected weakly
    signal.connect(receiver)
    with muted(signal):
        with muted(signal):
            assert signal.send(None) == []
        assert not signal.has_listeners()
        assert signal.send(None) == []
    assert signal.has_listeners()
    assert signal.send(None) == [(receiver, "receiver")]
    assert log == ["receiver"]


def test_muted_holds_for_receivers_connected_inside_and_ends_on_exception() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    receiver = make_sync(log, "receiver")  # referenced: connected weakly
    with pytest.raises(LookupError), muted(signal):  # noqa: PT012
        signal.connect(receiver)
        assert signal.send(None) == []
        assert not signal.has_listeners()
        raise LookupError
    assert signal.send(None) == [(receiver, "receiver")]
    assert log == ["receiver"]


def test_muted_applies_to_one_signal_only() -> None:
    signal, other = AsyncSignal(), AsyncSignal()
    log: list[str] = []
    receiver = make_sync(log, "receiver")  # referenced: connected weakly
    signal.connect(receiver)
    other.connect(receiver)
    with muted(signal):
        assert other.send(None) == [(receiver, "receiver")]
        assert signal.send(None) == []
    assert log == ["receiver"]


async def test_capture_and_subscriptions_still_see_sends_inside_muted() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    receiver = make_sync(log, "receiver")  # referenced: connected weakly
    signal.connect(receiver)
    with muted(signal), capture(signal) as sent:
        async with signal.subscribe() as events:
            for n, method in enumerate(METHODS):
                assert await send_by(method, signal, None, n=n) == []
        with anyio.fail_after(5):
            subscribed = [event async for event in events]
    assert log == []
    assert numbers(sent) == numbers(subscribed) == [0, 1, 2, 3]
    with capture(signal) as sent, muted(signal):
        signal.send(None, n=4)
    assert numbers(sent) == [4]


# -- connected_to -------------------------------------------------------------------


async def test_connected_to_connects_a_lambda_strongly_for_the_block_only() -> None:
    signal = AsyncSignal()
    calls: list[object] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no WeakReceiverWarning
        with connected_to(signal, lambda **kwargs: calls.append(kwargs["n"])) as got:
            gc.collect()
            assert signal.has_listeners()
            assert list(signal.receivers) == [got]
            responses = signal.send(None, n=1)
            assert responses == [(got, None)]
            await signal.asend(None, n=2)
    assert calls == [1, 2]
    assert not signal.has_listeners()
    assert len(signal.receivers) == 0
    assert signal.send(None, n=3) == []


async def test_connected_to_yields_the_receiver_and_works_with_async_ones() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    receiver = make_async(log, "async", suspend=True)
    with connected_to(signal, receiver) as got:
        assert got is receiver
        assert await signal.asend(None) == [(receiver, "async")]
    assert await signal.asend(None) == []
    assert log == ["async:start", "async:end"]


def test_connected_to_disconnects_when_its_block_exits_by_exception() -> None:
    signal = AsyncSignal()
    calls: list[int] = []
    receiver = connected_to(signal, lambda **kwargs: calls.append(1))
    with pytest.raises(LookupError), receiver:  # noqa: PT012
        assert len(signal.send(None)) == 1
        raise LookupError
    assert not signal.has_listeners()
    assert signal.send(None) == []
    assert calls == [1]


def test_connected_to_filters_by_sender() -> None:
    signal = AsyncSignal()
    mine, other = Sender("mine"), Sender("other")
    log: list[str] = []
    receiver = make_sync(log, "receiver")
    with connected_to(signal, receiver, sender=mine):
        assert signal.send(other) == []
        assert signal.send(mine) == [(receiver, "receiver")]
        assert signal.has_listeners(mine)
        assert not signal.has_listeners(other)
    assert not signal.has_listeners(mine)
    assert log == ["receiver"]


@pytest.mark.parametrize("weak", [True, False])
@pytest.mark.parametrize("registered_for", [None, "sender"])
def test_connected_to_leaves_an_existing_registration_of_the_receiver_in_place(
    weak: bool, registered_for: str | None
) -> None:
    signal = AsyncSignal()
    sender = Sender()
    existing_sender = sender if registered_for else None
    log: list[str] = []
    receiver = make_sync(log, "receiver")
    signal.connect(receiver, sender=existing_sender, weak=weak)
    with connected_to(signal, receiver, sender=existing_sender):
        assert receiver in signal.receivers
    gc.collect()
    assert list(signal.receivers) == [receiver]
    assert signal.has_listeners(sender)
    log.clear()
    assert signal.send(sender) == [(receiver, "receiver")]
    assert log == ["receiver"]
    assert signal.disconnect(receiver, sender=existing_sender)
    assert not signal.has_listeners(sender)


def test_connected_to_blocks_nest_and_each_removes_its_own() -> None:
    signal = AsyncSignal()
    first = make_sync([], "first")
    second = make_sync([], "second")
    with connected_to(signal, first):
        with connected_to(signal, second):
            assert [r for r, _ in signal.send(None)] == [first, second]
        assert [r for r, _ in signal.send(None)] == [first]
    assert signal.send(None) == []
