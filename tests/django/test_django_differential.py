"""Drop-in for Django, checked differentially: random sequences of connects,
disconnects, deaths and sends applied to ``django.dispatch.Signal`` and to
``asyncsignal.Signal`` give the same results.

Each signal gets its own copy of every receiver (equal names and behaviour,
distinct objects, dropped together); after each send the two are compared on
what they returned or raised, and which receivers ran in which order.
Receivers are sync (Django's ``send`` treats async ones differently by design)
and accept ``**kwargs`` (asyncsignal always checks for it; Django only with
``DEBUG``). The "Differences from ``django.dispatch``" of
docs/guides/django.rst are the only differences allowed: ``asend`` isolates
errors (every receiver runs, then the first error in connection order is
raised, or a group), where Django's stops at the first.

Django is used unconfigured: its signals read no setting unless settings are
configured, and configuring them here would take the place of the project
that test_django_orm.py sets up.
"""

from __future__ import annotations

import asyncio
import gc
import sys
from typing import TYPE_CHECKING, Any

import django.dispatch
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from receivers import Sender, make_sync

import asyncsignal

if sys.version_info < (3, 11):
    from exceptiongroup import ExceptionGroup

if TYPE_CHECKING:
    from collections.abc import Callable

FUNCTIONS = ("f0", "f1", "f2")  # f2 raises
LISTENERS = ("l0", "l1")  # objects whose bound method is the receiver; l1 raises
FAILING = ("f2", "l1")
SENDERS = ("a", "b", "static")
UIDS = ("uid-1", "uid-2")

#: A sender that cannot be weakly referenced and never dies.
STATIC_SENDER = "static sender"
#: (receiver, sender, weak, dispatch_uid) of one connect.
CONNECTIONS = st.tuples(
    st.sampled_from([*FUNCTIONS, *LISTENERS]),
    st.sampled_from([None, *SENDERS]),
    st.booleans(),
    st.sampled_from([None, None, *UIDS]),
)


class ReceiverError(Exception):
    """Raised by the failing receivers, with the receiver's name."""


