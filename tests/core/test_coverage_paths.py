"""Paths of the dispatch that only unusual receivers reach."""

from __future__ import annotations

import functools
import pickle
from typing import Any

import pytest
from receivers import make_async, make_sync

from asyncsignal import AsyncSignal, ReceiverTimeout


async def _needs_x(x: int, **kwargs: Any) -> int:
    return x


def test_send_isolates_an_async_receiver_that_fails_when_called() -> None:
    signal = AsyncSignal()
    broken = functools.partial(_needs_x)  # called without x: TypeError at once
    signal.connect(broken, weak=False)
    with pytest.raises(TypeError, match="x"):
        signal.send(None)


async def test_asend_skips_a_once_receiver_claimed_by_a_nested_send() -> None:
    signal = AsyncSignal()
    calls: list[str] = []

    def resend(**kwargs: Any) -> None:
        if not calls:
            calls.append("outer")
            signal.send_robust(None)

    def once(**kwargs: Any) -> str:
        calls.append("once")
        return "once"

    signal.connect(resend, weak=False)
    signal.connect(once, weak=False, once=True, thread=True)
    responses = await signal.asend(None)
    assert calls == ["outer", "once"]
    assert [receiver for receiver, _ in responses] == [resend]


def test_receiver_timeout_survives_pickling() -> None:
    error = ReceiverTimeout("receiver", 1.5)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.receiver, copy.timeout, str(copy)) == ("receiver", 1.5, str(error))


async def test_asend_skips_a_receiver_that_dies_during_the_dispatch() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    later = [make_sync(log, "later")]  # the only strong reference

    def drop_later(**kwargs: Any) -> str:
        later.clear()
        return "dropped"

    signal.connect(drop_later, weak=False)
    signal.connect(later[0])
    last = signal.connect(make_async(log, "last"), weak=False)
    assert await signal.asend(None) == [(drop_later, "dropped"), (last, "last")]
    assert "later" not in log
