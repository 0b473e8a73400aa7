"""``await signal.wait(sender=None, *, where=None)``: the next matching send.

Only sends that start once ``wait()`` runs count; the sender and ``where``
filter them; the caller's anyio scope bounds the wait; an error in ``where``
is the waiter's, never the sender's. Nothing is left subscribed afterwards.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
import pytest
from receivers import METHODS, Sender, make_sync, send_by

from asyncsignal import AsyncSignal, Event

if TYPE_CHECKING:
    from collections.abc import Callable

    from anyio.abc import TaskGroup


Responses = list[tuple[Any, Any]]


class Waiter:
    """Runs ``signal.wait(...)`` in a task of ``tg``; :meth:`result` gives
    its event once it returned."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.done = anyio.Event()

    @classmethod
    async def start(
        cls,
        tg: TaskGroup,
        signal: AsyncSignal,
        sender: object = None,
        where: Callable[[Event], bool] | None = None,
    ) -> Waiter:
        """Start waiting, and return once the waiter is subscribed (blocked)."""
        waiter = cls()

        async def wait() -> None:
            waiter.events.append(await signal.wait(sender, where=where))
            waiter.done.set()

        tg.start_soon(wait)
        await anyio.wait_all_tasks_blocked()
        return waiter

    async def result(self) -> Event:
        with anyio.fail_after(5):
            await self.done.wait()
        (event,) = self.events
        return event


@pytest.mark.parametrize("method", METHODS)
async def test_wait_returns_the_next_send_as_an_event(method: str) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    receiver = make_sync(log, "receiver")  # referenced: connected weakly
    signal.connect(receiver)
    sender = Sender()
    async with anyio.create_task_group() as tg:
        waiter = await Waiter.start(tg, signal)
        responses = await send_by(method, signal, sender, n=1)
        await send_by(method, signal, sender, n=2)
        event = await waiter.result()
    assert isinstance(event, Event)
    assert (event.signal, event.sender, dict(event.kwargs)) == (
        signal,
        sender,
        {"n": 1},
    )
    assert responses == [(receiver, "receiver")]  # the waiter is no receiver
    assert signal._subscriptions == ()


async def test_wait_sees_a_send_with_no_receiver_connected() -> None:
    signal = AsyncSignal()
    async with anyio.create_task_group() as tg:
        waiter = await Waiter.start(tg, signal)
        assert not signal.has_listeners()
        assert signal.send(None, n=1) == []
        assert (await waiter.result()).kwargs == {"n": 1}


async def test_wait_only_counts_sends_made_after_it_starts() -> None:
    signal = AsyncSignal()
    signal.send(None, n=0)
    await signal.asend(None, n=0)
    async with anyio.create_task_group() as tg:
        waiter = await Waiter.start(tg, signal)
        signal.send(None, n=1)
        assert (await waiter.result()).kwargs == {"n": 1}
        # A second wait does not get an event sent before it started either.
        waiter = await Waiter.start(tg, signal)
        await signal.asend(None, n=2)
        assert (await waiter.result()).kwargs == {"n": 2}


async def test_wait_filters_by_sender_identity() -> None:
    signal = AsyncSignal()
    mine, equal_but_other = [1], [1]
    async with anyio.create_task_group() as tg:
        waiter = await Waiter.start(tg, signal, mine)
        signal.send(equal_but_other, n=1)
        signal.send(None, n=2)
        await signal.asend(Sender(), n=3)
        await anyio.wait_all_tasks_blocked()
        assert not waiter.done.is_set()
        signal.send(mine, n=4)
        event = await waiter.result()
    assert event.sender is mine
    assert event.kwargs == {"n": 4}


async def test_where_selects_the_first_matching_event_looking_at_each_in_order() -> (
    None
):
    signal = AsyncSignal()
    looked_at: list[int] = []

    def where(event: Event) -> bool:
        assert isinstance(event, Event)
        looked_at.append(event.kwargs["n"])
        return bool(event.kwargs["n"] == 3)

    async with anyio.create_task_group() as tg:
        waiter = await Waiter.start(tg, signal, where=where)
        # All sent before the waiter runs again: none is lost meanwhile.
        for n in range(1, 6):
            signal.send(None, n=n)
        assert (await waiter.result()).kwargs == {"n": 3}
    assert looked_at == [1, 2, 3]
    assert signal._subscriptions == ()


