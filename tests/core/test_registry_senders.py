"""Senders: matched by identity, never by equality; ``None`` means any sender;
held weakly where they can be, so a dead sender's registrations disappear and
never fire for a new object that reuses its ``id()``.
"""

from __future__ import annotations

import gc
import weakref
from typing import TYPE_CHECKING, Any

import pytest
from receivers import Sender, called, make_sync

from asyncsignal import AsyncSignal

if TYPE_CHECKING:
    from collections.abc import Callable

Collect = Any  # the ``collect`` fixture from conftest.py: call it to run the GC


class AlwaysEqual:
    """Hashable, and equal to every other instance: senders match by identity."""

    def __eq__(self, other: object) -> bool:
        return True

    def __hash__(self) -> int:
        return 1


def test_receiver_without_sender_is_called_for_every_sender() -> None:
    signal = AsyncSignal()
    seen: list[object] = []

    def handler(sender: object, **kwargs: Any) -> None:
        seen.append(sender)

    signal.connect(handler)
    senders: list[object] = [Sender(), None, 42, "text", Sender, {"a": 1}]
    for sender in senders:
        signal.send(sender)
    assert len(seen) == len(senders)
    assert all(a is b for a, b in zip(seen, senders, strict=True))


def test_receiver_with_sender_is_called_only_for_that_sender() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    sender = Sender()
    specific = signal.connect(make_sync(log, "specific"), sender=sender)
    assert list(signal.receivers) == [specific]
    assert called(signal, sender) == ["specific"]
    assert called(signal, Sender()) == []
    assert called(signal, None) == []
    assert called(signal, Sender) == []
    assert log == ["specific"]


@pytest.mark.parametrize("falsy", [0, "", False, ()], ids=repr)
def test_falsy_sender_is_a_sender_not_any_sender(falsy: object) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    handler = signal.connect(make_sync(log, "h"), sender=falsy)
    assert list(signal.receivers) == [handler]
    assert called(signal, None) == []
    assert not signal.has_listeners()
    assert called(signal, object()) == []
    assert called(signal, falsy) == ["h"]


def test_senders_match_by_identity_not_equality() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    sender, equal = AlwaysEqual(), AlwaysEqual()
    assert sender == equal
    assert hash(sender) == hash(equal)
    handler = signal.connect(make_sync(log, "h"), sender=sender)
    assert list(signal.receivers) == [handler]
    assert called(signal, equal) == []
    assert called(signal, sender) == ["h"]


