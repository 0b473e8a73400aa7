"""disconnect: by receiver or dispatch_uid, for the sender it was connected
with; returns whether it removed a registration.

Rejected input is covered by test_bad_input.py.
"""

from __future__ import annotations

from receivers import Sender, Target, called, make_sync, sync_function

from asyncsignal import AsyncSignal


def test_disconnect_returns_true_then_false() -> None:
    signal = AsyncSignal()
    signal.connect(sync_function)
    assert signal.disconnect(sync_function) is True
    assert signal.disconnect(sync_function) is False
    assert len(signal.receivers) == 0
    assert signal.send(None) == []


def test_disconnect_of_a_receiver_never_connected_returns_false() -> None:
    signal = AsyncSignal()
    signal.connect(sync_function)
    assert signal.disconnect(make_sync([], "never connected")) is False
    assert list(signal.receivers) == [sync_function]


def test_disconnect_needs_the_sender_the_receiver_was_connected_with() -> None:
    signal = AsyncSignal()
    sender = Sender()
    signal.connect(sync_function, sender=sender)
    assert signal.disconnect(sync_function) is False
    assert signal.disconnect(sync_function, sender=Sender()) is False
    assert called(signal, sender) == ["sync function"]
    assert signal.disconnect(sync_function, sender=sender) is True
    assert signal.send(sender) == []


def test_disconnect_removes_only_the_registration_for_that_sender() -> None:
    signal = AsyncSignal()
    one, two = Sender(), Sender()
    signal.connect(sync_function, sender=one)
    signal.connect(sync_function, sender=two)
    signal.connect(sync_function)
    assert signal.disconnect(sync_function, sender=one) is True
    assert len(signal.receivers) == 2
    assert called(signal, one) == ["sync function"]  # the any-sender one
    assert called(signal, two) == ["sync function", "sync function"]


def test_disconnect_a_bound_method_through_a_new_bound_method_object() -> None:
    signal = AsyncSignal()
    target = Target()
    signal.connect(target.method)
    assert signal.disconnect(target.method) is True
    assert len(signal.receivers) == 0


def test_disconnect_by_dispatch_uid_removes_that_registration() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    by_uid = signal.connect(make_sync(log, "by-uid"), dispatch_uid="my_uid")
    kept = signal.connect(make_sync(log, "kept"))
    assert list(signal.receivers) == [by_uid, kept]
    assert signal.disconnect(dispatch_uid="my_uid") is True
    assert signal.disconnect(dispatch_uid="my_uid") is False
    assert list(signal.receivers) == [kept]
    assert called(signal) == ["kept"]


def test_disconnect_by_dispatch_uid_respects_the_sender() -> None:
    signal = AsyncSignal()
    sender = Sender()
    signal.connect(sync_function, sender=sender, dispatch_uid="u")
    assert signal.disconnect(dispatch_uid="u") is False
    assert signal.disconnect(dispatch_uid="u", sender=sender) is True
    assert len(signal.receivers) == 0


def test_receiver_connected_with_uid_is_disconnected_by_uid_not_by_itself() -> None:
    # As in Django: the uid, not the receiver, identifies the registration.
    signal = AsyncSignal()
    signal.connect(sync_function, dispatch_uid="u")
    assert signal.disconnect(sync_function) is False
    assert len(signal.receivers) == 1
    assert signal.disconnect(sync_function, dispatch_uid="u") is True
    assert len(signal.receivers) == 0


def test_reconnecting_after_disconnect_moves_the_receiver_to_the_end() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    a = signal.connect(make_sync(log, "a"))
    b = signal.connect(make_sync(log, "b"))
    assert signal.disconnect(a) is True
    signal.connect(a)
    assert list(signal.receivers) == [b, a]
    assert called(signal) == ["b", "a"]
