"""Model-based test: random sequences of operations on a signal behave exactly
like a tiny reference model (a plain list of registrations).

Operations: connect (weak or strong, any sender or one, with or without a
dispatch_uid, sync or async receiver), disconnect (by receiver or uid, for a
sender), dropping the last reference to a receiver or a sender (+ gc), send,
send_robust, asend, asend_robust and has_listeners. Some receivers raise.

Hypothesis profiles are set in conftest.py: "ci" (fixed seed, bounded; the
default) and "long", selected with ASYNCSIGNAL_HYPOTHESIS_PROFILE=long. A brief
run is part of the quick suite; the full one is marked ``slow``.
"""

from __future__ import annotations

import gc
import sys
from dataclasses import dataclass
from typing import Any

import anyio
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
from receivers import Sender, make_async, make_sync
from support.backends import BACKENDS_WITHOUT_EAGER

from asyncsignal import AsyncSignal

if sys.version_info < (3, 11):
    from exceptiongroup import ExceptionGroup

RECEIVERS = 6
SENDERS = ("a", "b")
UIDS = ("uid-1", "uid-2")
FAILING = (2, 5)
#: (receiver, sender, weak, dispatch_uid) of one connect.
CONNECTIONS = st.tuples(
    st.integers(0, RECEIVERS - 1),
    st.sampled_from([None, *SENDERS]),
    st.booleans(),
    st.sampled_from([None, None, *UIDS]),
)


class ReceiverError(Exception):
    """Raised by the receivers configured to fail (with the receiver's name)."""


@dataclass
class Reg:
    """One registration in the reference model."""

    rid: int
    sender: str | None
    uid: str | None
    weak: bool

    @property
    def key(self) -> tuple[str, object]:
        return ("uid", self.uid) if self.uid is not None else ("receiver", self.rid)


def make_receiver(rid: int, log: list[str]) -> Any:
    """Receivers r0-r2 are sync, r3-r5 async (r4 suspends once); r2 and r5 raise."""
    raises = ReceiverError if rid in FAILING else None
    if rid < 3:
        return make_sync(log, f"r{rid}", raises=raises)
    return make_async(log, f"r{rid}", suspend=rid == 4, raises=raises)


def rid_of(receiver: Any) -> int:
    return int(receiver.__qualname__[1:])


