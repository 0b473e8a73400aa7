"""The one internal interface through which the package's extensions reach
inside a signal: streaming (``_subscriptions``), the bridge (``bridge/``), the
test helpers (``testing``), typed signals (``_typed``) and the Django
drop-in (``django/``, the functions at the end). Nothing else
touches :class:`~asyncsignal.AsyncSignal`'s private members; a change to them
shows here, in one file.

Subclasses customise two documented hooks instead, by overriding them:
``AsyncSignal._run_in_thread`` (how a ``thread=True`` receiver runs under
``asend``) and ``AsyncSignal._run_from_sync`` (how ``send`` runs its async
receivers); ``asyncsignal.django`` overrides the first.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from . import _dispatch, _inline_send, _outcomes

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from ._backends import TaskRunner
    from ._registry import Plan, Registry
    from ._signal import AsyncSignal, Responses
    from ._subscriptions import Subscriber

__all__ = (
    "GENERATED_PREFIX",
    "abort_runner",
    "asend_robust_offering",
    "connected_senders",
    "is_plain_keyword",
    "mute",
    "payload_check",
    "plan_for",
    "publish",
    "publish_sync",
    "raise_errors",
    "receiving_plan",
    "registry",
    "run_in_thread",
    "send_state_source",
    "set_payload_check",
    "subscribe",
    "subscribers",
    "unsubscribe",
    "wait_runner",
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


# -- for asyncsignal.django ------------------------------------------------------
# Its Signal subclasses AsyncSignal and keeps Django's behaviour, so it reaches
# further inside than the other extensions: the registry (Django's internals
# such as ``receivers`` are views of it), the plan of a send, the opening of a
# send, and the dispatch engine's runner steps and error raising.


def send_state_source(signal: str) -> dict[str, str]:
    """Source expressions, for code generated on a hot path (asyncsignal.django's
    ``send``), reading from the signal named ``signal`` in that code: ``check``
    (the payload check, or ``None``), ``subscriptions`` (a tuple), ``connected``
    (the sender index: empty exactly when nothing is connected) and ``cache``
    (``id(sender)`` -> plan; replaced, never mutated, on changes; see
    :func:`plan_for` on a miss). Plain attribute loads: no call on the path."""
    return {
        "check": f"{signal}._check_payload",
        "subscriptions": f"{signal}._subscriptions",
        "connected": f"{signal}._connected",
        "cache": f"{signal}._registry.cache",
    }


#: Whether a payload key written as a keyword in generated source names itself
#: (not a keyword, NFKC-normal, not starting with :data:`GENERATED_PREFIX`).
is_plain_keyword: Callable[[str], bool] = _inline_send._is_plain_name

#: The prefix of every name generated code uses besides payload keys.
GENERATED_PREFIX: str = _inline_send._PREFIX


def run_in_thread(signal: AsyncSignal, call: Callable[[], Any]) -> Any:
    """The awaitable running ``call`` in a worker thread as ``signal`` runs a
    ``thread=True`` receiver (its ``_run_in_thread`` hook)."""
    return signal._run_in_thread(call)


def registry(signal: AsyncSignal) -> Registry:
    """The signal's registrations (connect, disconnect, entries, replace,
    purge, claim; its ``cache`` of plans)."""
    return signal._registry


def plan_for(signal: AsyncSignal, sender: object) -> Plan:
    """The plan of a send from ``sender``: cached, computed on a miss."""
    return signal._plan_for(sender)


def receiving_plan(
    signal: AsyncSignal, sender: object, named: dict[str, Any]
) -> Plan | None:
    """The end of a send's opening: the plan for ``sender``, or ``None`` if
    it calls no receiver; a payload argument named ``signal`` is refused."""
    return signal._receiving_plan(sender, named)


def payload_check(signal: AsyncSignal) -> Callable[[str, dict[str, Any]], None] | None:
    """What :func:`set_payload_check` set, or ``None``."""
    return signal._check_payload


def publish_sync(
    signal: AsyncSignal, sender: object, named: dict[str, Any], method: str
) -> None:
    """Offer a sync send (``method``) to the signal's subscribers; refuses,
    as the send would, a send needing an event loop from a loop's thread."""
    signal._publish_sync(sender, named, method)


async def publish(
    signal: AsyncSignal,
    sender: object,
    named: dict[str, Any],
    subscriptions: tuple[Subscriber, ...],
) -> None:
    """Offer an async send to ``subscriptions`` (waits if one blocks)."""
    await signal._publish(sender, named, subscriptions)


async def abort_runner(
    runner: TaskRunner, receivers: list[Callable[..., Any]], method: str
) -> None:
    """Stop a runner early (a receiver raised a ``BaseException`` while
    starting); errors it displaced are logged."""
    await _dispatch._abort(runner, receivers, method)


async def wait_runner(
    runner: TaskRunner, receivers: list[Callable[..., Any]], method: str
) -> None:
    """Wait for a runner's receivers; if that raises (the caller cancelled),
    the errors it displaced are logged first."""
    await _dispatch._wait(runner, receivers, method)


def raise_errors(errors: dict[int, Exception], method: str) -> None:
    """Raise receivers' errors as the core's sends do: nothing if there is
    none, the error itself if one, an ``ExceptionGroup`` (by index) if more."""
    _outcomes.settle([], [], errors, False, method)