@pytest.mark.parametrize(
    "make_sender",
    [lambda: {"k": "v"}, lambda: ["x"], lambda: {1, 2}],
    ids=["dict", "list", "set"],
)
def test_unhashable_sender_works_and_matches_by_identity(
    make_sender: Callable[[], object], collect: Collect
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    sender = make_sender()
    handler = signal.connect(make_sync(log, "h"), sender=sender)
    collect()
    assert signal.has_listeners(sender)
    assert called(signal, sender) == ["h"]
    assert called(signal, make_sender()) == []  # equal, but another object
    assert list(signal.receivers) == [handler]


@pytest.mark.parametrize(
    "make_sender",
    [lambda: object(), lambda: 12345678901234567890, lambda: 42],
    ids=["object", "big-int", "small-int"],
)
def test_non_weakrefable_sender_works_and_keeps_its_registrations(
    make_sender: Callable[[], object], collect: Collect
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    sender = make_sender()
    with pytest.raises(TypeError):
        weakref.ref(sender)
    handler = signal.connect(make_sync(log, "h"), sender=sender)
    collect()
    assert called(signal, sender) == ["h"]
    assert signal.has_listeners(sender)
    assert list(signal.receivers) == [handler]
    assert called(signal, object()) == []


# -- dead senders ---------------------------------------------------------------


def test_registrations_disappear_when_their_sender_dies(collect: Collect) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    sender = Sender()
    handler = signal.connect(make_sync(log, "h"), sender=sender)
    other = signal.connect(make_sync(log, "other"), sender=Sender)
    assert called(signal, sender) == ["h"]
    assert len(signal.receivers) == 2
    ref = weakref.ref(sender)
    del sender
    collect()
    assert ref() is None
    assert len(signal.receivers) == 1
    assert list(signal.receivers) == [other]
    assert handler not in signal.receivers


def test_registrations_disappear_when_their_sender_class_dies(
    collect: Collect,
) -> None:
    signal = AsyncSignal()
    log: list[str] = []

    class MyModel:
        pass

    handler = signal.connect(make_sync(log, "h"), sender=MyModel)
    assert called(signal, MyModel) == ["h"]
    ref = weakref.ref(MyModel)
    del MyModel
    collect()
    assert ref() is None
    assert len(signal.receivers) == 0
    assert handler not in signal.receivers


def test_no_cache_or_index_keeps_a_sender_alive(collect: Collect) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    any_sender = signal.connect(make_sync(log, "any"))
    registered, unregistered = Sender(), Sender()
    handler = signal.connect(make_sync(log, "h"), sender=registered)
    for sender in (registered, unregistered):
        signal.send(sender)
        signal.send_robust(sender)
        signal.has_listeners(sender)
    del sender
    refs = [weakref.ref(registered), weakref.ref(unregistered)]
    del registered, unregistered
    collect()
    assert [ref() for ref in refs] == [None, None]
    assert list(signal.receivers) == [any_sender]
    assert handler not in signal.receivers


def test_sender_death_keeps_the_receivers_other_registrations(
    collect: Collect,
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    dying, staying = Sender(), Sender()
    handler = make_sync(log, "h")
    signal.connect(handler, sender=dying)
    signal.connect(handler, sender=staying)
    del dying
    collect()
    assert len(signal.receivers) == 1
    assert called(signal, staying) == ["h"]


@pytest.mark.parametrize("sender_dies_first", [True, False])
def test_sender_and_its_receiver_dying_together_leave_nothing_behind(
    sender_dies_first: bool,
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    handler = make_sync(log, "h")
    sender = Sender()
    signal.connect(handler, sender=sender)
    if sender_dies_first:
        del sender, handler
    else:
        del handler, sender
    gc.collect()
    assert len(signal.receivers) == 0
    assert not signal.has_listeners(Sender())


def test_dead_sender_releases_its_strongly_connected_receivers_at_once() -> None:
    signal = AsyncSignal()
    sender = Sender()
    log: list[str] = []
    handler = make_sync(log, "h")
    signal.connect(handler, sender=sender, weak=False)
    alive = weakref.ref(handler)
    del handler
    assert alive() is not None  # held by its strong registration
    del sender
    gc.collect()
    # No signal call in between: the registration went with its sender.
    assert alive() is None


# -- new objects at dead senders' addresses --------------------------------------

#: CPython hands freed blocks to the next allocations of their size: of the
#: objects allocated right after many senders die, some get their ids.
_DEAD_SENDERS = 50
#: Usually one round is enough; seen once on 3.10 under xdist: none was.
_ROUNDS = 20


def _newcomers_at_the_addresses_of_dead_senders(
    signal: AsyncSignal, connect_for_senders: bool, collect: Collect
) -> tuple[list[Sender], list[Sender]]:
    """Connect (or not) and send for senders that then die; return the new
    objects that took their ids (and all new objects, which must stay
    alive meanwhile). The allocator reuses freed memory most of the time, not
    always (objects made meanwhile may take it first): rounds are repeated,
    newcomers kept alive, until one took a dead sender's id."""
    log: list[str] = []
    newcomers: list[Sender] = []
    for _ in range(_ROUNDS):
        senders = [Sender("dead") for _ in range(_DEAD_SENDERS)]
        for sender in senders:
            if connect_for_senders:
                signal.connect(
                    make_sync(log, "dead sender's"), sender=sender, weak=False
                )
            # Cache the plan for this id.
            signal.send(sender)
            assert signal.has_listeners(sender)
        dead_ids = {id(sender) for sender in senders}
        del sender
        collect()
        senders.clear()
        fresh = [Sender("newcomer") for _ in range(4 * _DEAD_SENDERS)]
        newcomers += fresh
        reusing = [newcomer for newcomer in fresh if id(newcomer) in dead_ids]
        if reusing:
            return reusing, newcomers
    raise AssertionError(f"in {_ROUNDS} rounds, no new object took a dead sender's id")


def test_new_objects_reusing_dead_senders_ids_do_not_get_their_receivers(
    collect: Collect,
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    any_sender = signal.connect(make_sync(log, "any"))
    reusing, _ = _newcomers_at_the_addresses_of_dead_senders(signal, True, collect)
    assert list(signal.receivers) == [any_sender]
    for newcomer in reusing:
        assert called(signal, newcomer) == ["any"]
        assert signal.send_robust(newcomer) == [(any_sender, "any")]
        assert signal.has_listeners(newcomer)


def test_new_objects_reusing_unregistered_senders_ids_get_registrations_made_for_them(
    collect: Collect,
) -> None:
    # Plans cached for short-lived senders must not hide registrations made
    # later for new objects at the same addresses.
    signal = AsyncSignal()
    log: list[str] = []
    any_sender = signal.connect(make_sync(log, "any"))
    reusing, _ = _newcomers_at_the_addresses_of_dead_senders(signal, False, collect)
    for newcomer in reusing:
        new = signal.connect(make_sync(log, "new"), sender=newcomer)
        assert called(signal, newcomer) == ["any", "new"]
        assert signal.disconnect(new, sender=newcomer)
    assert list(signal.receivers) == [any_sender]
