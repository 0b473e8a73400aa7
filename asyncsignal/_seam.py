"""The one internal interface through which the package's extensions reach
inside a signal: streaming (``_subscriptions``), the bridge (``bridge/``), the
test helpers (``testing``) and typed signals (``_typed``). Nothing else
touches :class:`~asyncsignal.AsyncSignal`'s private members; a change to them
shows here, in one file.

Subclasses customise two documented hooks instead, by overriding them:
``AsyncSignal._run_in_thread`` (how a ``thread=True`` receiver runs under
``asend``) and ``AsyncSignal._run_from_sync`` (how ``send`` runs its async
receivers); ``asyncsignal.django`` does.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from ._signal import AsyncSignal, Responses
    from ._subscriptions import Subscriber

__all__ = (
    "asend_robust_offering",
    "connected_senders",
    "mute",
    "set_payload_check",
    "subscribe",
    "subscribers",
    "unsubscribe",
)

#: Guards the replacement of every signal's subscriber tuple (rare).
_SUBSCRIBING = threading.Lock()


def subscribers(signal: AsyncSignal) -> tuple[Subscriber, ...]:
    """The signal's subscribers, in subscription order. The tuple is replaced,
    never mutated, on every change: compare it by identity to cache."""
    return signal._subscriptions


def subscribe(signal: AsyncSignal, subscriber: Subscriber) -> None:
    """Offer every send that starts from now on to ``subscriber`` (any thread)."""
    with _SUBSCRIBING:
        signal._subscriptions = (*signal._subscriptions, subscriber)


def unsubscribe(signal: AsyncSignal, subscriber: Subscriber) -> None:
    """Stop offering sends to ``subscriber``; nothing if it is not subscribed."""
    with _SUBSCRIBING:
        signal._subscriptions = tuple(
            s for s in signal._subscriptions if s is not subscriber
        )


def asend_robust_offering(
    signal: AsyncSignal,
    sender: object,
    named: dict[str, Any],
    offered: tuple[Subscriber, ...],
) -> Coroutine[Any, Any, Responses]:
    """``signal.asend_robust(sender, **named)`` (to be awaited), offering the
    event to the subscribers ``offered`` instead of all of them (a bridge
    delivering an incoming event leaves its own out)."""
    return signal._asend_robust(sender, named, offered)


def connected_senders(signal: AsyncSignal) -> tuple[object, ...]:
    """The live senders that ``signal`` has receivers connected for."""
    return signal._registry.senders()


def mute(signal: AsyncSignal, by: int) -> None:
    """Enter (``by=1``) or leave (``by=-1``) a block in which no receiver of
    ``signal`` is called; blocks nest and apply to every thread."""
    signal._registry.mute(by)


def set_payload_check(
    signal: AsyncSignal, check: Callable[[str, dict[str, Any]], None]
) -> None:
    """Have every send of ``signal`` call ``check(method, named)`` first; it
    raises ``TypeError`` to refuse the send before anything runs."""
    signal._check_payload = check
