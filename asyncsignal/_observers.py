"""Observers: the public hook that tells tracing, metrics and logging tools
when sends and receivers start and end (:func:`add_observer`).

The hot paths pay one check when nobody observes: they test
:data:`OBSERVERS` (a list that is empty then) and take the observed path
only if it holds an observer. Everything else here runs on that path only;
``_observing`` runs a receiver between its observers' calls.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from ._signal import AsyncSignal
    from ._subscriptions import Subscription

__all__ = (
    "OBSERVERS",
    "How",
    "Observer",
    "Outcome",
    "Watch",
    "add_observer",
    "events_dropped",
    "failed",
    "incoming",
    "outgoing_fields",
    "remove_observer",
    "send_ended",
    "send_started",
)

#: How a receiver ran: called in the sender's thread (``"inline"``: sync
#: receivers, and ``thread=True`` ones under ``send``), as a task of its own
#: (``"task"``: async receivers), or in a worker thread (``"thread"``).
How = Literal["inline", "task", "thread"]
#: How a receiver ended: it returned (``"response"``), raised
#: (``"error"``: any exception, a ``BaseException`` too), exceeded its
#: ``timeout=`` (``"timeout"``: its error is the
#: :class:`~asyncsignal.ReceiverTimeout`) or was cancelled (``"cancelled"``:
#: the send was cancelled, or another receiver raised a ``BaseException``).
Outcome = Literal["response", "error", "timeout", "cancelled"]

logger = logging.getLogger("asyncsignal")


class Observer(Protocol):
    """What :func:`add_observer` takes: an object told about sends and their
    receivers. Subclass it to inherit a do-nothing default for each method
    and override those you need; or implement every method.

    Calls and threads:

    - :meth:`send_started` is called when a send (any of the four methods)
      starts, before its subscriptions are offered the event and before any
      receiver runs, in the sender's thread and context; :meth:`send_ended`
      when it ends (returns, raises or is cancelled), in the same context.
      Sends that run no receiver are told too (``receivers=0``).
    - :meth:`receiver_started` and :meth:`receiver_ended` are called around
      each receiver, in the receiver's own context: in its task for an async
      receiver, in the task waiting for its thread for a ``thread=True``
      receiver (the thread runs in a copy of that context), in the sender's
      thread for a receiver called inline. A context variable an observer
      sets in ``receiver_started`` (a tracer's current span) is therefore what
      the receiver sees, and the receiver's own context variables still reach
      the sender as without observers.
    - Whatever ``send_started`` returns is handed to ``receiver_started`` and
      ``send_ended``; whatever ``receiver_started`` returns to
      ``receiver_ended``. If ``send_started`` returns ``None``, this observer
      is not told about that send's receivers (a tracer that does not sample
      the send skips their cost).
    - On asyncio, async receivers of an observed send each run in a task of
      their own context, as they do on trio: one sees what the receivers that
      finished before it started set. On Python 3.10 and 3.11 they start
      when the sender waits for them, not at their turn in ``asend``
      (Python 3.12+ still starts them eagerly).

    An exception raised by an observer is logged once per observer and method
    on the ``asyncsignal`` logger and otherwise ignored: it never breaks a
    send, and the other observers are still told.
    """

    def send_started(
        self, signal: AsyncSignal, method: str, sender: Any, receivers: int
    ) -> Any:
        """A send of ``signal`` started. ``method`` is ``"send"``,
        ``"send_robust"``, ``"asend"`` or ``"asend_robust"``; ``receivers``
        counts the registrations for ``sender`` (receivers that have been
        garbage collected or are called ``once`` may not run)."""
        return True

    def send_ended(self, context: Any, error: BaseException | None) -> None:
        """The send ended; ``error`` is what it raises (a receiver's error,
        an ``ExceptionGroup``, a cancellation), or ``None`` if it returns."""
        return None

    def receiver_started(self, send: Any, receiver: Any, how: How) -> Any:
        """``receiver`` starts (``send``: what ``send_started`` returned)."""
        return None

    def receiver_ended(
        self,
        context: Any,
        outcome: Outcome,
        error: BaseException | None,
        duration: float,
    ) -> None:
        """The receiver ended after ``duration`` seconds (monotonic clock);
        ``error`` is its exception for ``"error"`` and ``"timeout"`` (a
        :class:`~asyncsignal.ReceiverTimeout`), its cancellation for
        ``"cancelled"``."""
        return None

    def events_dropped(
        self, signal: AsyncSignal, subscription: Subscription, count: int
    ) -> None:
        """``subscription`` of ``signal`` dropped ``count`` events (its
        ``dropped`` counts them all). Called in the sender's thread with the
        subscription's lock held: it must not touch the subscription."""
        return None

    def outgoing(self, signal: AsyncSignal) -> Mapping[str, str] | None:
        """The trace context to carry with this send's event to other
        processes (``asyncsignal.bridge``): W3C ``traceparent`` and, if any,
        ``tracestate`` and ``baggage``; ``None`` for none. Called in the
        sender's context after ``send_started``, when a bridge shares
        ``signal``."""
        return None

    def incoming_started(self, signal: AsyncSignal, fields: Mapping[str, str]) -> Any:
        """A bridge is about to deliver an event of another process that
        carried the trace context ``fields`` (checked: see the bridge's
        envelope). Called in the context in which that delivery's send then
        starts; what it returns is handed to :meth:`incoming_ended`."""
        return None

    def incoming_ended(self, context: Any) -> None:
        """The delivery that :meth:`incoming_started` announced has ended."""
        return None


