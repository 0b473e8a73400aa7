"""asyncsignal.django's generated ``send``: specialised for a signal's payload
names (receivers called with literal keywords, from ``send``'s own frame),
and the generic body every other send takes, in the same frame."""

from __future__ import annotations

import sys
import traceback
from typing import Any

import pytest

pytest.importorskip("django")

import asyncsignal.django as dj
from asyncsignal import _seam
from asyncsignal.django import Signal
from asyncsignal.testing import capture


def echo(**kwargs: Any) -> dict[str, Any]:
    return kwargs


def caller(**kwargs: Any) -> str:
    return sys._getframe(1).f_code.co_name


def test_the_first_send_binds_a_send_specialised_for_its_payload_names() -> None:
    signal = Signal()
    signal.connect(echo)
    assert "send" not in vars(signal)
    [(_, first)] = signal.send(None, x=1, y=2)
    assert "send" in vars(signal)
    [(_, second)] = signal.send(None, x=3, y=4)
    assert first == {"signal": signal, "sender": None, "x": 1, "y": 2}
    assert second == {"signal": signal, "sender": None, "x": 3, "y": 4}
    assert signal.send.__doc__ == Signal.send.__doc__
    assert Signal.send.__module__ == "asyncsignal.django"


@pytest.mark.parametrize(
    "payload",
    [{}, {"x": 1}, {"y": 2, "z": 3}, {"x": 1, "y": 2, "z": 3}, {"z": 3}],
    ids=["none", "one missing", "other", "one more", "only other"],
)
def test_sends_with_other_payload_names_take_the_generic_body(
    payload: dict[str, Any],
) -> None:
    signal = Signal()
    signal.connect(echo)
    signal.send(None, x=0, y=0)  # specialised for x, y
    specialised = vars(signal)["send"]
    [(_, received)] = signal.send(None, **payload)
    assert received == {"signal": signal, "sender": None, **payload}
    assert vars(signal)["send"] is specialised  # the first names keep it


def test_the_specialised_names_reach_receivers_first() -> None:
    signal = Signal()
    signal.connect(echo)
    signal.send(None, x=0, y=0)
    [(_, received)] = signal.send(None, z=3, y=2, x=1)
    assert list(received) == ["signal", "sender", "x", "y", "z"]


def test_every_path_of_the_specialised_send_calls_from_its_own_frame() -> None:
    signal = Signal()
    signal.connect(caller)
    signal.send(None, x=1)
    assert signal.send(None, x=1) == [(caller, "send")]  # hot path
    assert signal.send(None, y=1) == [(caller, "send")]  # other names
    signal.connect(echo, once=True)  # a policy: the generic body
    assert signal.send(None, x=1)[0] == (caller, "send")
    checked: list[dict[str, Any]] = []
    _seam.set_payload_check(signal, lambda method, named: checked.append(named))
    assert signal.send(None, x=2) == [(caller, "send")]
    assert checked == [{"x": 2}]


def test_payload_names_of_builtins_and_generated_locals_are_plain_payload() -> None:
    signal = Signal()
    signal.connect(echo)
    payload = {"id": 1, "type": 2, "plan": 3, "named": 4, "r": 5, "g": 6}
    for _ in range(2):  # generic, then specialised
        [(_, received)] = signal.send(int, **payload)
        assert received == {"signal": signal, "sender": int, **payload}


def test_subscriptions_of_a_specialised_signal_see_its_sends() -> None:
    signal = Signal()
    signal.connect(echo)
    signal.send(None, x=1)
    with capture(signal) as events:
        [(_, received)] = signal.send(None, x=2)
    assert received["x"] == 2
    assert [dict(event.kwargs) for event in events] == [{"x": 2}]


def test_nothing_connected_or_nothing_for_the_sender_responds_nothing() -> None:
    signal = Signal()
    assert signal.send(None, x=1) == []
    assert signal.send(None, x=1) == []  # specialised, nothing connected
    signal.connect(echo, sender=int)
    assert signal.send(None, x=1) == []
    assert signal.send(str, x=1) == []  # a plan computed on a cache miss
    assert signal.send(int, x=1)[0][1]["x"] == 1


@pytest.mark.parametrize(
    "payload", [{"not-a-name": 1}, {"class": 1}, {"_asyncsignal_x": 1}]
)
def test_names_that_are_no_keywords_are_sent_generically(
    payload: dict[str, Any],
) -> None:
    signal = Signal()
    signal.connect(echo)
    for _ in range(2):
        [(_, received)] = signal.send(None, **payload)
        assert received == {"signal": signal, "sender": None, **payload}
    assert "send" not in vars(signal)


def test_a_payload_named_signal_is_refused_and_not_specialised() -> None:
    signal = Signal()
    signal.connect(echo)
    with pytest.raises(TypeError, match="payload argument named 'signal'"):
        signal.send(None, signal=1)
    assert "send" not in vars(signal)


def test_a_subclass_overriding_send_keeps_its_send() -> None:
    class Own(Signal):
        def send(self, sender: object, **named: Any) -> list[tuple[Any, Any]]:
            return [(None, "own"), *super().send(sender, **named)]

    signal = Own()
    signal.connect(echo)
    assert signal.send(None, x=1)[0] == (None, "own")
    assert signal.send(None, x=1)[0] == (None, "own")
    assert "send" not in vars(signal)


def test_past_the_bound_of_payload_name_sets_sends_stay_generic(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(dj._sends, "_SPECIALISED_LIMIT", 0)
    signal = Signal()
    signal.connect(echo)
    assert signal.send(None, never_seen_before=1)[0][1]["never_seen_before"] == 1
    assert "send" not in vars(signal)


def test_a_traceback_through_a_generated_send_shows_its_lines() -> None:
    signal = Signal()

    def fails(**kwargs: Any) -> None:
        raise LookupError("receiver failed")

    signal.connect(fails)
    for _ in range(2):
        with pytest.raises(LookupError) as raised:
            signal.send(None, x=1)
        text = "".join(traceback.format_tb(raised.value.__traceback__))
        assert "<asyncsignal.django send" in text
        assert "signal=self, sender=sender" in text
