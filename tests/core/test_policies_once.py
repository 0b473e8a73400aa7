"""``once=True``: the registration is removed before its first call; concurrent
sends from tasks and threads call it exactly once.
"""

from __future__ import annotations

import threading
from typing import Any

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread
import pytest
from receivers import (
    GENEROUS,
    make_async,
    make_sync,
)

from asyncsignal import AsyncSignal

Responses = list[tuple[Any, Any]]


# -- once= --------------------------------------------------------------------


def test_once_sync_receiver_resending_under_send_is_not_called_again() -> None:
    signal = AsyncSignal()
    inner: list[Responses] = []
    calls: list[str] = []

    def resends(**kwargs: Any) -> str:
        calls.append("called")
        if len(calls) == 1:  # re-send once at most, even if once= were ignored
            inner.append(signal.send(None))
        return "resends"

    signal.connect(resends, once=True)

    assert signal.send(None) == [(resends, "resends")]
    assert inner == [[]]
    assert calls == ["called"]
    assert signal.send(None) == []
    assert len(signal.receivers) == 0


@pytest.mark.parametrize("kind", ["sync", "async", "thread"])
async def test_once_receiver_resending_under_asend_is_not_called_again(
    anyio_backend: Any, kind: str
) -> None:
    signal = AsyncSignal()
    inner: list[Responses] = []
    calls: list[str] = []

    def sync_resends(**kwargs: Any) -> str:
        calls.append("called")
        if len(calls) == 1:  # re-send once at most, even if once= were ignored
            if kind == "thread":
                # In a worker thread: back to the loop for the nested asend.
                inner.append(anyio.from_thread.run(signal.asend, None))
            else:
                inner.append(signal.send(None))
        return "resends"

    async def async_resends(**kwargs: Any) -> str:
        calls.append("called")
        if len(calls) == 1:
            inner.append(await signal.asend(None))
        return "resends"

    resends = async_resends if kind == "async" else sync_resends
    signal.connect(resends, once=True, thread=kind == "thread" or None)

    assert await signal.asend(None) == [(resends, "resends")]
    assert inner == [[]]
    assert calls == ["called"]
    assert await signal.asend(None) == []
    assert len(signal.receivers) == 0


async def race_for_a_once_receiver(kind: str) -> None:
    """8 threads send() and 8 tasks asend(), all released together."""
    signal = AsyncSignal()
    calls: list[str] = []

    def sync_once(**kwargs: Any) -> str:
        calls.append("called")
        return "once"

    async def async_once(**kwargs: Any) -> str:
        calls.append("called")
        await anyio.lowlevel.checkpoint()
        return "once"

    once = async_once if kind == "async" else sync_once
    signal.connect(once, once=True, thread=kind == "thread" or None)
    # Every send also has an ordinary receiver to call.
    always = make_sync([], "always")
    signal.connect(always)

    start = threading.Barrier(9)
    go = anyio.Event()
    responses: list[Responses] = []

    def send_from_thread() -> None:
        start.wait(GENEROUS)
        responses.append(signal.send(None))

    async def asend_from_task() -> None:
        await go.wait()
        responses.append(await signal.asend(None))

    threads = [threading.Thread(target=send_from_thread) for _ in range(8)]
    for thread in threads:
        thread.start()
    async with anyio.create_task_group() as group:
        for _ in range(8):
            group.start_soon(asend_from_task)
        await anyio.wait_all_tasks_blocked()
        # The threads are all waiting here: let them and the tasks go.
        start.wait(GENEROUS)
        go.set()
    for thread in threads:
        await anyio.to_thread.run_sync(thread.join, GENEROUS)

    assert calls == ["called"]
    assert len(responses) == 16
    assert sum((once, "once") in r for r in responses) == 1
    assert all((always, "always") in r for r in responses)
    assert list(signal.receivers) == [always]


@pytest.mark.parametrize("kind", ["sync", "async", "thread"])
async def test_once_receiver_is_called_exactly_once_by_concurrent_tasks_and_threads(
    anyio_backend: Any, kind: str
) -> None:
    for _ in range(3):
        await race_for_a_once_receiver(kind)


@pytest.mark.parametrize("kind", ["sync", "async", "thread"])
@pytest.mark.parametrize("method", ["send", "asend"])
async def test_once_receiver_that_raises_is_still_removed(
    anyio_backend: Any, kind: str, method: str
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    failing = (
        make_async(log, "failing", raises=ValueError("failing"))
        if kind == "async"
        else make_sync(log, "failing", raises=ValueError("failing"))
    )
    signal.connect(failing, once=True, thread=kind == "thread" or None)

    async def send() -> Responses:
        if method == "send":
            return await anyio.to_thread.run_sync(signal.send, None)
        return await signal.asend(None)

    with pytest.raises(ValueError, match="failing"):
        await send()

    assert len(signal.receivers) == 0
    assert await signal.asend(None) == []
    assert log.count("failing") + log.count("failing:start") == 1


def test_once_registrations_count_as_listeners_until_consumed() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    sender = object()
    for_sender = make_sync(log, "for_sender")
    for_anyone = make_sync(log, "for_anyone")
    signal.connect(for_sender, sender=sender, once=True)

    assert signal.has_listeners(sender)
    assert not signal.has_listeners(None)
    assert len(signal.receivers) == 1
    assert list(signal.receivers) == [for_sender]
    assert for_sender in signal.receivers

    signal.connect(for_anyone, once=True)
    assert signal.has_listeners(None)
    assert len(signal.receivers) == 2

    assert signal.send(sender) == [
        (for_sender, "for_sender"),
        (for_anyone, "for_anyone"),
    ]
    assert not signal.has_listeners(sender)
    assert not signal.has_listeners(None)
    assert len(signal.receivers) == 0
    assert not signal.receivers


def test_disconnecting_a_once_receiver_before_any_send() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    once = make_sync(log, "once")
    signal.connect(once, once=True)
    signal.connect(once, once=True, dispatch_uid="uid")

    assert signal.disconnect(once)
    assert signal.disconnect(dispatch_uid="uid")
    assert not signal.disconnect(once)
    assert signal.send(None) == []
    assert log == []


async def test_asend_skips_a_once_receiver_claimed_by_a_nested_send() -> None:
    signal = AsyncSignal()
    calls: list[str] = []

    def resend(**kwargs: Any) -> None:
        if not calls:
            calls.append("outer")
            signal.send_robust(None)

    def once(**kwargs: Any) -> str:
        calls.append("once")
        return "once"

    signal.connect(resend, weak=False)
    signal.connect(once, weak=False, once=True, thread=True)
    responses = await signal.asend(None)
    assert calls == ["outer", "once"]
    assert [receiver for receiver, _ in responses] == [resend]
