"""send / send_robust: the synchronous entry points.

With only sync receivers connected, ``send`` calls them in connection order in
the caller's thread and stops at the first exception; ``send_robust`` turns
each ``Exception`` into that receiver's response and logs it. With async
receivers connected, both run every receiver as ``asend`` would: on a new
asyncio event loop from a thread without one, on the owning loop from a worker
thread, and never from an event loop's own thread.

Async receivers under ``send`` are in ``test_signal_send_async_receivers.py``.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest
from receivers import (
    make_sync,
    run_in_thread,
)

from asyncsignal import AsyncSignal

# -- the call ----------------------------------------------------------------


def test_send_calls_receivers_with_signal_sender_and_payload_as_keywords() -> None:
    signal = AsyncSignal()
    seen: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def handler(*args: Any, **kwargs: Any) -> None:
        seen.append((args, kwargs))

    signal.connect(handler)
    sender = object()
    signal.send(sender, x=1, y="two")
    assert seen == [((), {"signal": signal, "sender": sender, "x": 1, "y": "two"})]


def test_send_accepts_sender_as_a_keyword_argument() -> None:
    signal = AsyncSignal()
    seen: list[object] = []

    def handler(sender: object, **kwargs: Any) -> None:
        seen.append(sender)

    signal.connect(handler)
    sender = object()
    signal.send(sender=sender)
    signal.send_robust(sender=sender)
    assert seen == [sender, sender]


def test_receiver_may_name_signal_and_sender_and_payload_parameters() -> None:
    signal = AsyncSignal()
    seen: list[tuple[object, object, int]] = []

    def handler(signal: AsyncSignal, sender: object, size: int, **kwargs: Any) -> None:
        seen.append((signal, sender, size))

    signal.connect(handler)
    signal.send("pizzeria", size=12)
    assert seen == [(signal, "pizzeria", 12)]


def test_send_with_no_receivers_returns_empty_list() -> None:
    signal = AsyncSignal()
    assert signal.send(None) == []
    assert signal.send(object(), x=1) == []
    assert signal.send_robust(None) == []


def test_send_returns_receiver_response_pairs_in_connection_order() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    receivers = [signal.connect(make_sync(log, f"r{i}")) for i in range(5)]
    responses = signal.send(None)
    assert responses == [(r, f"r{i}") for i, r in enumerate(receivers)]
    assert all(pair[0] is r for pair, r in zip(responses, receivers, strict=True))
    assert log == ["r0", "r1", "r2", "r3", "r4"]


def test_send_returns_the_receivers_own_response_objects() -> None:
    signal = AsyncSignal()
    response = object()

    def handler(**kwargs: Any) -> object:
        return response

    signal.connect(handler)
    [(got_receiver, got_response)] = signal.send(None)
    assert got_receiver is handler
    assert got_response is response


def test_send_calls_sync_receivers_in_the_callers_thread() -> None:
    signal = AsyncSignal()
    threads: list[int] = []

    def handler(**kwargs: Any) -> None:
        threads.append(threading.get_ident())

    signal.connect(handler)
    signal.send(None)
    worker_ident = run_in_thread(lambda: (signal.send(None), threading.get_ident())[1])
    assert threads == [threading.get_ident(), worker_ident]


def test_send_interleaves_sender_specific_and_any_sender_receivers_by_time() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    sender, other = object(), object()
    a = signal.connect(make_sync(log, "any-1"))
    b = signal.connect(make_sync(log, "sender-1"), sender=sender)
    c = signal.connect(make_sync(log, "other-1"), sender=other)
    d = signal.connect(make_sync(log, "any-2"))
    e = signal.connect(make_sync(log, "sender-2"), sender=sender)
    assert [r for r, _ in signal.send(sender)] == [a, b, d, e]
    assert [r for r, _ in signal.send(other)] == [a, c, d]
    assert [r for r, _ in signal.send(None)] == [a, d]
    assert [r for r, _ in signal.send_robust(sender)] == [a, b, d, e]


def test_send_with_non_identifier_payload_keys_passes_them_on() -> None:
    signal = AsyncSignal()
    seen: list[dict[str, Any]] = []

    def receiver(**kwargs: Any) -> None:
        seen.append(kwargs)

    signal.connect(receiver)
    signal.send(None, **{"not-an-identifier": 1, "class": 2})
    assert seen == [
        {"signal": signal, "sender": None, "not-an-identifier": 1, "class": 2}
    ]


def test_send_payload_keys_may_shadow_the_dispatch_codes_own_names() -> None:
    signal = AsyncSignal()
    seen: list[dict[str, Any]] = []

    def receiver(**kwargs: Any) -> None:
        seen.append(kwargs)

    signal.connect(receiver)
    signal.send(None, r=1, reg=2, registrations=3, receiver=4)
    assert seen == [
        {"signal": signal, "sender": None, "r": 1, "reg": 2, "registrations": 3}
        | {"receiver": 4}
    ]


# -- send: errors -------------------------------------------------------------


def test_send_stops_at_first_exception_and_skips_later_receivers() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    error = ValueError("boom")
    signal.connect(first := make_sync(log, "first"))
    signal.connect(failing := make_sync(log, "failing", raises=error))
    signal.connect(later := make_sync(log, "later"))
    signal.connect(also_failing := make_sync(log, "also", raises=KeyError("k")))
    with pytest.raises(ValueError, match="boom") as caught:
        signal.send(None)
    assert caught.value is error
    assert log == ["first", "failing"]
    assert [first, failing, later, also_failing] == list(signal.receivers)


def test_send_propagates_base_exceptions_unchanged() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    signal.connect(stop := make_sync(log, "stop", raises=KeyboardInterrupt()))
    signal.connect(later := make_sync(log, "later"))
    with pytest.raises(KeyboardInterrupt):
        signal.send(None)
    assert log == ["stop"]
    assert list(signal.receivers) == [stop, later]


# -- send_robust --------------------------------------------------------------


def test_send_robust_returns_exception_as_response_and_calls_every_receiver() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    error = ValueError("boom")
    first = signal.connect(make_sync(log, "first"))
    failing = signal.connect(make_sync(log, "failing", raises=error))
    later = signal.connect(make_sync(log, "later"))
    responses = signal.send_robust(None)
    assert responses == [(first, "first"), (failing, error), (later, "later")]
    assert responses[1][1] is error
    assert error.__traceback__ is not None
    assert log == ["first", "failing", "later"]


def test_send_robust_keeps_each_exception_with_its_receiver() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    one, two = ValueError("one"), KeyError("two")
    a = signal.connect(make_sync(log, "a", raises=one))
    b = signal.connect(make_sync(log, "b", raises=two))
    responses = signal.send_robust(None)
    assert [(r, type(e), e) for r, e in responses] == [
        (a, ValueError, one),
        (b, KeyError, two),
    ]


def test_send_robust_logs_each_error_at_error_level_with_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    error = ValueError("boom")
    r1 = signal.connect(make_sync(log, "fine"))
    assert list(signal.receivers) == [r1]

    def failing_receiver(**kwargs: Any) -> None:
        raise error

    signal.connect(failing_receiver)
    with caplog.at_level(logging.DEBUG, logger="asyncsignal"):
        signal.send_robust(None)
    assert len(caplog.records) == 1
    [record] = caplog.records
    assert record.name == "asyncsignal"
    assert record.levelno == logging.ERROR
    assert "failing_receiver" in record.getMessage()
    assert "send_robust" in record.getMessage()
    assert record.exc_info is not None
    assert record.exc_info[0] is ValueError
    assert record.exc_info[1] is error
    assert record.exc_info[2] is error.__traceback__
    assert record.exc_info[2] is not None


def test_send_robust_logs_nothing_when_no_receiver_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    handler = signal.connect(make_sync(log, "fine"))
    with caplog.at_level(logging.DEBUG, logger="asyncsignal"):
        assert signal.send_robust(None) == [(handler, "fine")]
    assert caplog.records == []


@pytest.mark.parametrize(
    "interrupt",
    [KeyboardInterrupt(), SystemExit(3)],
    ids=["KeyboardInterrupt", "SystemExit"],
)
def test_send_robust_propagates_base_exceptions_and_skips_later_receivers(
    interrupt: BaseException, caplog: pytest.LogCaptureFixture
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    signal.connect(first := make_sync(log, "first"))
    signal.connect(stop := make_sync(log, "stop", raises=interrupt))
    signal.connect(later := make_sync(log, "later"))
    with (
        caplog.at_level(logging.DEBUG, logger="asyncsignal"),
        pytest.raises(type(interrupt)) as caught,
    ):
        signal.send_robust(None)
    assert caught.value is interrupt
    assert log == ["first", "stop"]
    assert caplog.records == []
    assert list(signal.receivers) == [first, stop, later]


# -- changing the registrations during a send ---------------------------------


@pytest.mark.parametrize("method", ["send", "send_robust"])
def test_receiver_disconnecting_itself_runs_this_send_not_the_next(
    method: str,
) -> None:
    signal = AsyncSignal()
    log: list[str] = []

    def once(**kwargs: Any) -> str:
        log.append("once")
        signal.disconnect(once)
        return "once"

    signal.connect(once)
    signal.connect(after := make_sync(log, "after"))
    assert getattr(signal, method)(None) == [(once, "once"), (after, "after")]
    assert getattr(signal, method)(None) == [(after, "after")]
    assert log == ["once", "after", "after"]


@pytest.mark.parametrize("method", ["send", "send_robust"])
def test_changes_made_by_a_receiver_during_send_apply_from_the_next_send(
    method: str,
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    sender = object()
    late = make_sync(log, "late")
    late_for_sender = make_sync(log, "late-for-sender")
    victim = make_sync(log, "victim")

    def rewire(**kwargs: Any) -> str:
        log.append("rewire")
        signal.connect(late)
        signal.connect(late_for_sender, sender=sender)
        signal.disconnect(victim, sender=sender)
        signal.disconnect(rewire, sender=sender)
        return "rewire"

    signal.connect(rewire, sender=sender)
    signal.connect(victim, sender=sender)
    assert getattr(signal, method)(sender) == [(rewire, "rewire"), (victim, "victim")]
    assert log == ["rewire", "victim"]
    log.clear()
    assert getattr(signal, method)(sender) == [
        (late, "late"),
        (late_for_sender, "late-for-sender"),
    ]
    assert log == ["late", "late-for-sender"]


def test_receiver_may_send_the_same_signal_recursively() -> None:
    signal = AsyncSignal()
    depth: list[int] = []

    def recurse(level: int, **kwargs: Any) -> int:
        depth.append(level)
        if level < 3:
            signal.send(None, level=level + 1)
        return level

    signal.connect(recurse)
    assert signal.send(None, level=0) == [(recurse, 0)]
    assert depth == [0, 1, 2, 3]
