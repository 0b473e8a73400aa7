"""``send``'s generated callers (``_inline_send``): one per set of payload keys,
up to a bound.
"""

from __future__ import annotations

import gc
import logging
from typing import Any

import pytest

from asyncsignal import AsyncSignal, _inline_send


def test_sends_past_the_bound_on_generated_callers_use_the_generic_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``send`` generates a caller per set of payload keys, up to
    ``_SEND_CALLERS_LIMIT`` of them; other key sets then share the generic
    caller, which passes their keys on just the same."""
    monkeypatch.setattr(_inline_send, "_send_callers", {})
    signal = AsyncSignal()
    seen: list[dict[str, Any]] = []

    def receiver(**kwargs: Any) -> None:
        seen.append(kwargs)

    signal.connect(receiver)
    last = _inline_send._SEND_CALLERS_LIMIT + 1
    for number in range(last + 1):
        signal.send(None, **{f"key{number}": number})
    assert len(_inline_send._send_callers) == _inline_send._SEND_CALLERS_LIMIT
    assert seen[-1] == {"signal": signal, "sender": None, f"key{last}": last}


def test_robust_sends_past_the_bound_use_the_generic_robust_caller(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """``send_robust`` generates its callers like ``send`` (its own table, the
    same bound); past it, the generic robust caller gives the same responses
    and logs the same errors."""
    monkeypatch.setattr(_inline_send, "_robust_callers", {})
    signal = AsyncSignal()

    def fails(**kwargs: Any) -> None:
        raise ValueError(sorted(kwargs))

    def answers(**kwargs: Any) -> str:
        return "answered"

    signal.connect(fails)
    signal.connect(answers)
    last = _inline_send._SEND_CALLERS_LIMIT + 1
    with caplog.at_level(logging.ERROR, logger="asyncsignal"):
        for number in range(last + 1):
            responses = signal.send_robust(None, **{f"key{number}": number})
    assert len(_inline_send._robust_callers) == _inline_send._SEND_CALLERS_LIMIT
    (_, error), (_, answer) = responses
    assert isinstance(error, ValueError)
    assert error.args == ([f"key{last}", "sender", "signal"],)
    assert answer == "answered"
    assert len(caplog.records) == last + 1


@pytest.mark.parametrize("key", ["plain", "class", "not-an-identifier"])
@pytest.mark.parametrize("method", ["send_robust", "asend_robust"])
async def test_a_robust_send_of_sync_receivers_logs_errors_once_all_have_run(
    key: str, method: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Every receiver runs; each error is its receiver's response, logged in
    connection order after the last receiver ran (as for any robust send),
    whether the payload's keys can be generated as parameters or not (a
    keyword, a name that is no identifier: the generic caller)."""
    signal = AsyncSignal()
    happened: list[str] = []

    class Record(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            happened.append(f"logged {record.exc_info[1]}")  # type: ignore[index]

    def make(name: str, fails: bool) -> Any:
        def receiver(**kwargs: Any) -> str:
            happened.append(f"{name} got {kwargs[key]}")
            if fails:
                raise ValueError(name)
            return name

        receiver.__qualname__ = name
        return receiver

    receivers = [make("first", True), make("second", False), make("third", True)]
    for receiver in receivers:
        signal.connect(receiver)
    handler = Record(level=logging.ERROR)
    logger = logging.getLogger("asyncsignal")
    logger.addHandler(handler)
    try:
        if method == "send_robust":
            responses = signal.send_robust(None, **{key: 1})
        else:
            responses = await signal.asend_robust(None, **{key: 1})
    finally:
        logger.removeHandler(handler)
    assert [r for r, _ in responses] == receivers
    assert [str(v) for _, v in responses] == ["first", "second", "third"]
    assert [type(v) for _, v in responses] == [ValueError, str, ValueError]
    assert happened == [
        "first got 1",
        "second got 1",
        "third got 1",
        "logged first",
        "logged third",
    ]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [f"in {method}()" in r.getMessage() for r in errors] == [True] * 2


@pytest.mark.parametrize("key", ["plain", "not-an-identifier"])
def test_a_receiver_collected_during_a_robust_send_is_skipped(key: str) -> None:
    """A weakly held receiver that an earlier receiver of the same send lets
    go of is not called: generated and generic robust callers alike."""
    signal = AsyncSignal()
    held: list[Any] = []
    called: list[str] = []

    def first(**kwargs: Any) -> str:
        called.append("first")
        if kwargs["let_go"]:
            held.clear()
            gc.collect()
        return "first"

    def second(**kwargs: Any) -> str:
        called.append("second")
        return "second"

    held.append(second)
    signal.connect(first, weak=False)
    signal.connect(second)
    del second
    signal.send_robust(None, let_go=False, **{key: 1})
    assert called == ["first", "second"]
    responses = signal.send_robust(None, let_go=True, **{key: 1})
    assert called == ["first", "second", "first"]
    assert [r for _, r in responses] == ["first"]
