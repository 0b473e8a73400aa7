"""What a bridge remembers of the processes it hears from: per origin, the last
sequence number delivered, to count the events missed in between and to never
deliver one event twice.

The table is bounded (:data:`CAPACITY` origins of 32 hex digits each, the
least recently heard forgotten first), so that no sender can make it grow.
An unsigned envelope from a forgotten origin is taken as new. A signed one
also carries the time it was sent, which closes that gap: events older than
``max_age`` are refused, and so is any event from an origin not in the table
that was sent no later than the newest event of an origin the table forgot
(its replay could otherwise be delivered again).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ._reject import Reject

if TYPE_CHECKING:
    from ._envelope import Envelope

__all__ = ("CAPACITY", "Origins")

#: Origins remembered at once: about 150 bytes each.
CAPACITY = 4096


class Origins:
    """The dispatcher's table of origins (one task: not thread-safe)."""

    __slots__ = ("_floor", "_last", "max_age", "missed")

    def __init__(self, max_age: float | None = None) -> None:
        #: Seconds a signed event is accepted for after it was sent.
        self.max_age = max_age
        #: origin -> (last seq, its sent_at), least recently heard first.
        self._last: dict[str, tuple[int, int]] = {}
        #: The newest sent_at among forgotten origins' events.
        self._floor = -1
        self.missed = 0

    def admit(self, envelope: Envelope) -> None:
        """Record ``envelope`` as delivered, counting the gap before it in
        :attr:`missed`.

        :raises Reject: it was delivered already (a duplicate or a replay), it
            comes after a later event of its origin, or it is signed and
            older than ``max_age`` or than what the table has forgotten.
        """
        origin, seq, sent_at = envelope.origin, envelope.seq, envelope.sent_at
        if sent_at is not None and self.max_age is not None:
            age = time.time() - sent_at / 1000
            if age > self.max_age:
                raise Reject(
                    f"it was sent {age:.0f} s ago, over the {self.max_age:.0f} s "
                    "a signed event is accepted for (a replay, or clocks apart)"
                )
        last_seen = self._last.pop(origin, None)
        if last_seen is None:
            if sent_at is not None and sent_at <= self._floor:
                raise Reject(
                    "its origin is not remembered and it is no newer than what "
                    "was forgotten: it may be a replay"
                )
        else:
            last = last_seen[0]
            if seq <= last:
                self._last[origin] = last_seen  # still the most recently heard
                raise Reject(
                    f"its origin sent seq {last} already: a repeat or a replay"
                )
            self.missed += seq - last - 1
        self._last[origin] = (seq, -1 if sent_at is None else sent_at)
        if len(self._last) > CAPACITY:
            forgotten = next(iter(self._last))
            self._floor = max(self._floor, self._last.pop(forgotten)[1])
