"""Model-based test: random sequences of operations on a signal behave exactly
like a tiny reference model (a plain list of registrations).

Operations: connect (weak or strong, any sender or one, with or without a
dispatch_uid, sync or async receiver), disconnect (by receiver or uid, for a
sender), dropping the last reference to a receiver or a sender (+ gc), send,
send_robust, asend, asend_robust and has_listeners. Some receivers raise.

Profiles: "ci" (fixed seed, bounded; the default) and "long", selected with
ASYNCSIGNAL_HYPOTHESIS_PROFILE=long.
"""

from __future__ import annotations

import gc
import os
import sys
from dataclasses import dataclass
from typing import Any

import anyio
import pytest
import uvloop
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from asyncsignal import AsyncSignal

if sys.version_info < (3, 11):
    from exceptiongroup import ExceptionGroup

PROFILES = {
    "ci": settings(
        max_examples=30,
        stateful_step_count=25,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    ),
    "long": settings(
        max_examples=500,
        stateful_step_count=60,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    ),
}
PROFILE = PROFILES[os.environ.get("ASYNCSIGNAL_HYPOTHESIS_PROFILE", "ci")]

RECEIVERS = 6
SENDERS = ("a", "b")
UIDS = ("uid-1", "uid-2")


class ReceiverError(Exception):
    """Raised by the receivers configured to fail."""


class Sender:
    """A weakly referenceable sender."""

    def __init__(self, label: str) -> None:
        self.label = label


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


def make_receiver(rid: int, calls: list[int]) -> Any:
    """Receivers 0-2 are sync, 3-5 async; 2 and 5 raise."""
    raises = rid in (2, 5)
    if rid < 3:

        def sync_receiver(**kwargs: Any) -> int:
            calls.append(rid)
            if raises:
                raise ReceiverError(rid)
            return rid

        return sync_receiver

    async def async_receiver(**kwargs: Any) -> int:
        calls.append(rid)
        if rid == 4:
            await anyio.lowlevel.checkpoint()
        if raises:
            raise ReceiverError(rid)
        return rid

    return async_receiver


class SignalMachine(RuleBasedStateMachine):
    backend: tuple[str, dict[str, Any]] = ("asyncio", {})

    def __init__(self) -> None:
        super().__init__()
        self.signal = AsyncSignal()
        self.calls: list[int] = []
        self.held: dict[int, Any] = {
            rid: make_receiver(rid, self.calls) for rid in range(RECEIVERS)
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

    # -- rules -----------------------------------------------------------------

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
        rid = data.draw(st.sampled_from(sorted(self.held)))
        self.signal.connect(
            self.held[rid], sender=self.sender_obj(sender), weak=weak, dispatch_uid=uid
        )
        reg = Reg(rid, sender, uid, weak)
        if not any(r.key == reg.key and r.sender == sender for r in self.model):
            self.model.append(reg)

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
        self.calls.clear()
        method = self.signal.send_robust if robust else self.signal.send
        try:
            responses = method(self.sender_obj(sender))
        except (ReceiverError, ExceptionGroup) as error:
            self.check_raised(error, expected, stops_at_first=not has_async)
        else:
            self.check_responses(responses, expected)
        finally:
            self.calls.clear()

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

        self.calls.clear()
        name, options = self.backend
        anyio.run(main, backend=name, backend_options=options)
        (result,) = outcome
        if isinstance(result, BaseException):
            self.check_raised(result, expected, stops_at_first=False)
        else:
            self.check_responses(result, expected)
        self.calls.clear()

    def check_responses(self, responses: list[Any], expected: list[int]) -> None:
        assert sorted(self.calls) == sorted(expected)
        assert [rid_of(r) for r, _ in responses] == expected
        for (receiver, response), rid in zip(responses, expected, strict=True):
            if rid in (2, 5):
                assert isinstance(response, ReceiverError)
                assert response.args == (rid,)
            else:
                assert response == rid
            del receiver, response

    def check_raised(
        self, error: BaseException, expected: list[int], stops_at_first: bool
    ) -> None:
        failing = [rid for rid in expected if rid in (2, 5)]
        assert failing
        if stops_at_first:
            first = expected.index(failing[0])
            assert self.calls == expected[: first + 1]
            assert isinstance(error, ReceiverError)
            assert error.args == (failing[0],)
            return
        assert sorted(self.calls) == sorted(expected)
        if len(failing) == 1:
            assert isinstance(error, ReceiverError)
            assert error.args == (failing[0],)
        else:
            assert isinstance(error, ExceptionGroup)
            assert [e.args for e in error.exceptions] == [(rid,) for rid in failing]

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


def rid_of(receiver: Any) -> int:
    """The receiver's id, read from the cell of its closure."""
    cells = dict(
        zip(receiver.__code__.co_freevars, receiver.__closure__ or (), strict=True)
    )
    rid: int = cells["rid"].cell_contents
    return rid


@pytest.mark.parametrize(
    "backend",
    [
        pytest.param(("asyncio", {}), id="asyncio"),
        pytest.param(
            ("asyncio", {"loop_factory": uvloop.new_event_loop}), id="asyncio+uvloop"
        ),
        pytest.param(("trio", {}), id="trio"),
    ],
)
def test_signal_behaves_like_the_reference_model(
    backend: tuple[str, dict[str, Any]],
) -> None:
    machine = type("Machine", (SignalMachine,), {"backend": backend})
    run_state_machine_as_test(machine, settings=PROFILE)  # type: ignore[no-untyped-call,unused-ignore]
