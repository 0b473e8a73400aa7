"""The table of origins a bridge hears from (``_origins.py``), without a server:
it counts gaps, refuses repeats and replays, and stays bounded."""

from __future__ import annotations

import time

import pytest

from asyncsignal.bridge._envelope import Envelope
from asyncsignal.bridge._origins import CAPACITY, Origins
from asyncsignal.bridge._reject import Reject

ORIGIN = "0123456789abcdef" * 2
OTHER = "fedcba9876543210" * 2


def event(origin: str, seq: int, sent_at: int | None = None) -> Envelope:
    return Envelope(origin, seq, "s", None, {}, sent_at)


def test_gaps_are_missed_and_repeats_or_late_events_rejected() -> None:
    origins = Origins()
    for seq in (1, 2, 6):
        origins.admit(event(ORIGIN, seq))
    assert origins.missed == 3
    for seq in (6, 4, 1):
        with pytest.raises(Reject, match="its origin sent seq 6 already"):
            origins.admit(event(ORIGIN, seq))
    origins.admit(event(OTHER, 5))  # a new origin: no gap known
    assert origins.missed == 3


def test_the_table_is_bounded_and_forgets_the_least_recently_heard() -> None:
    origins = Origins()
    origins.admit(event(ORIGIN, 1))
    for n in range(CAPACITY):
        origins.admit(event(f"{n:032x}", 1))
        if n == CAPACITY // 2:
            origins.admit(event(ORIGIN, 2))  # heard again: kept
    assert len(origins._last) == CAPACITY
    with pytest.raises(Reject, match="sent seq 2 already"):
        origins.admit(event(ORIGIN, 2))
    # The first of the others was forgotten: unsigned, it reads as new.
    origins.admit(event(f"{0:032x}", 1))


def test_signed_events_are_refused_when_old_or_possibly_replayed() -> None:
    now = time.time_ns() // 1_000_000
    origins = Origins(max_age=300.0)
    with pytest.raises(Reject, match=r"it was sent 301 s ago, over the 300 s"):
        origins.admit(event(ORIGIN, 1, now - 301_000))
    origins.admit(event(ORIGIN, 1, now - 10_000))
    for n in range(CAPACITY):
        origins.admit(event(f"{n:032x}", 1, now))
    # ORIGIN was forgotten: its replay is no newer than what was forgotten.
    with pytest.raises(Reject, match="may be a replay"):
        origins.admit(event(ORIGIN, 1, now - 10_000))
    origins.admit(event(OTHER, 1, now + 1))
