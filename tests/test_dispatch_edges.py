"""Paths that only races or unusual input reach: receivers dying mid-dispatch,
payload keys that are not identifiers, weak-reference callbacks processed late,
repeated cancellation during cleanup, and the sync bridge's error handling."""

from __future__ import annotations

import asyncio
import gc
import sys
import weakref
from typing import Any

import anyio
import anyio.to_thread
import pytest

from asyncsignal import AsyncSignal
from asyncsignal._registry import Registry

if sys.version_info < (3, 11):
    from exceptiongroup import ExceptionGroup


def make_receivers(count: int, log: list[str]) -> list[Any]:
    receivers = []
    for i in range(count):

        def receiver(i: int = i, **kwargs: Any) -> int:
            log.append(f"r{i}")
            return i

        receivers.append(receiver)
    return receivers


def test_send_robust_skips_a_receiver_that_dies_during_the_send() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    holder = make_receivers(1, log)

    def killer(**kwargs: Any) -> str:
        holder.clear()
        gc.collect()
        return "killed"

    signal.connect(killer)
    signal.connect(holder[0])
    assert signal.send_robust(None) == [(killer, "killed")]
    assert log == []


@pytest.mark.anyio
async def test_asend_skips_a_receiver_that_dies_during_the_send() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    holder = make_receivers(1, log)

    def killer(**kwargs: Any) -> str:
        holder.clear()
        gc.collect()
        return "killed"

    signal.connect(killer)
    signal.connect(holder[0])
    assert await signal.asend(None) == [(killer, "killed")]
    assert log == []


def test_iterating_receivers_skips_one_that_dies_meanwhile() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    holder = make_receivers(2, log)
    for receiver in holder:
        signal.connect(receiver)
    seen = []
    for receiver in signal.receivers:
        seen.append(receiver)
        del holder[1:]
        gc.collect()
    assert seen == holder


def test_send_with_non_identifier_payload_keys_uses_the_generic_caller() -> None:
    signal = AsyncSignal()
    seen: list[dict[str, Any]] = []

    def receiver(**kwargs: Any) -> None:
        seen.append(kwargs)

    signal.connect(receiver)
    signal.send(None, **{"not-an-identifier": 1, "class": 2})
    assert seen == [
        {"signal": signal, "sender": None, "not-an-identifier": 1, "class": 2}
    ]


def test_send_payload_keys_may_shadow_the_callers_own_names() -> None:
    signal = AsyncSignal()
    seen: list[dict[str, Any]] = []

    def receiver(**kwargs: Any) -> None:
        seen.append(kwargs)

    signal.connect(receiver)
    signal.send(None, r=1, reg=2, registrations=3, receiver=4)
    assert seen == [
        {"signal": signal, "sender": None, "r": 1, "reg": 2, "registrations": 3}
        | {"receiver": 4}
    ]


class Sender:
    """A weakly referenceable sender."""


def test_sender_and_its_receiver_dying_together_leave_nothing_behind() -> None:
    for sender_dies_first in (True, False):
        signal = AsyncSignal()
        log: list[str] = []
        (receiver,) = make_receivers(1, log)
        sender = Sender()
        signal.connect(receiver, sender=sender)
        if sender_dies_first:
            del sender
            del receiver
        else:
            del receiver
            del sender
        gc.collect()
        assert len(signal.receivers) == 0
        assert not signal.has_listeners(Sender())


def test_connect_replaces_a_dead_registration_whose_callback_is_not_processed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While the garbage collector runs in another thread, a dead registration
    can still be in place when connect looks; it must not block the new one."""
    signal = AsyncSignal()
    log: list[str] = []
    first, second = make_receivers(2, log)
    signal.connect(first, dispatch_uid="uid")
    purge = Registry._purge_dead
    monkeypatch.setattr(Registry, "_purge_dead", lambda self: None)
    del first
    gc.collect()
    signal.connect(second, dispatch_uid="uid")
    monkeypatch.setattr(Registry, "_purge_dead", purge)
    assert list(signal.receivers) == [second]
    assert signal.send(None) == [(second, 1)]


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_repeated_native_cancellation_does_not_interrupt_receivers_cleanup() -> (
    None
):
    signal = AsyncSignal()
    cleaning = asyncio.Event()
    cleaned: list[str] = []

    async def receiver(**kwargs: Any) -> None:
        try:
            await asyncio.sleep(10)
        finally:
            cleaning.set()
            await asyncio.shield(asyncio.sleep(0.05))
            cleaned.append("cleaned")

    signal.connect(receiver)
    task = asyncio.get_running_loop().create_task(signal.asend(None))
    await asyncio.sleep(0.01)
    task.cancel()
    await cleaning.wait()
    task.cancel()  # again, while the receiver cleans up
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned == ["cleaned"]


@pytest.mark.anyio
async def test_send_from_worker_thread_reraises_a_receivers_no_event_loop_error() -> (
    None
):
    """A receiver's own NoEventLoopError is its error, not a sign that the
    calling thread has no event loop (which would run a second loop)."""
    signal = AsyncSignal()
    calls: list[str] = []

    async def receiver(**kwargs: Any) -> None:
        calls.append("called")
        raise anyio.NoEventLoopError("from the receiver")

    signal.connect(receiver)
    with pytest.raises(anyio.NoEventLoopError, match="from the receiver"):
        await anyio.to_thread.run_sync(signal.send, None)
    assert calls == ["called"]


def test_dead_sender_releases_its_strongly_connected_receivers_at_once() -> None:
    signal = AsyncSignal()
    sender = Sender()
    log: list[str] = []
    (receiver,) = make_receivers(1, log)
    signal.connect(receiver, sender=sender, weak=False)
    alive = weakref.ref(receiver)
    del receiver
    assert alive() is not None  # held by its strong registration
    del sender
    gc.collect()
    # No signal call in between: the registration went with its sender.
    assert alive() is None


@pytest.mark.anyio
async def test_a_kept_receiver_error_does_not_keep_other_receivers_alive() -> None:
    """A robust response (or a raised error) keeps the dispatch frame alive
    through its traceback; that frame must not hold every receiver."""
    signal = AsyncSignal()
    log: list[str] = []
    (bystander,) = make_receivers(1, log)

    def fails(**kwargs: Any) -> None:
        raise ValueError("kept by the caller")

    async def fails_async(**kwargs: Any) -> None:
        raise KeyError("kept by the caller")

    signal.connect(fails)
    signal.connect(fails_async)
    signal.connect(bystander)
    responses = await signal.asend_robust(None)
    kept_errors = [responses[0][1], responses[1][1]]
    with pytest.raises(ExceptionGroup) as raised:
        await signal.asend(None)
    alive = weakref.ref(bystander)
    del responses, bystander
    gc.collect()
    assert alive() is None
    assert [type(e) for e in kept_errors] == [ValueError, KeyError]
    assert len(raised.value.exceptions) == 2


def test_weakref_callbacks_leave_the_purge_to_a_lock_holder() -> None:
    """A callback that finds the lock held (say, the garbage collector ran
    inside this registry's own locked code) queues its key without waiting;
    the next operation purges it."""
    signal = AsyncSignal()
    registry = signal._registry
    sender = Sender()
    log: list[str] = []
    (receiver,) = make_receivers(1, log)
    signal.connect(receiver, sender=sender)
    with registry._lock:
        del sender
        gc.collect()
        del receiver
        gc.collect()
        assert len(registry._dead) == 2  # queued, not purged, nothing blocked
    assert len(signal.receivers) == 0
    assert not registry.by_sender
