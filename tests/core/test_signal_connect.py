"""connect and the @receiver decorator: what they return and which registrations
they make (one per receiver, bound method or dispatch_uid, and sender).

Rejected input is covered by test_bad_input.py, weak references by
test_weak_references.py, sender matching by test_registry_senders.py.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import anyio
import pytest
from receivers import Sender, Target, called, make_sync, sync_function

from asyncsignal import AsyncSignal, ReceiverTimeout, receiver

if TYPE_CHECKING:
    from collections.abc import Callable

# -- what connect returns ------------------------------------------------------


def test_connect_returns_the_receiver_unchanged() -> None:
    signal = AsyncSignal()
    assert signal.connect(sync_function) is sync_function


def test_connect_works_as_a_decorator() -> None:
    signal = AsyncSignal()

    @signal.connect
    def handler(**kwargs: Any) -> str:
        return "decorated"

    assert signal.send(None) == [(handler, "decorated")]


# -- one registration per receiver (or dispatch_uid) and sender ---------------


def test_same_receiver_connected_twice_keeps_one_registration_at_first_place() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    a = signal.connect(make_sync(log, "a"))
    b = signal.connect(make_sync(log, "b"))
    assert signal.connect(a) is a
    assert len(signal.receivers) == 2
    assert list(signal.receivers) == [a, b]
    assert called(signal) == ["a", "b"]


def test_connecting_the_same_bound_method_twice_keeps_one_registration() -> None:
    signal = AsyncSignal()
    target = Target()
    signal.connect(target.method)
    signal.connect(target.method)
    assert len(signal.receivers) == 1
    assert called(signal) == ["target.method"]


def test_bound_methods_of_two_instances_are_two_registrations() -> None:
    signal = AsyncSignal()
    one, two = Target("one"), Target("two")
    signal.connect(one.method)
    signal.connect(two.method)
    assert called(signal) == ["one.method", "two.method"]


def test_weak_and_strong_connect_of_same_receiver_is_one_registration() -> None:
    signal = AsyncSignal()
    signal.connect(sync_function)
    signal.connect(sync_function, weak=False)
    assert len(signal.receivers) == 1


def test_same_dispatch_uid_and_sender_twice_keeps_the_first_receiver() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    first = signal.connect(make_sync(log, "first"), dispatch_uid="uid")
    second = signal.connect(make_sync(log, "second"), dispatch_uid="uid")
    assert len(signal.receivers) == 1
    assert list(signal.receivers) == [first]
    assert second not in signal.receivers
    assert called(signal) == ["first"]


def test_same_dispatch_uid_with_two_senders_is_two_registrations() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    one, two = Sender(), Sender()
    first = signal.connect(make_sync(log, "first"), sender=one, dispatch_uid="u")
    second = signal.connect(make_sync(log, "second"), sender=two, dispatch_uid="u")
    assert list(signal.receivers) == [first, second]
    assert called(signal, one) == ["first"]
    assert called(signal, two) == ["second"]


def test_dispatch_uid_does_not_collide_with_a_receiver_identified_by_itself() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    plain = signal.connect(make_sync(log, "plain"))
    # A uid equal to the id() of a connected receiver is still a distinct key.
    by_uid = signal.connect(make_sync(log, "uid"), dispatch_uid=id(plain))
    assert list(signal.receivers) == [plain, by_uid]
    assert called(signal) == ["plain", "uid"]


def test_same_receiver_with_two_senders_is_two_registrations() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    one, two = Sender(), Sender()
    handler = make_sync(log, "h")
    signal.connect(handler, sender=one)
    signal.connect(handler, sender=two)
    assert len(signal.receivers) == 2
    assert list(signal.receivers) == [handler, handler]
    assert called(signal, one) == ["h"]
    assert called(signal, two) == ["h"]
    assert called(signal, None) == []


def test_receiver_connected_for_any_and_one_sender_runs_twice_for_it() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    sender = Sender()
    handler = make_sync(log, "h")
    signal.connect(handler)
    signal.connect(handler, sender=sender)
    assert signal.send(sender) == [(handler, "h"), (handler, "h")]
    assert signal.send(None) == [(handler, "h")]


# -- the @receiver decorator --------------------------------------------------


def test_receiver_decorator_connects_and_returns_the_function_unchanged() -> None:
    signal = AsyncSignal()

    def handler(**kwargs: Any) -> str:
        return "h"

    assert receiver(signal)(handler) is handler
    assert signal.send(None) == [(handler, "h")]


@pytest.mark.parametrize("container", [list, tuple], ids=["list", "tuple"])
def test_receiver_decorator_connects_to_each_signal_of_a_list_or_tuple(
    container: Callable[
        [list[AsyncSignal]], list[AsyncSignal] | tuple[AsyncSignal, ...]
    ],
) -> None:
    one, two = AsyncSignal(), AsyncSignal()

    @receiver(container([one, two]))
    def handler(**kwargs: Any) -> str:
        return "h"

    assert one.send(None) == [(handler, "h")]
    assert two.send(None) == [(handler, "h")]


def test_receiver_decorator_forwards_connect_arguments() -> None:
    signal = AsyncSignal()
    sender = Sender()

    @receiver(signal, sender=sender, dispatch_uid="uid", weak=False)
    def handler(**kwargs: Any) -> str:
        return "h"

    @receiver(signal, sender=sender, dispatch_uid="uid")
    def duplicate(**kwargs: Any) -> None:
        """Never called: the uid is taken."""

    assert signal.send(None) == []
    assert signal.send(sender) == [(handler, "h")]
    assert signal.disconnect(dispatch_uid="uid", sender=sender) is True


def test_receiver_decorator_propagates_connect_errors() -> None:
    signal = AsyncSignal()
    with pytest.raises(ValueError, match="must accept keyword arguments"):

        @receiver(signal)
        def handler(sender: object) -> None:
            """Rejected: no **kwargs."""

    assert len(signal.receivers) == 0


def test_connect_without_a_receiver_returns_a_decorator_with_the_options() -> None:
    signal = AsyncSignal()
    sender = Sender()

    @signal.connect(sender=sender, weak=False, dispatch_uid="uid", once=True)
    def handler(**kwargs: Any) -> str:
        return "h"

    assert signal.send(None) == []
    assert signal.send(sender) == [(handler, "h")]
    assert signal.send(sender) == []  # once=True: the registration is gone


@pytest.mark.anyio
async def test_decorator_forms_apply_thread_and_timeout() -> None:
    signal = AsyncSignal()
    callers: list[int] = []

    @signal.connect(thread=True)
    def in_a_thread(**kwargs: Any) -> str:
        callers.append(threading.get_ident())
        return "thread"

    @receiver(signal, timeout=0.01)
    async def hangs(**kwargs: Any) -> None:
        await anyio.sleep_forever()

    responses = dict(await signal.asend_robust(None))
    assert responses[in_a_thread] == "thread"
    assert callers != [threading.get_ident()]
    assert isinstance(responses[hangs], ReceiverTimeout)


def test_decorator_forms_reject_bad_options_when_decorating() -> None:
    signal = AsyncSignal()
    with pytest.raises(TypeError, match="thread"):

        @signal.connect(thread="yes")  # type: ignore[call-overload,untyped-decorator]
        def handler(**kwargs: Any) -> None:
            """Rejected: thread is not a bool."""

    with pytest.raises(ValueError, match="timeout"):

        @receiver(signal, timeout=-1)
        def inline(**kwargs: Any) -> None:
            """Rejected: a timeout must be positive."""

    assert len(signal.receivers) == 0


def test_receiver_passes_policies_only_when_given() -> None:
    """A subclass whose connect takes no policies (Django's ModelSignal) still
    works with @receiver, and gets them when they are given."""

    class WithoutPolicies(AsyncSignal):
        def connect(  # type: ignore[override]
            self,
            receiver: Any,
            sender: object = None,
            weak: bool = True,
            dispatch_uid: Any = None,
        ) -> Any:
            return super().connect(receiver, sender, weak, dispatch_uid)

    signal = WithoutPolicies()

    @receiver(signal)
    def handler(**kwargs: Any) -> str:
        return "h"

    assert signal.send(None) == [(handler, "h")]
    with pytest.raises(TypeError, match="once"):

        @receiver(signal, once=True)
        def other(**kwargs: Any) -> None:
            """Rejected by the subclass's connect."""