#: The observers, in the order they were added. The hot paths test it
#: (an empty list is false); it is changed in place, under _CHANGING.
OBSERVERS: list[Observer] = []
_CHANGING = threading.Lock()
#: (id(observer), method) pairs whose failure has been logged.
_LOGGED: set[tuple[int, str]] = set()

_METHODS = (
    "send_started",
    "send_ended",
    "receiver_started",
    "receiver_ended",
    "events_dropped",
    "outgoing",
    "incoming_started",
    "incoming_ended",
)


def add_observer(observer: Observer) -> None:
    """Tell ``observer`` about every send that starts from now on, in any
    thread (see :class:`Observer`). Observers are told in the order they
    were added; adding one twice has no effect. Thread-safe.

    :raises TypeError: ``observer`` lacks one of :class:`Observer`'s methods.
    """
    missing = [n for n in _METHODS if not callable(getattr(observer, n, None))]
    if missing:
        raise TypeError(
            "add_observer() takes an asyncsignal.Observer, got "
            f"{type(observer).__name__} {observer!r}, which has no "
            f"{', '.join(missing)} method (subclass asyncsignal.Observer to "
            "inherit do-nothing defaults)"
        )
    with _CHANGING:
        if not any(each is observer for each in OBSERVERS):
            OBSERVERS[:] = [*OBSERVERS, observer]


def remove_observer(observer: Observer) -> bool:
    """Stop telling ``observer`` about sends that start from now on; return
    whether it was an observer. A send already running still tells it about
    its receivers and its end. Thread-safe."""
    with _CHANGING:
        kept = [each for each in OBSERVERS if each is not observer]
        if len(kept) == len(OBSERVERS):
            return False
        OBSERVERS[:] = kept
        _LOGGED.difference_update([key for key in _LOGGED if key[0] == id(observer)])
        return True


def failed(observer: Observer, method: str) -> None:
    """Log the exception being handled, once per observer and method."""
    key = (id(observer), method)
    if key in _LOGGED:
        return
    _LOGGED.add(key)
    logger.exception(
        "observer %r raised in %s(); ignored (logged once)", observer, method
    )


class Watch:
    """One observed send: each observer with what its ``send_started``
    returned; ``receiving``: the pairs of the observers that want to hear
    about the receivers (empty: the receivers run unobserved); ``single``:
    the one pair if there is exactly one (a tracer: the common case, which
    ``_observing`` calls without a loop)."""

    __slots__ = ("contexts", "receiving", "single")

    def __init__(self, contexts: list[tuple[Observer, Any]]) -> None:
        self.contexts = contexts
        self.receiving = [pair for pair in contexts if pair[1] is not None]
        self.single = self.receiving[0] if len(self.receiving) == 1 else None

    def receivers_watch(self) -> Watch | None:
        """This, for the dispatch functions; ``None`` if no observer wants to
        hear about the receivers (they then run as if unobserved)."""
        return self if self.receiving else None


def send_started(
    signal: AsyncSignal, method: str, sender: object, receivers: int
) -> Watch:
    """Tell every observer that a send starts."""
    contexts: list[tuple[Observer, Any]] = []
    for observer in tuple(OBSERVERS):
        try:
            context = observer.send_started(signal, method, sender, receivers)
        except Exception:
            failed(observer, "send_started")
            context = None
        contexts.append((observer, context))
    return Watch(contexts)


def send_ended(watch: Watch, error: BaseException | None) -> None:
    """Tell the send's observers that it ended, the last one added first."""
    for observer, context in reversed(watch.contexts):
        try:
            observer.send_ended(context, error)
        except Exception:
            failed(observer, "send_ended")


def events_dropped(signal: AsyncSignal, subscription: Subscription, count: int) -> None:
    """Tell every observer that ``subscription`` dropped ``count`` events."""
    for observer in tuple(OBSERVERS):
        try:
            observer.events_dropped(signal, subscription, count)
        except Exception:
            failed(observer, "events_dropped")


def outgoing_fields(signal: AsyncSignal) -> dict[str, str] | None:
    """The trace context the observers give a shared send's event: the
    fields of the first observer that gives any."""
    for observer in tuple(OBSERVERS):
        try:
            fields = observer.outgoing(signal)
        except Exception:
            failed(observer, "outgoing")
            continue
        if fields:
            return dict(fields)
    return None


@contextlib.contextmanager
def incoming(signal: AsyncSignal, fields: Mapping[str, str]) -> Iterator[None]:
    """Around the delivery of an incoming event that carried ``fields``."""
    started: list[tuple[Observer, Any]] = []
    for observer in tuple(OBSERVERS):
        try:
            started.append((observer, observer.incoming_started(signal, fields)))
        except Exception:
            failed(observer, "incoming_started")
    try:
        yield
    finally:
        for observer, context in reversed(started):
            try:
                observer.incoming_ended(context)
            except Exception:
                failed(observer, "incoming_ended")
