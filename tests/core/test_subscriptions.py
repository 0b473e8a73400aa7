"""Subscriptions: ``async with signal.subscribe() as events``, then ``async for``.

A subscription sees every send (any method, any thread) made while its block is
open, filtered by sender like a receiver, before any receiver runs, without
being a receiver. Its bounded buffer drops the oldest or newest event, or makes
senders wait for room (``"block"``). It ends on exit, a cancelled consumer
included, and keeps nothing.

Overflow and sends from many threads are in ``test_subscriptions_overflow.py``.
"""

from __future__ import annotations

import functools
import gc
import tracemalloc
from typing import TYPE_CHECKING, Any, cast

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread
import pytest
from receivers import (
    METHODS,
    Sender,
    make_async,
    make_sync,
    numbers,
    remaining,
    send_by,
    started,
    take,
)
from support.backends import BACKENDS_WITHOUT_EAGER

from asyncsignal import AsyncSignal, Event, Subscription

if TYPE_CHECKING:
    from _pytest.mark import ParameterSet
    from anyio.abc import TaskStatus


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


async def test_a_send_reaching_a_subscription_after_its_exit_delivers_nothing() -> None:
    """A send in another thread takes the signal's subscriptions before it
    delivers; one that exited meanwhile takes nothing, counts nothing."""
    signal = AsyncSignal()
    async with signal.subscribe() as events:
        pass
    assert events.put_nowait(Event(signal, None, {})) is True
    assert events.dropped == 0
    assert [event async for event in events] == []