async def test_where_and_sender_combine() -> None:
    signal = AsyncSignal()
    mine = Sender()
    async with anyio.create_task_group() as tg:
        waiter = await Waiter.start(
            tg, signal, mine, where=lambda event: event.kwargs["n"] > 1
        )
        signal.send(mine, n=1)
        signal.send(None, n=2)
        signal.send(mine, n=3)
        event = await waiter.result()
    assert (event.sender, event.kwargs) == (mine, {"n": 3})


async def test_wait_misses_no_event_when_many_sends_precede_the_match() -> None:
    signal = AsyncSignal()
    async with anyio.create_task_group() as tg:
        waiter = await Waiter.start(
            tg, signal, where=lambda event: event.kwargs["n"] == 999
        )
        for n in range(1_000):  # far beyond subscribe()'s default max_buffer
            signal.send(None, n=n)
        assert (await waiter.result()).kwargs == {"n": 999}


async def test_a_timeout_from_the_callers_scope_raises_and_leaves_no_subscription() -> (
    None
):
    signal = AsyncSignal()
    with pytest.raises(TimeoutError), anyio.fail_after(0.05):
        await signal.wait()
    assert signal._subscriptions == ()
    with anyio.move_on_after(0.01) as scope:
        await signal.wait(where=lambda event: True)
    assert scope.cancelled_caught
    assert signal._subscriptions == ()
    assert signal.send(None) == []


async def test_a_cancelled_wait_leaves_no_subscription() -> None:
    signal = AsyncSignal()
    async with anyio.create_task_group() as tg:
        await Waiter.start(tg, signal)
        assert len(signal._subscriptions) == 1
        tg.cancel_scope.cancel()
    assert signal._subscriptions == ()


@pytest.mark.parametrize("method", METHODS)
async def test_an_exception_from_where_propagates_from_wait_never_into_the_sender(
    method: str,
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    receiver = make_sync(log, "receiver")  # referenced: connected weakly
    signal.connect(receiver)
    raised: list[BaseException] = []

    def where(event: Event) -> bool:
        raise LookupError(event.kwargs["n"])

    async def wait() -> None:
        try:
            await signal.wait(where=where)
        except LookupError as error:
            raised.append(error)

    async with anyio.create_task_group() as tg:
        tg.start_soon(wait)
        await anyio.wait_all_tasks_blocked()
        assert await send_by(method, signal, None, n=1) == [(receiver, "receiver")]
    assert [error.args for error in raised] == [(1,)]
    assert log == ["receiver"]
    assert signal._subscriptions == ()
    assert await send_by(method, signal, None, n=2) == [(receiver, "receiver")]


async def test_wait_gets_sends_from_other_threads() -> None:
    signal = AsyncSignal()
    async with anyio.create_task_group() as tg:
        waiter = await Waiter.start(tg, signal)
        thread = threading.Thread(target=lambda: signal.send(None, n=1))
        thread.start()
        event = await waiter.result()
        await anyio.to_thread.run_sync(thread.join, 10)
        assert event.kwargs == {"n": 1}

        waiter = await Waiter.start(tg, signal)
        await anyio.to_thread.run_sync(lambda: signal.send_robust(None, n=2))
        assert (await waiter.result()).kwargs == {"n": 2}

        waiter = await Waiter.start(tg, signal)
        thread = threading.Thread(
            target=anyio.run, args=(signal.asend, None), kwargs={"backend": "trio"}
        )
        thread.start()
        assert (await waiter.result()).kwargs == {}
        await anyio.to_thread.run_sync(thread.join, 10)
        assert not thread.is_alive()


async def test_concurrent_waits_each_get_the_send() -> None:
    signal = AsyncSignal()
    async with anyio.create_task_group() as tg:
        waiters = [await Waiter.start(tg, signal) for _ in range(3)]
        assert len(signal._subscriptions) == 3
        await signal.asend(None, n=1)
        for waiter in waiters:
            assert (await waiter.result()).kwargs == {"n": 1}
    assert signal._subscriptions == ()
