"""The two thread-safe buffers where the application meets the broker's side,
each drained by one task that a :func:`~asyncsignal._backends.wakeup` wakes:

- the :class:`Outbox`: encoded events, filled by sends in any thread without
  ever waiting, drained by the publisher;
- the :class:`Inbox`: messages from the broker and connection changes, drained
  by the bridge's dispatcher task, which runs the receivers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Generic, TypeVar

from .._backends import wakeup

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from .._backends import Wakeup
    from ._session import Down, Up

__all__ = ("BATCH", "DropWarning", "Inbox", "Outbox")

logger = logging.getLogger("asyncsignal.bridge")

ItemT = TypeVar("ItemT")

#: Most events handed to the broker (or to the dispatcher) at once.
BATCH = 256

#: At most one "buffer full" warning per this many seconds (counts stay exact).
_WARN_EVERY = 5.0


class DropWarning:
    """A warning about dropped or rejected items, logged at most every
    :data:`_WARN_EVERY` seconds, with the count since the last one.
    ``message`` is a %-format with named fields: ``count`` and those given to
    :meth:`add`."""

    __slots__ = ("_message", "_unwarned", "_warned_at")

    def __init__(self, message: str) -> None:
        self._message = message
        self._unwarned = 0
        self._warned_at = -_WARN_EVERY

    def add(self, dropped: int, **fields: object) -> None:
        self._unwarned += dropped
        now = time.monotonic()
        if now - self._warned_at >= _WARN_EVERY:
            self._warned_at = now
            count, self._unwarned = self._unwarned, 0
            logger.warning(self._message, {"count": count, **fields})


class _Batches(Generic[ItemT]):
    """Items queued from any thread (under ``_lock``) and taken in batches by
    one consumer task, which a wake-up in ``_waiter`` wakes; ``_bytes`` counts
    the bytes of the queued ``bytes`` items."""

    __slots__ = ("_bytes", "_items", "_lock", "_waiter")

    def __init__(self) -> None:
        self._items: deque[ItemT] = deque()
        self._bytes = 0
        self._lock = threading.Lock()
        self._waiter: Wakeup | None = None

    def _taken(self, count: int) -> None:
        """Called with the lock held when a batch of ``count`` was taken."""

    async def take(self) -> list[ItemT]:
        """The next items (at most :data:`BATCH`), waiting for one."""
        while True:
            with self._lock:
                items = self._items
                if items:
                    if len(items) <= BATCH:
                        batch = list(items)
                        items.clear()
                        self._bytes = 0
                    else:
                        batch = [items.popleft() for _ in range(BATCH)]
                        self._bytes -= sum(
                            len(item) for item in batch if isinstance(item, bytes)
                        )
                    self._taken(len(batch))
                    return batch
                waiter = self._waiter = wakeup()
            try:
                await waiter.wait()
            finally:
                with self._lock:
                    if self._waiter is waiter:
                        self._waiter = None


class Outbox(_Batches[bytes]):
    """Encoded events waiting to be published, in send order.

    :meth:`put` runs in the sender's thread and never waits: it appends the
    event (numbering it: the ``seq`` of the envelope) unless the bridge is
    disconnected, in which case the event is lost at once. Bounded by
    ``max_bytes``: when full, the **oldest** events are dropped, so what is
    finally published is the most recent. Every loss is counted in
    :attr:`lost` and logged.
    """

    __slots__ = (
        "_down_warned",
        "_finish",
        "_idle_waiters",
        "_in_flight",
        "_overflow",
        "_seq",
        "is_open",
        "lost",
        "max_bytes",
        "published",
    )

    def __init__(self, max_bytes: int, finish: Callable[[bytes, int], bytes]) -> None:
        super().__init__()
        self.max_bytes = max_bytes
        self._finish = finish
        self._seq = 0
        self._idle_waiters: list[Wakeup] = []
        self._in_flight = 0
        self._down_warned = False
        self._overflow = DropWarning(
            "the outgoing buffer is full (max_buffer_bytes=%(max_bytes)d): "
            "dropped the %(count)d oldest events not yet published "
            "(%(lost)d lost in all)"
        )
        self.is_open = False
        self.lost = 0
        self.published = 0

    def put(self, body: bytes) -> None:
        """Queue one event (``body`` ends with ``"seq":``; ``finish(body, seq)``
        makes the message); any thread."""
        with self._lock:
            self._seq += 1
            if not self.is_open:
                self.lost += 1
                waiter = None
                dropped = -1
            else:
                data = self._finish(body, self._seq)
                self._items.append(data)
                self._bytes += len(data)
                dropped = 0
                while self._bytes > self.max_bytes:
                    self._bytes -= len(self._items.popleft())
                    dropped += 1
                self.lost += dropped
                waiter, self._waiter = self._waiter, None
        if waiter is not None:
            waiter.set()
        if dropped > 0:
            self._overflow.add(dropped, max_bytes=self.max_bytes, lost=self.lost)
        elif dropped < 0:
            self._warn_down()

    def _warn_down(self) -> None:
        # One warning per outage; the count at reconnection is logged too.
        if not self._down_warned:
            self._down_warned = True
            logger.warning(
                "the broker is unreachable: sends of shared signals run their "
                "local receivers only, and their events are lost (counted in "
                "Bridge.lost) until the bridge reconnects"
            )

    def _taken(self, count: int) -> None:
        # Lost, not published, if the connection closes before done().
        self._in_flight = count

    def done(self) -> None:
        """The batch from :meth:`take` was handed to the broker."""
        with self._lock:
            self.published += self._in_flight
            self._in_flight = 0
            idle = self._release_idle() if not self._items else []
        for each in idle:
            each.set()

    def open(self) -> None:
        """Connected: events are queued from now on."""
        with self._lock:
            self.is_open = True
            self._down_warned = False

    def close(self) -> int:
        """Disconnected: the events buffered or being published are lost, and
        so is every event until :meth:`open`. Returns how many were lost now."""
        with self._lock:
            count = len(self._items) + self._in_flight
            self.lost += count
            self._items.clear()
            self._bytes = self._in_flight = 0
            self.is_open = False
            idle = self._release_idle()
        for each in idle:
            each.set()
        return count

    def _release_idle(self) -> list[Wakeup]:
        idle, self._idle_waiters = self._idle_waiters, []
        return idle

    async def wait_idle(self) -> None:
        """Wait until everything queued is handed to the broker, or lost."""
        while True:
            with self._lock:
                if not (self.is_open and (self._items or self._in_flight)):
                    return
                waiter = wakeup()
                self._idle_waiters.append(waiter)
            await waiter.wait()


class Inbox(_Batches["bytes | Down | Up"]):
    """Messages from the broker, and connection changes, for the dispatcher.

    Bounded by ``max_bytes`` of messages: when the receivers cannot keep up,
    the oldest messages are dropped (logged; receivers see them as missed).
    Connection changes are never dropped. Messages this bridge published
    itself (brokers echo them) are dropped on arrival, by their prefix.
    """

    __slots__ = ("_echo", "_overflow", "_thread", "max_bytes")

    def __init__(self, max_bytes: int, echo_prefix: bytes) -> None:
        """Made in the dispatcher's thread."""
        super().__init__()
        self.max_bytes = max_bytes
        self._echo = echo_prefix
        self._thread = threading.get_ident()
        self._overflow = DropWarning(
            "the incoming buffer is full (max_buffer_bytes=%(max_bytes)d): "
            "receivers do not keep up, dropped the %(count)d oldest incoming "
            "events"
        )

    def deliver(self, messages: list[bytes]) -> bool:
        """Queue messages from the broker, in order (any thread, never waits);
        return whether it woke the dispatcher on this thread's loop. The
        broker's reader then yields once, so that the dispatcher runs before
        the reader goes on reading: that is the latency of the event. (A reader
        in the helper thread has nothing to yield to: its turn of the loop
        would only hold the GIL that the woken dispatcher needs.) A reader
        hands over all it read at once: the lock is taken once per read."""
        echo = self._echo
        kept = [message for message in messages if not message.startswith(echo)]
        return bool(kept) and (
            self._queue(kept, sum(map(len, kept)))
            and threading.get_ident() == self._thread
        )

    def put(self, change: Down | Up) -> bool:
        """Queue a connection change; any thread, never waits. Returns whether
        it woke the dispatcher."""
        return self._queue([change], 0)

    def _queue(self, items: Iterable[bytes | Down | Up], size: int) -> bool:
        """Queue ``items`` (``size``: the bytes of its messages); return
        whether it woke the dispatcher."""
        dropped = 0
        with self._lock:
            self._items.extend(items)
            if size:
                self._bytes += size
                while self._bytes > self.max_bytes:
                    dropped += self._drop_oldest_message()
            waiter, self._waiter = self._waiter, None
        if dropped:
            self._overflow.add(dropped, max_bytes=self.max_bytes)
        if waiter is None:
            return False
        waiter.set()
        return True

    def _drop_oldest_message(self) -> int:
        items = self._items
        index = next(i for i, item in enumerate(items) if type(item) is bytes)
        message = items[index]
        del items[index]
        assert type(message) is bytes
        self._bytes -= len(message)
        return 1
