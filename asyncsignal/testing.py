"""Helpers for testing code that sends or receives signals.

::

    from asyncsignal.testing import capture, connected_to, muted

    with capture(order_placed) as sent:
        place_order()
    assert [event.kwargs["order_id"] for event in sent] == [7]
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, TypeVar

from ._seam import mute, subscribe, unsubscribe
from ._subscriptions import NeverFull

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

    from ._signal import AsyncSignal
    from ._subscriptions import Event

__all__ = ("capture", "connected_to", "muted")

ReceiverT = TypeVar("ReceiverT", bound="Callable[..., Any]")


class _Recorder(NeverFull):
    """A subscriber that appends every event to a list, never full."""

    __slots__ = ("_lock", "events", "sender")

    def __init__(self, sender: object) -> None:
        self.sender = sender
        self.events: list[Event] = []
        self._lock = threading.Lock()

    def put_nowait(self, event: Event) -> bool:
        with self._lock:
            self.events.append(event)
        return True


@contextlib.contextmanager
def capture(signal: AsyncSignal, sender: object = None) -> Iterator[list[Event]]:
    """Record the sends of ``signal`` (from ``sender`` only, if given) made
    inside the block, from any task or thread, as :class:`~asyncsignal.Event`
    objects in send order. Receivers run as usual (combine with :func:`muted`
    to stop them). The list stops growing when the block exits."""
    recorder = _Recorder(sender)
    subscribe(signal, recorder)
    try:
        yield recorder.events
    finally:
        unsubscribe(signal, recorder)


@contextlib.contextmanager
def muted(signal: AsyncSignal) -> Iterator[None]:
    """Inside the block no receiver of ``signal`` is called: every send returns
    ``[]`` and ``has_listeners()`` is false. Subscriptions and :func:`capture`
    still see the sends. Blocks nest; they apply to every thread."""
    mute(signal, 1)
    try:
        yield
    finally:
        mute(signal, -1)


@contextlib.contextmanager
def connected_to(
    signal: AsyncSignal, receiver: ReceiverT, sender: object = None
) -> Iterator[ReceiverT]:
    """Connect ``receiver`` strongly (``weak=False``) for the block only, so a
    ``lambda`` works; it is disconnected on exit, leaving any registration of
    it made elsewhere in place."""
    uid = ("asyncsignal.testing.connected_to", object())
    signal.connect(receiver, sender, weak=False, dispatch_uid=uid)
    try:
        yield receiver
    finally:
        signal.disconnect(sender=sender, dispatch_uid=uid)
