"""Who is listening: the live ``receivers`` view and ``has_listeners``."""

from __future__ import annotations

import gc
from typing import Any

from receivers import (
    Sender,
    Target,
    async_function,
    make_sync,
    sync_function,
)

from asyncsignal import AsyncSignal, Receivers

Collect = Any  # the ``collect`` fixture from conftest.py: call it to run the GC

# -- has_listeners ------------------------------------------------------------


def test_has_listeners_is_false_without_receivers() -> None:
    signal = AsyncSignal()
    assert signal.has_listeners() is False
    assert signal.has_listeners(Sender()) is False


def test_has_listeners_counts_any_sender_receivers_for_every_sender() -> None:
    signal = AsyncSignal()
    signal.connect(sync_function)
    assert signal.has_listeners() is True
    assert signal.has_listeners(Sender()) is True


def test_has_listeners_with_no_sender_ignores_sender_specific_receivers() -> None:
    signal = AsyncSignal()
    sender = Sender()
    signal.connect(sync_function, sender=sender)
    assert signal.has_listeners() is False
    assert signal.has_listeners(None) is False
    assert signal.has_listeners(sender) is True
    assert signal.has_listeners(Sender()) is False


def test_has_listeners_turns_false_after_disconnect_and_after_death(
    collect: Collect,
) -> None:
    signal = AsyncSignal()
    signal.connect(sync_function)
    assert signal.has_listeners()
    signal.disconnect(sync_function)
    assert not signal.has_listeners()
    handler = signal.connect(make_sync([], "h"))
    assert signal.has_listeners()
    del handler
    collect()
    assert not signal.has_listeners()


# -- the receivers view -------------------------------------------------------


def test_receivers_view_is_empty_and_falsy_without_registrations() -> None:
    signal = AsyncSignal()
    view = signal.receivers
    assert isinstance(view, Receivers)
    assert len(view) == 0
    assert not view
    assert list(view) == []
    assert sync_function not in view


def test_receivers_view_is_live() -> None:
    signal = AsyncSignal()
    view = signal.receivers
    signal.connect(sync_function)
    assert len(view) == 1
    assert view
    assert list(view) == [sync_function]
    signal.disconnect(sync_function)
    assert len(view) == 0
    assert not view


def test_receivers_view_iterates_in_connection_order_across_senders() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    one, two = Sender(), Sender()
    a = signal.connect(make_sync(log, "a"), sender=one)
    b = signal.connect(make_sync(log, "b"))
    c = signal.connect(make_sync(log, "c"), sender=two)
    d = signal.connect(make_sync(log, "d"), sender=one)
    assert list(signal.receivers) == [a, b, c, d]
    assert len(signal.receivers) == 4


def test_receivers_view_membership() -> None:
    signal = AsyncSignal()
    target = Target()
    signal.connect(sync_function, sender=Sender)
    signal.connect(target.method)
    assert sync_function in signal.receivers
    assert target.method in signal.receivers  # a new bound method object
    assert Target().method not in signal.receivers
    assert async_function not in signal.receivers


def test_iterating_receivers_skips_one_that_dies_meanwhile() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    holder = [make_sync(log, "first"), make_sync(log, "dies")]
    for receiver in holder:
        signal.connect(receiver)
    seen = []
    for receiver in signal.receivers:
        seen.append(receiver)
        del holder[1:]
        gc.collect()
    assert seen == holder
    assert len(seen) == 1
