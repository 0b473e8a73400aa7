"""Tests that reach into asyncsignal's private modules and attributes.

They drive states that only races reach (a weak-reference callback not yet
processed, or run while the registry's lock is held) and check bookkeeping
that the public API cannot see. The rest of the suite uses the public API
only; when the internals change, only this file should need to follow.
"""

from __future__ import annotations

import asyncio
import gc
import importlib.metadata
import sys
import types
from typing import Any

import anyio
import pytest
from receivers import Sender, make_sync
from support.backends import ASYNCIO_BACKENDS

from asyncsignal import AsyncSignal, Event, ReceiverTimeout, _inline_send
from asyncsignal._backends import _anyio_scopes
from asyncsignal._backends._anyio_scopes import anyio_asyncio_internals
from asyncsignal._backends._threads import _TokenedCall
from asyncsignal._registry import _CACHE_LIMIT, Registry


def test_connect_replaces_a_dead_registration_whose_callback_is_not_processed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While the garbage collector runs in another thread, a dead registration
    can still be in place when connect looks; it must not block the new one."""
    signal = AsyncSignal()
    log: list[str] = []
    first, second = make_sync(log, "first"), make_sync(log, "second")
    signal.connect(first, dispatch_uid="uid")
    purge = Registry._purge_dead
    monkeypatch.setattr(Registry, "_purge_dead", lambda self: None)
    del first
    gc.collect()
    signal.connect(second, dispatch_uid="uid")
    monkeypatch.setattr(Registry, "_purge_dead", purge)
    assert list(signal.receivers) == [second]
    assert signal.send(None) == [(second, "second")]


def test_weakref_callbacks_leave_the_purge_to_a_lock_holder() -> None:
    """A callback that finds the lock held (say, the garbage collector ran
    inside this registry's own locked code) queues its key without waiting;
    the next operation purges it."""
    signal = AsyncSignal()
    registry = signal._registry
    sender = Sender()
    log: list[str] = []
    handler = make_sync(log, "h")
    signal.connect(handler, sender=sender)
    with registry._lock:
        del sender
        gc.collect()
        del handler
        gc.collect()
        assert len(registry._dead) == 2  # queued, not purged, nothing blocked
    assert len(signal.receivers) == 0
    assert not registry.by_sender


def test_disconnecting_everything_leaves_an_empty_sender_index() -> None:
    signal = AsyncSignal()
    sender = Sender()
    log: list[str] = []
    handler = make_sync(log, "h")
    for uid in (None, "uid"):
        for target in (None, sender):
            signal.connect(handler, sender=target, dispatch_uid=uid)
            assert signal.disconnect(handler, sender=target, dispatch_uid=uid)
    assert not signal._registry.by_sender


async def test_a_send_reaching_a_subscription_after_its_exit_delivers_nothing() -> None:
    """A send in another thread takes the signal's subscriptions before it
    delivers; one that exited meanwhile takes nothing, counts nothing."""
    signal = AsyncSignal()
    async with signal.subscribe() as events:
        pass
    assert events.put_nowait(Event(signal, None, {})) is True
    assert events.dropped == 0
    assert [event async for event in events] == []


def test_the_plan_cache_is_bounded() -> None:
    """Plans are cached per sender id; a signal sent from ever new senders
    starts its cache again once it holds ``_CACHE_LIMIT`` plans."""
    signal = AsyncSignal()
    log: list[str] = []
    handler = signal.connect(make_sync(log, "h"))
    senders = [Sender() for _ in range(_CACHE_LIMIT + 1)]
    for sender in senders:
        assert signal.send(sender) == [(handler, "h")]
    assert len(signal._registry.cache) == 1


def test_sends_past_the_bound_on_generated_callers_use_the_generic_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``send`` generates a caller per set of payload keys, up to
    ``_SEND_CALLERS_LIMIT`` of them; other key sets then share the generic
    caller, which passes their keys on just the same."""
    monkeypatch.setattr(_inline_send, "_send_callers", {})
    signal = AsyncSignal()
    seen: list[dict[str, Any]] = []

    def receiver(**kwargs: Any) -> None:
        seen.append(kwargs)

    signal.connect(receiver)
    last = _inline_send._SEND_CALLERS_LIMIT + 1
    for number in range(last + 1):
        signal.send(None, **{f"key{number}": number})
    assert len(_inline_send._send_callers) == _inline_send._SEND_CALLERS_LIMIT
    assert seen[-1] == {"signal": signal, "sender": None, f"key{last}": last}


# -- a thread receiver's limiter token (_backends._threads._TokenedCall) ----
# The races between the waiting task and the worker thread, one step at a time.


def test_a_thread_call_abandoned_before_it_starts_returns_its_token_once() -> None:
    calls: list[str] = []
    released: list[str] = []
    loop = asyncio.new_event_loop()
    try:
        tokened = _TokenedCall(
            lambda: calls.append("call"), lambda: released.append("token"), loop
        )
        tokened.stop_waiting()  # cancelled before a worker took the call up
        assert released == ["token"]
        assert tokened() is None  # the worker, late: the call is skipped
        assert calls == []
        assert released == ["token"]
    finally:
        loop.close()


def test_a_thread_call_abandoned_while_running_returns_its_token_when_it_ends() -> None:
    released: list[str] = []
    loop = asyncio.new_event_loop()
    try:

        def call() -> str:
            tokened.stop_waiting()  # the waiting task gives up meanwhile
            assert released == []
            return "done"

        tokened = _TokenedCall(call, lambda: released.append("token"), loop)
        assert tokened() == "done"
        assert released == []  # handed to the loop's thread
        loop.call_soon(loop.stop)
        loop.run_forever()
        assert released == ["token"]
    finally:
        loop.close()


def test_a_thread_call_outliving_its_event_loop_drops_its_token() -> None:
    released: list[str] = []
    loop = asyncio.new_event_loop()

    def call() -> None:
        tokened.stop_waiting()
        loop.close()  # the loop, and the limiter with it, are gone

    tokened = _TokenedCall(call, lambda: released.append("token"), loop)
    assert tokened() is None
    assert released == []


# -- anyio's private internals (_backends._anyio_scopes) -------------------
# The one place asyncsignal reads anyio's private members: cancelling a
# receiver's task through its anyio cancel scopes so that shields hold.


@pytest.mark.parametrize("anyio_backend", ASYNCIO_BACKENDS)
async def test_the_anyio_internals_for_shielded_cancellation_are_found(
    anyio_backend: Any,
) -> None:
    """Fails on an anyio whose asyncio backend changed these internals: then
    ``_cancel_task`` falls back to ``Task.cancel()`` and shields in receivers
    no longer hold on asyncio (see ``anyio_asyncio_internals``)."""
    backend = sys.modules["anyio._backends._asyncio"]
    assert anyio_asyncio_internals() is backend, (
        f"anyio {importlib.metadata.version('anyio')} changed the internals "
        "asyncsignal._backends._anyio_scopes.cancel_task uses"
    )


def test_the_anyio_internals_guard_rejects_a_backend_without_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    complete = sys.modules["anyio._backends._asyncio"]
    for missing in ("_task_states", "TaskState", "CancelScope"):
        changed = types.ModuleType("anyio._backends._asyncio")
        changed.__dict__.update(
            {name: getattr(complete, name) for name in ("_task_states", "TaskState")}
            | {"CancelScope": complete.CancelScope}
        )
        delattr(changed, missing)
        monkeypatch.setitem(sys.modules, "anyio._backends._asyncio", changed)
        assert anyio_asyncio_internals() is None, missing

    class ScopeWithoutDelivery:
        __slots__ = ("_child_scopes", "_parent_scope")

    changed = types.ModuleType("anyio._backends._asyncio")
    changed.__dict__.update(
        _task_states=complete._task_states,
        TaskState=complete.TaskState,
        CancelScope=ScopeWithoutDelivery,
    )
    monkeypatch.setitem(sys.modules, "anyio._backends._asyncio", changed)
    assert anyio_asyncio_internals() is None
    monkeypatch.delitem(sys.modules, "anyio._backends._asyncio")
    assert anyio_asyncio_internals() is None


@pytest.mark.parametrize("anyio_backend", ASYNCIO_BACKENDS)
async def test_without_the_anyio_internals_receivers_are_still_cancelled_and_awaited(
    anyio_backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fallback: ``Task.cancel()``, shields aside, as before."""
    monkeypatch.setattr(_anyio_scopes, "anyio_asyncio_internals", lambda: None)
    log: list[str] = []

    async def hangs(**kwargs: Any) -> None:
        try:
            with anyio.CancelScope():  # inside an anyio scope, as receivers are
                await anyio.sleep_forever()
        finally:
            log.append("cleaned up")

    signal = AsyncSignal()
    signal.connect(hangs, timeout=0.01)
    [(_, outcome)] = await signal.asend_robust(None)
    assert isinstance(outcome, ReceiverTimeout)
    assert log == ["cleaned up"]

    untimed = AsyncSignal()
    untimed.connect(hangs)
    with anyio.move_on_after(0.01) as scope:
        await untimed.asend(None)
    assert scope.cancelled_caught
    assert log == ["cleaned up"] * 2
