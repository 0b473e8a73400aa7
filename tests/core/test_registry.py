"""The registry's bookkeeping that the public API cannot see: states only races
reach (a weak-reference callback not yet processed, or run while the
registry's lock is held), the sender index and the bounded plan cache.
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING

from receivers import Sender, make_sync

from asyncsignal import AsyncSignal
from asyncsignal._registry import _CACHE_LIMIT, Registry

if TYPE_CHECKING:
    import pytest


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