class SignalMachine(RuleBasedStateMachine):
    backend: tuple[str, dict[str, Any]] = ("asyncio", {})

    def __init__(self) -> None:
        super().__init__()
        self.signal = AsyncSignal()
        self.log: list[str] = []
        self.held: dict[int, Any] = {
            rid: make_receiver(rid, self.log) for rid in range(RECEIVERS)
        }
        self.senders: dict[str, Sender] = {label: Sender(label) for label in SENDERS}
        self.model: list[Reg] = []

    # -- the reference model ---------------------------------------------------

    def alive(self, rid: int) -> bool:
        return rid in self.held or any(r.rid == rid and not r.weak for r in self.model)

    def prune(self) -> None:
        """Drop the registrations of receivers nothing keeps alive any more
        (their last strong registration went with a sender or a disconnect)."""
        gc.collect()
        self.model = [r for r in self.model if self.alive(r.rid)]

    def expected(self, sender: str | None) -> list[int]:
        return [
            r.rid
            for r in self.model
            if (r.sender is None or r.sender == sender) and self.alive(r.rid)
        ]

    def sender_obj(self, label: str | None) -> object:
        return None if label is None else self.senders[label]

    def connect_one(
        self, rid: int, sender: str | None, weak: bool, uid: str | None
    ) -> None:
        self.signal.connect(
            self.held[rid], sender=self.sender_obj(sender), weak=weak, dispatch_uid=uid
        )
        reg = Reg(rid, sender, uid, weak)
        if not any(r.key == reg.key and r.sender == sender for r in self.model):
            self.model.append(reg)

    # -- rules -----------------------------------------------------------------

    @initialize(connections=st.lists(CONNECTIONS, min_size=2, max_size=8))
    def connect_several(
        self, connections: list[tuple[int, str | None, bool, str | None]]
    ) -> None:
        """Start from a few registrations: most steps then have receivers to
        call, fail, disconnect or drop (rules are drawn simplest-first, and
        from an empty signal most sends would compare nothing)."""
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

    @precondition(lambda self: any(r.rid in self.held for r in self.model))
    @rule(data=st.data(), weak=st.booleans())
    def reconnect(self, data: st.DataObject, weak: bool) -> None:
        """Connecting an existing registration's receiver (or its uid, with any
        receiver) for the same sender again changes nothing."""
        reg = data.draw(st.sampled_from([r for r in self.model if r.rid in self.held]))
        receiver = self.held[reg.rid if reg.uid is None else min(self.held)]
        self.signal.connect(
            receiver,
            sender=self.sender_obj(reg.sender),
            weak=weak,
            dispatch_uid=reg.uid,
        )

    @precondition(lambda self: bool(self.held))
    @rule(data=st.data(), sender=st.sampled_from([None, *SENDERS]))
    def disconnect_receiver(self, data: st.DataObject, sender: str | None) -> None:
        if sender is not None and sender not in self.senders:
            return
        rid = data.draw(st.sampled_from(sorted(self.held)))
        removed = self.signal.disconnect(self.held[rid], sender=self.sender_obj(sender))
        matches = [
            r for r in self.model if r.key == ("receiver", rid) and r.sender == sender
        ]
        assert removed == bool(matches)
        self.model = [r for r in self.model if r not in matches]
        self.prune()

    @rule(uid=st.sampled_from(UIDS), sender=st.sampled_from([None, *SENDERS]))
    def disconnect_uid(self, uid: str, sender: str | None) -> None:
        if sender is not None and sender not in self.senders:
            return
        removed = self.signal.disconnect(
            dispatch_uid=uid, sender=self.sender_obj(sender)
        )
        matches = [r for r in self.model if r.uid == uid and r.sender == sender]
        assert removed == bool(matches)
        self.model = [r for r in self.model if r not in matches]
        self.prune()

    @precondition(lambda self: bool(self.held))
    @rule(data=st.data())
    def drop_receiver(self, data: st.DataObject) -> None:
        rid = data.draw(st.sampled_from(sorted(self.held)))
        del self.held[rid]
        self.prune()

    @precondition(lambda self: bool(self.senders))
    @rule(label=st.sampled_from(SENDERS))
    def drop_sender(self, label: str) -> None:
        if self.senders.pop(label, None) is None:
            return
        self.model = [r for r in self.model if r.sender != label]
        self.prune()

    @rule(sender=st.sampled_from([None, *SENDERS]), robust=st.booleans())
    def send(self, sender: str | None, robust: bool) -> None:
        if sender is not None and sender not in self.senders:
            return
        expected = self.expected(sender)
        has_async = any(rid >= 3 for rid in expected)
        self.log.clear()
        method = self.signal.send_robust if robust else self.signal.send
        try:
            responses = method(self.sender_obj(sender))
        except (ReceiverError, ExceptionGroup) as error:
            self.check_raised(error, expected, stops_at_first=not has_async)
        else:
            self.check_responses(responses, expected)
        finally:
            self.log.clear()

    @rule(sender=st.sampled_from([None, *SENDERS]), robust=st.booleans())
    def asend(self, sender: str | None, robust: bool) -> None:
        if sender is not None and sender not in self.senders:
            return
        expected = self.expected(sender)
        outcome: list[Any] = []
        target = self.sender_obj(sender)
        method = self.signal.asend_robust if robust else self.signal.asend

        async def main() -> None:
            try:
                outcome.append(await method(target))
            except (ReceiverError, ExceptionGroup) as error:
                outcome.append(error)

        self.log.clear()
        name, options = self.backend
        anyio.run(main, backend=name, backend_options=options)
        (result,) = outcome
        if isinstance(result, BaseException):
            self.check_raised(result, expected, stops_at_first=False)
        else:
            self.check_responses(result, expected)
        self.log.clear()

    def called(self) -> list[int]:
        """The receivers called, in the order they were called (async ones:
        in the order they started)."""
        return [
            int(entry[1:].removesuffix(":start"))
            for entry in self.log
            if not entry.endswith(":end")
        ]

    def check_responses(self, responses: list[Any], expected: list[int]) -> None:
        assert sorted(self.called()) == sorted(expected)
        assert [rid_of(r) for r, _ in responses] == expected
        for (receiver, response), rid in zip(responses, expected, strict=True):
            if rid in FAILING:
                assert isinstance(response, ReceiverError)
                assert response.args == (f"r{rid}",)
            else:
                assert response == f"r{rid}"
            del receiver, response

    def check_raised(
        self, error: BaseException, expected: list[int], stops_at_first: bool
    ) -> None:
        failing = [rid for rid in expected if rid in FAILING]
        assert failing
        if stops_at_first:
            first = expected.index(failing[0])
            assert self.called() == expected[: first + 1]
            assert isinstance(error, ReceiverError)
            assert error.args == (f"r{failing[0]}",)
            return
        assert sorted(self.called()) == sorted(expected)
        if len(failing) == 1:
            assert isinstance(error, ReceiverError)
            assert error.args == (f"r{failing[0]}",)
        else:
            assert isinstance(error, ExceptionGroup)
            assert [e.args for e in error.exceptions] == [
                (f"r{rid}",) for rid in failing
            ]

    @rule(sender=st.sampled_from([None, *SENDERS]))
    def has_listeners(self, sender: str | None) -> None:
        if sender is not None and sender not in self.senders:
            return
        assert self.signal.has_listeners(self.sender_obj(sender)) == bool(
            self.expected(sender)
        )

    @invariant()
    def registrations_match(self) -> None:
        assert len(self.signal.receivers) == len(self.model)
        assert [rid_of(r) for r in self.signal.receivers] == [r.rid for r in self.model]


def _run_machine(backend: tuple[str, dict[str, Any]], profile: settings) -> None:
    machine = type("Machine", (SignalMachine,), {"backend": backend})
    run_state_machine_as_test(machine, settings=profile)  # type: ignore[no-untyped-call,unused-ignore]


@pytest.mark.usefixtures("young_garbage_only", "unrecorded_receiver_errors")
@pytest.mark.parametrize("backend", BACKENDS_WITHOUT_EAGER)
def test_signal_behaves_like_the_reference_model_in_a_brief_run(
    backend: tuple[str, dict[str, Any]],
) -> None:
    _run_machine(backend, settings(max_examples=5, stateful_step_count=15))


@pytest.mark.slow
@pytest.mark.usefixtures("young_garbage_only", "unrecorded_receiver_errors")
@pytest.mark.parametrize("backend", BACKENDS_WITHOUT_EAGER)
def test_signal_behaves_like_the_reference_model(
    backend: tuple[str, dict[str, Any]],
) -> None:
    _run_machine(backend, settings())
