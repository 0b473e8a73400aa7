"""Sharing a signal: :class:`Share`, the subscriber a bridge registers on each
signal it shares, encodes every send into the outbox, in the sender's thread,
before any receiver runs; but not the sends that delivering an incoming event
makes (:data:`delivering`): every process derives those itself."""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

from .._observers import OBSERVERS, outgoing_fields
from .._seam import subscribe, subscribers, unsubscribe
from .._signal import AsyncSignal
from .._subscriptions import NeverFull
from ._envelope import MAX_NAME

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .._subscriptions import Event, Subscriber
    from ._bridge import Bridge
    from ._buffers import Outbox
    from ._envelope import Wire

__all__ = ("Share", "delivering", "is_new_share")

#: The bridge whose dispatcher is delivering an incoming event in this context:
#: its shares then publish nothing.
delivering: ContextVar[Bridge | None] = ContextVar(
    "asyncsignal.bridge.delivering", default=None
)


class Share(NeverFull):
    """The subscriber a bridge registers on each signal it shares: it encodes
    every send into the outbox (the sender's thread, before any receiver runs)."""

    __slots__ = ("_bridge", "_name", "_others", "_outbox", "_seen", "_wire", "signal")

    #: Every send, whatever its sender.
    sender = None

    def __init__(
        self, bridge: Bridge, signal: AsyncSignal, outbox: Outbox, wire: Wire
    ) -> None:
        self._bridge = bridge
        self.signal = signal
        self._name = signal.name or ""
        self._outbox = outbox
        self._wire = wire
        self._seen: tuple[Subscriber, ...] = ()
        self._others: tuple[Subscriber, ...] = ()

    def check_free(self) -> None:
        """:raises RuntimeError: another running bridge shares the signal."""
        for other in subscribers(self.signal):
            if isinstance(other, Share) and other is not self:
                raise RuntimeError(
                    f"{self.signal!r} is shared by {other._bridge!r} already: "
                    "a signal is shared by one running bridge at a time"
                )

    def others(self) -> tuple[Subscriber, ...]:
        """The signal's subscriptions but this one, which incoming events skip
        (the dispatcher's task only)."""
        subscriptions = subscribers(self.signal)
        if subscriptions is not self._seen:  # replaced on every change
            self._seen = subscriptions
            self._others = tuple(s for s in subscriptions if s is not self)
        return self._others

    def subscribe(self) -> None:
        self.check_free()
        subscribe(self.signal, self)

    def unsubscribe(self) -> None:
        unsubscribe(self.signal, self)

    def put_nowait(self, event: Event) -> bool:
        """Encode and queue ``event``; never waits, never refuses.

        :raises TypeError: the event cannot cross (see :class:`Bridge`).
        """
        if delivering.get() is self._bridge:
            return True  # an incoming event's consequence: local only
        trace = outgoing_fields(self.signal) if OBSERVERS else None
        self._outbox.put(
            self._wire.encode(self._name, event.sender, event.kwargs, trace)
        )
        return True


def is_new_share(signal: object, shares: Mapping[str, Share]) -> bool:
    """Whether ``signal`` can be shared by the bridge of ``shares`` and is not
    yet (see :meth:`Bridge.share <asyncsignal.bridge.Bridge.share>`).

    :raises TypeError: not a signal.
    :raises ValueError: a signal without a name, or whose name another
        signal of ``shares`` has.
    """
    if not isinstance(signal, AsyncSignal):
        raise TypeError(
            f"share() takes signals, got {type(signal).__name__} {signal!r}"
        )
    name = signal.name
    if not isinstance(name, str) or not name:
        raise ValueError(
            f"share() needs signals with a name, unique in the "
            f"application: {signal!r} has none; create it with "
            "AsyncSignal(name=...)"
        )
    if len(name) > MAX_NAME:
        raise ValueError(
            f"share() takes signals named in at most {MAX_NAME} "
            f"characters, got one of {len(name):,}"
        )
    existing = shares.get(name)
    if existing is None:
        return True
    if existing.signal is signal:
        return False
    raise ValueError(f"this bridge shares another signal named {name!r} already")
