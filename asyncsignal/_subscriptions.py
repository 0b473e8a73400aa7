"""Subscriptions: sends delivered as :class:`Event` objects into a bounded buffer.

A subscription is not a receiver: it is never called, has no response and is
not in ``receivers``. The signal *publishes* each send to its subscriptions
when the send starts, in the sender's thread, before any receiver runs. The
buffer is guarded by a lock, so sends from any thread reach a subscriber safely;
the consumer is woken on its own event loop (:class:`~._backends.Wakeup`).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

import anyio.lowlevel

from ._backends import Wakeup, running_in_event_loop_thread, wakeup
from ._observers import OBSERVERS, events_dropped
from ._seam import subscribe, unsubscribe

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import TracebackType

    from typing_extensions import Self

    from ._signal import AsyncSignal

__all__ = (
    "Event",
    "NeverFull",
    "Overflow",
    "Subscriber",
    "Subscription",
    "check_subscription_args",
    "publish",
    "publish_sync",
)

Overflow = Literal["drop_oldest", "drop_newest", "block"]
_OVERFLOWS = ("drop_oldest", "drop_newest", "block")


@dataclass(frozen=True, slots=True)
class Event:
    """One send, as a subscription sees it.

    :ivar signal: the signal that was sent.
    :ivar sender: the ``sender`` argument of the send.
    :ivar kwargs: its payload (read-only; shared by every subscription).
    """

    signal: AsyncSignal
    sender: Any
    kwargs: Mapping[str, Any]


def check_subscription_args(max_buffer: object, overflow: object) -> None:
    """:raises TypeError: ``max_buffer`` not an int.
    :raises ValueError: ``max_buffer`` < 1 or an unknown ``overflow``."""
    if isinstance(max_buffer, bool) or not isinstance(max_buffer, int):
        raise TypeError(
            f"max_buffer must be an int, got {type(max_buffer).__name__} {max_buffer!r}"
        )
    if max_buffer < 1:
        raise ValueError(f"max_buffer must be at least 1, got {max_buffer!r}")
    if overflow not in _OVERFLOWS:
        raise ValueError(
            f"overflow must be one of {', '.join(map(repr, _OVERFLOWS))}, "
            f"got {overflow!r}"
        )


class Subscriber(Protocol):
    """What a signal publishes to: a :class:`Subscription`, or a recorder of
    :mod:`asyncsignal.testing`."""

    @property
    def sender(self) -> object: ...

    def put_nowait(self, event: Event) -> bool: ...

    def is_full(self) -> bool: ...

    async def put(self, event: Event) -> None: ...

    def put_blocking(self, event: Event) -> None: ...


class NeverFull:
    """A base for subscribers whose ``put_nowait`` takes every event: a send
    never waits for them, so its waiting paths just hand the event over."""

    __slots__ = ()

    def put_nowait(self, event: Event) -> bool:
        raise NotImplementedError

    def is_full(self) -> bool:
        return False

    async def put(self, event: Event) -> None:  # pragma: no cover
        # Never called: put_nowait never refuses an event.
        self.put_nowait(event)

    def put_blocking(self, event: Event) -> None:
        self.put_nowait(event)


class Subscription:
    """The events of one ``subscribe()`` block: an async iterator of
    :class:`Event`, ending when the block exits.

    Events arrive in the order their sends reached the subscription: each
    task's or thread's sends in the order it made them. Sends made at the same
    moment from different threads may reach two subscriptions in different
    orders (publishing takes no lock across subscriptions).

    :ivar sender: the sender it listens to; ``None`` for every sender.
    :ivar max_buffer: how many events may wait to be consumed.
    :ivar overflow: what a send does when the buffer is full:
        ``"drop_oldest"``, ``"drop_newest"`` or ``"block"``.
    :ivar dropped: how many events were dropped because the buffer was full
        (``"drop_oldest"``/``"drop_newest"``), or could not be delivered
        because the block exited while a ``"block"`` sender waited.
    """

    __slots__ = (
        "_buffer",
        "_closed",
        "_entered",
        "_lock",
        "_room",
        "_room_waiters",
        "_signal",
        "_waiters",
        "dropped",
        "max_buffer",
        "overflow",
        "sender",
    )

    def __init__(
        self,
        signal: AsyncSignal,
        sender: object,
        max_buffer: int | None,
        overflow: Overflow,
    ) -> None:
        self._signal = signal
        self.sender: object = sender
        #: ``None`` only for :meth:`AsyncSignal.wait`, which takes one event.
        self.max_buffer: int | None = max_buffer
        self.overflow: Overflow = overflow
        self.dropped: int = 0
        self._buffer: deque[Event] = deque()
        self._lock = threading.Lock()
        #: Sync senders waiting for room (``"block"``) wait on this; made by
        #: the first one (a Condition is most of an idle subscription's size).
        self._room: threading.Condition | None = None
        #: Async senders waiting for room (``"block"``).
        self._room_waiters: list[Wakeup] = []
        #: The consumers waiting for an event.
        self._waiters: list[Wakeup] = []
        self._closed = False
        self._entered = False

    def __repr__(self) -> str:
        return (
            f"<Subscription to {self._signal!r}: {len(self._buffer)} buffered, "
            f"{self.dropped} dropped, overflow={self.overflow!r}>"
        )

    # -- the subscriber's side ------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._entered:
            raise RuntimeError(
                "a subscription can be entered only once; call subscribe() again"
            )
        self._entered = True
        subscribe(self._signal, self)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    if not TYPE_CHECKING:  # pragma: no branch
        # At run time only: type checkers keep flagging a plain `with`, which
        # Python would refuse with its generic protocol error.
        def __enter__(self) -> None:
            raise TypeError(
                "a subscription is an async context manager: use "
                "'async with signal.subscribe() as events:', not 'with'"
            )

        def __exit__(self, *exc_info: object) -> None:  # pragma: no cover
            # Never called: __enter__ raises.
            pass

    def close(self) -> None:
        """Stop receiving: later sends are not delivered, senders waiting for
        room are released, and iteration ends once the buffer is drained.

        Safe to call more than once, and from any thread, but not from a
        signal handler: it may interrupt a send that holds this subscription's
        lock. To end streams on a signal, call it from the event loop (the
        streaming guide's Server-Sent Events section shows how)."""
        unsubscribe(self._signal, self)
        with self._lock:
            self._closed = True
            waiters, self._waiters = self._waiters, []
            room_waiters, self._room_waiters = self._room_waiters, []
            if self._room is not None:
                self._room.notify_all()
        for each in (*room_waiters, *waiters):
            each.set()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Event:
        if not self._entered:
            raise RuntimeError(
                "iterate a subscription inside its block: "
                "'async with signal.subscribe() as events: async for ...'"
            )
        if self._buffer:
            # Yield even when an event is ready, so that a consumer of a busy
            # subscription does not starve the other tasks (as trio's channels).
            await anyio.lowlevel.checkpoint()
        while True:
            with self._lock:
                if self._buffer:
                    event = self._buffer.popleft()
                    room_waiters = self._make_room()
                    break
                if self._closed:
                    raise StopAsyncIteration
                waiter = wakeup()
                self._waiters.append(waiter)
            try:
                await waiter.wait()
            finally:
                with self._lock:
                    if waiter in self._waiters:
                        self._waiters.remove(waiter)
        for each in room_waiters:
            each.set()
        return event

    def _make_room(self) -> list[Wakeup]:
        # Called with the lock held, after taking an event out.
        if self.overflow != "block":
            return []
        if self._room is not None:
            self._room.notify()
        room_waiters, self._room_waiters = self._room_waiters, []
        return room_waiters

    # -- the senders' side (any thread) ---------------------------------------

    def _offer(self, event: Event) -> list[Wakeup] | None:
        """With the lock held: buffer ``event`` (or drop it, per ``overflow``;
        nothing once closed) and return the consumers to wake, or ``None`` if
        the buffer is full under ``"block"``."""
        if self._closed:
            return []
        if self.max_buffer is not None and len(self._buffer) >= self.max_buffer:
            if self.overflow == "block":
                return None
            self._count_drop()
            if self.overflow == "drop_newest":
                return []
            self._buffer.popleft()
        self._buffer.append(event)
        waiters, self._waiters = self._waiters, []
        return waiters

    def _count_drop(self) -> None:
        """With the lock held: one more event dropped (observers are told)."""
        self.dropped += 1
        if OBSERVERS:
            events_dropped(self._signal, self, 1)

    def put_nowait(self, event: Event) -> bool:
        """Deliver ``event`` unless the buffer is full under ``"block"``;
        return ``False`` then (the caller waits for room)."""
        with self._lock:
            waiters = self._offer(event)
        if waiters is None:
            return False
        for waiter in waiters:
            waiter.set()
        return True

    def is_full(self) -> bool:
        """Whether a ``"block"`` send would have to wait now."""
        return (
            self.overflow == "block"
            and not self._closed
            and self.max_buffer is not None
            and len(self._buffer) >= self.max_buffer
        )

    async def put(self, event: Event) -> None:
        """Deliver ``event``, waiting (cancellably) for room."""
        # A sender cancelled while it waits delivers nothing to this and later
        # subscriptions, and runs no receiver: the caller sees the cancellation.
        while True:
            with self._lock:
                waiters = self._offer(event)
                if waiters is None:
                    room = wakeup()
                    self._room_waiters.append(room)
            if waiters is not None:
                for waiter in waiters:
                    waiter.set()
                return
            try:
                await room.wait()
            finally:
                with self._lock:
                    if room in self._room_waiters:
                        self._room_waiters.remove(room)
            with self._lock:
                if self._closed:
                    # close() released this sender: its event is dropped.
                    self._count_drop()
                    return

    def put_blocking(self, event: Event) -> None:
        """Deliver ``event``, blocking this thread (no event loop runs in it)
        until there is room."""
        with self._lock:
            while (waiters := self._offer(event)) is None:
                if self._room is None:
                    self._room = threading.Condition(self._lock)
                self._room.wait()
                if self._closed:
                    # close() released this sender: its event is dropped.
                    self._count_drop()
                    return
        for waiter in waiters:
            waiter.set()


def publish_sync(
    subscriptions: tuple[Subscriber, ...], event: Event, method: str
) -> None:
    """Deliver a sync send to every matching subscription, in subscription order.

    :raises RuntimeError: a matching ``"block"`` subscription is full and this
        is an event loop's thread, where waiting would deadlock; nothing has
        been delivered.
    """
    matching = [
        s for s in subscriptions if s.sender is None or s.sender is event.sender
    ]
    in_loop_thread = running_in_event_loop_thread()
    if in_loop_thread and any(s.is_full() for s in matching):
        raise _would_deadlock(method)
    for subscription in matching:
        if not in_loop_thread:
            subscription.put_blocking(event)
        elif not subscription.put_nowait(event):
            # Filled by another thread since the check: still never wait here.
            raise _would_deadlock(method)


def _would_deadlock(method: str) -> RuntimeError:
    return RuntimeError(
        f"{method}() was called from a running event loop while a "
        "subscription with overflow='block' is full; waiting here would "
        f"deadlock the loop: use 'await signal.a{method}(...)' instead"
    )


async def publish(subscriptions: tuple[Subscriber, ...], event: Event) -> None:
    """Deliver an async send to every matching subscription, waiting for room
    in ``"block"`` ones (cancellably)."""
    sender = event.sender
    for subscription in subscriptions:
        if (
            subscription.sender is None or subscription.sender is sender
        ) and not subscription.put_nowait(event):
            await subscription.put(event)