class Listener:
    """Its bound method is the receiver: held weakly through the instance."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log

    def on_signal(self, **kwargs: Any) -> str:
        self.log.append(self.name)
        if self.name in FAILING:
            raise ReceiverError(self.name)
        return self.name


def name_of(receiver: Any) -> str:
    owner = getattr(receiver, "__self__", None)
    return owner.name if isinstance(owner, Listener) else str(receiver.__qualname__)


def summary(response: object) -> object:
    """A response as comparable data: an exception by its type and arguments."""
    if isinstance(response, BaseException):
        return (type(response).__name__, response.args)
    return response


Outcome = tuple[str, object, list[str]]


class DjangoDifferential(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.django = django.dispatch.Signal()
        self.ours = asyncsignal.Signal()
        self.log: list[str] = []
        # Each signal gets its own copy of every receiver: a receiver one
        # signal holds strongly must not keep the other's weak reference alive.
        self.held: dict[str, tuple[Any, Any]] = {
            name: (self.new_receiver(name), self.new_receiver(name))
            for name in (*FUNCTIONS, *LISTENERS)
        }
        self.senders: dict[str, object] = {"a": Sender("a"), "b": Sender("b")}
        self.senders["static"] = STATIC_SENDER

    def new_receiver(self, name: str) -> Any:
        if name in LISTENERS:
            return Listener(name, self.log)
        raises = ReceiverError if name in FAILING else None
        return make_sync(self.log, name, raises=raises)

    def sender(self, label: str | None) -> object:
        return None if label is None else self.senders[label]

    def both(self, method: str, name: str | None = None, **kwargs: Any) -> list[Any]:
        """Call ``method`` on Django's signal and on ours, each with its own copy
        of the receiver ``name`` if given; return both results."""
        copies = (None, None) if name is None else self.held[name]
        results = []
        for signal, held in zip((self.django, self.ours), copies, strict=True):
            if held is not None:
                kwargs["receiver"] = (
                    held.on_signal if isinstance(held, Listener) else held
                )
            results.append(getattr(signal, method)(**kwargs))
        return results

    def run(self, call: Callable[[], Any]) -> Outcome:
        """What ``call`` returned or raised, and the receivers that ran."""
        self.log.clear()
        outcome: Outcome
        try:
            responses = call()
        except Exception as error:
            leaves = error.exceptions if isinstance(error, ExceptionGroup) else [error]
            outcome = ("raised", [summary(leaf) for leaf in leaves], list(self.log))
        else:
            returned = [(name_of(r), summary(v)) for r, v in responses]
            outcome = ("returned", returned, list(self.log))
        self.log.clear()
        return outcome

    def connect_one(
        self, name: str, sender: str | None, weak: bool, uid: str | None
    ) -> None:
        self.both(
            "connect", name, sender=self.sender(sender), weak=weak, dispatch_uid=uid
        )

    # -- rules -----------------------------------------------------------------

    @initialize(connections=st.lists(CONNECTIONS, min_size=2, max_size=8))
    def connect_several(
        self, connections: list[tuple[str, str | None, bool, str | None]]
    ) -> None:
        """Start from a few registrations (rules are drawn simplest-first: from
        an empty signal most sends would compare nothing)."""
        for connection in connections:
            self.connect_one(*connection)

    @precondition(lambda self: bool(self.held))
    @rule(
        data=st.data(),
        sender=st.sampled_from([None, *SENDERS]),
        weak=st.booleans(),
        uid=st.sampled_from([None, None, *UIDS]),
    )
    def connect(
        self, data: st.DataObject, sender: str | None, weak: bool, uid: str | None
    ) -> None:
        if sender is not None and sender not in self.senders:
            return
        self.connect_one(
            data.draw(st.sampled_from(sorted(self.held))), sender, weak, uid
        )

    @precondition(lambda self: bool(self.held))
    @rule(data=st.data(), sender=st.sampled_from([None, *SENDERS]))
    def disconnect_receiver(self, data: st.DataObject, sender: str | None) -> None:
        if sender is not None and sender not in self.senders:
            return
        name = data.draw(st.sampled_from(sorted(self.held)))
        theirs, ours = self.both("disconnect", name, sender=self.sender(sender))
        assert ours == theirs

    @rule(uid=st.sampled_from(UIDS), sender=st.sampled_from([None, *SENDERS]))
    def disconnect_uid(self, uid: str, sender: str | None) -> None:
        if sender is not None and sender not in self.senders:
            return
        theirs, ours = self.both(
            "disconnect", dispatch_uid=uid, sender=self.sender(sender)
        )
        assert ours == theirs

    @precondition(lambda self: bool(self.held))
    @rule(data=st.data())
    def drop_receiver(self, data: st.DataObject) -> None:
        del self.held[data.draw(st.sampled_from(sorted(self.held)))]
        gc.collect()

    @rule(label=st.sampled_from(["a", "b"]))
    def drop_sender(self, label: str) -> None:
        if self.senders.pop(label, None) is not None:
            gc.collect()

    @rule(
        sender=st.sampled_from([None, *SENDERS]),
        method=st.sampled_from(["send", "send_robust"]),
    )
    def send(self, sender: str | None, method: str) -> None:
        if sender is not None and sender not in self.senders:
            return
        target = self.sender(sender)
        theirs = self.run(lambda: getattr(self.django, method)(target))
        ours = self.run(lambda: getattr(self.ours, method)(target))
        assert ours == theirs

    @rule(
        sender=st.sampled_from([None, *SENDERS]),
        method=st.sampled_from(["asend", "asend_robust"]),
    )
    def asend(self, sender: str | None, method: str) -> None:
        if sender is not None and sender not in self.senders:
            return
        target = self.sender(sender)
        theirs = self.run(lambda: asyncio.run(getattr(self.django, method)(target)))
        ours = self.run(lambda: asyncio.run(getattr(self.ours, method)(target)))
        if theirs[0] == "returned":
            assert ours == theirs
            return
        # Django's asend stops at the first error; asyncsignal's runs every
        # receiver and raises the errors in connection order: the first one is
        # where Django stopped.
        kind, errors, calls = ours
        assert kind == "raised"
        assert isinstance(errors, list)
        assert errors[0] == theirs[1][0]  # type: ignore[index]
        assert calls[: len(theirs[2])] == theirs[2]

    @invariant()
    def same_listeners(self) -> None:
        for label in [None, *self.senders]:
            target = self.sender(label)
            assert self.ours.has_listeners(target) == self.django.has_listeners(target)


def _run(profile: settings) -> None:
    run_state_machine_as_test(DjangoDifferential, settings=profile)  # type: ignore[no-untyped-call,unused-ignore]


@pytest.mark.usefixtures("young_garbage_only", "unrecorded_receiver_errors")
def test_asyncsignal_behaves_like_django_in_a_brief_run() -> None:
    _run(settings(max_examples=5, stateful_step_count=15))


@pytest.mark.slow
@pytest.mark.usefixtures("young_garbage_only", "unrecorded_receiver_errors")
def test_asyncsignal_behaves_like_django() -> None:
    _run(settings())


@pytest.mark.parametrize("uid", ["", 0], ids=["empty-string", "zero"])
def test_a_falsy_dispatch_uid_is_ignored_as_in_django(uid: object) -> None:
    log: list[str] = []
    first, second = make_sync(log, "first"), make_sync(log, "second")
    results = []
    for signal in (django.dispatch.Signal(), asyncsignal.Signal()):
        signal.connect(first, dispatch_uid=uid)
        signal.connect(second, dispatch_uid=uid)
        results.append(
            (
                [response for _, response in signal.send(None)],
                signal.disconnect(dispatch_uid=uid),
                signal.disconnect(first),
            )
        )
    theirs, ours = results
    assert theirs == (["first", "second"], False, True)
    assert ours == theirs
