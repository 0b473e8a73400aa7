"""The spans and metrics of :mod:`asyncsignal.opentelemetry`: its observer
(what each hook records) and the bridges' observable counters."""

from __future__ import annotations

import functools
import time
import weakref
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import metrics, propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from ._callables import describe
from ._observers import Observer

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from opentelemetry.metrics import CallbackOptions, Observation

    from ._observers import How, Outcome
    from ._signal import AsyncSignal
    from ._subscriptions import Subscription

__all__ = ("BRIDGE_METERS", "SpanObserver", "observe_bridges")


_SYSTEM = "asyncsignal"
#: Most receivers' attribute sets kept per signal name (then forgotten all
#: at once): receivers made by exec() or by closures are new functions each
#: time, and the cache must not grow without bound.
_ATTRIBUTES_CACHED = 10_000
#: Most signal names kept (then forgotten all at once).
_DESTINATIONS_CACHED = 1_000
_CONSUMER = SpanKind.CONSUMER
#: Set while a bridge delivers an incoming event that carried a trace: its
#: send makes no span of its own (the remote send's span is the parent).
_DELIVERING: ContextVar[bool] = ContextVar(
    "asyncsignal.opentelemetry.delivering", default=False
)


def _function_name(receiver: object) -> str:
    """``code.function.name``: the receiver's qualified name, or its class's
    for an object with ``__call__`` (never a ``repr`` with an address: a
    metric attribute must keep few values)."""
    while isinstance(receiver, functools.partial):
        receiver = receiver.func
    if isinstance(getattr(receiver, "__qualname__", None), str):
        return describe(receiver)
    kind = type(receiver)
    return f"{kind.__module__}.{kind.__qualname__}"


def _error_type(error: BaseException) -> str:
    kind = type(error)
    module = kind.__module__
    return (
        kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"
    )


class _Destination:
    """What every send of one signal name shares: the attributes of its
    receivers' spans and metrics, per receiver (made once, then reused: the
    SDK copies them into each span, and a histogram keys its points by
    them)."""

    __slots__ = ("base", "name", "receiver_span", "receivers")

    def __init__(self, name: str) -> None:
        self.name = name
        self.receiver_span = f"process {name}"
        self.base: dict[str, Any] = {
            "messaging.system": _SYSTEM,
            "messaging.destination.name": name,
            "messaging.operation.name": "process",
            "messaging.operation.type": "process",
        }
        #: id(receiver's function) -> (a weak reference to that function,
        #: the attributes). Keyed by identity: hashing a code object costs
        #: as much as a large function's bytecode, and a key must not keep a
        #: weakly connected receiver alive; the reference tells a live
        #: function from a collected one whose id was reused.
        self.receivers: dict[int, tuple[Any, dict[str, Any]]] = {}

    def add(self, receiver: object, function: object) -> dict[str, Any]:
        """The attributes of ``receiver``'s span and metrics, made and kept
        under ``function`` (see ``SpanObserver.receiver_started``)."""
        attributes = dict(self.base)
        attributes["code.function.name"] = _function_name(receiver)
        try:
            reference = weakref.ref(function)
        except TypeError:  # not weakly referenceable (a builtin): not kept
            return attributes
        if len(self.receivers) >= _ATTRIBUTES_CACHED:
            # Mostly entries of collected receivers by now (exec()'d ones).
            self.receivers.clear()
        self.receivers[id(function)] = (reference, attributes)
        return attributes


class _Send:
    """What ``send_started`` hands on: the send's span (``None`` for the
    delivery of an incoming event) and the token of its attachment, the
    context in which it runs (its receivers' spans are children of its
    current span), its destination, method, whether its receivers get spans
    and when it started."""

    __slots__ = (
        "context",
        "destination",
        "method",
        "recording",
        "span",
        "started",
        "token",
    )

    def __init__(
        self,
        span: Any,
        token: Any,
        destination: _Destination,
        method: str,
        recording: bool,
    ) -> None:
        self.span = span
        self.token = token
        self.context = otel_context.get_current()
        self.destination = destination
        self.method = method
        #: Whether receivers get spans (the send's is recording, or it is an
        #: incoming event's delivery whose remote send was sampled).
        self.recording = recording
        self.started = time.perf_counter()


class SpanObserver(Observer):
    """The instrumentor's observer: spans and metrics."""

    def __init__(
        self,
        tracer: trace.Tracer,
        meter: metrics.Meter | None,
        receiver_spans: bool,
    ) -> None:
        self._tracer = tracer
        self._receiver_spans = receiver_spans
        self._metrics = meter is not None
        #: signal name -> what its sends share.
        self._destinations: dict[str, _Destination] = {}
        if meter is not None:
            self._process_duration = meter.create_histogram(
                "messaging.process.duration",
                unit="s",
                description="Duration of a receiver's run.",
            )
            self._send_duration = meter.create_histogram(
                "messaging.client.operation.duration",
                unit="s",
                description="Duration of a send, its receivers included.",
            )
            self._errors = meter.create_counter(
                "asyncsignal.receiver.errors",
                unit="{receiver}",
                description="Receivers that raised an exception.",
            )
            self._timeouts = meter.create_counter(
                "asyncsignal.receiver.timeouts",
                unit="{receiver}",
                description="Receivers that exceeded their timeout.",
            )
            self._dropped = meter.create_counter(
                "asyncsignal.subscription.dropped",
                unit="{event}",
                description="Events that subscriptions dropped.",
            )

    # -- sends --------------------------------------------------------------

    def send_started(
        self, signal: AsyncSignal, method: str, sender: Any, receivers: int
    ) -> _Send | None:
        name = signal.name or "(anonymous)"
        if _DELIVERING.get():
            # An incoming event's delivery: its receivers' parent is the
            # remote send's span, current since incoming_started.
            _DELIVERING.set(False)
            parent = trace.get_current_span().get_span_context()
            sampled = parent.trace_flags.sampled
            if not (sampled or self._metrics):
                return None
            recording = sampled and self._receiver_spans
            return _Send(None, None, self._destination(name), method, recording)
        span = self._tracer.start_span(
            f"{method} {name}",
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": _SYSTEM,
                "messaging.destination.name": name,
                "messaging.operation.name": method,
                "messaging.operation.type": "send",
                "asyncsignal.receivers": receivers,
            },
        )
        if not (span.is_recording() or self._metrics):
            # Not sampled, nothing measured: the receivers run unobserved,
            # and the span is not even made current (what a parent-based
            # sampler decides for a child of it, it decides for a child of
            # the current span: the same, unless the send began a trace).
            return None
        token = otel_context.attach(trace.set_span_in_context(span))
        recording = span.is_recording() and self._receiver_spans
        return _Send(span, token, self._destination(name), method, recording)

    def _destination(self, name: str) -> _Destination:
        destination = self._destinations.get(name)
        if destination is None:
            if len(self._destinations) >= _DESTINATIONS_CACHED:
                self._destinations.clear()
            destination = self._destinations[name] = _Destination(name)
        return destination

    def send_ended(self, context: _Send | None, error: BaseException | None) -> None:
        if context is None or context.span is None:
            return
        span = context.span
        otel_context.detach(context.token)
        error_type = None if error is None else _error_type(error)
        if error is not None and span.is_recording():
            span.set_attribute("error.type", error_type)
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, str(error) or error_type))
        span.end()
        if self._metrics:
            attributes = {
                "messaging.system": _SYSTEM,
                "messaging.destination.name": context.destination.name,
                "messaging.operation.name": context.method,
                "messaging.operation.type": "send",
            }
            if error_type is not None:
                attributes["error.type"] = error_type
            self._send_duration.record(
                time.perf_counter() - context.started, attributes
            )

    # -- receivers ------------------------------------------------------------

    def receiver_started(self, send: _Send, receiver: Any, how: How) -> Any:
        destination = send.destination
        # A bound method's function: one entry for all its instances.
        function = getattr(receiver, "__func__", receiver)
        entry = destination.receivers.get(id(function))
        if entry is not None and entry[0]() is function:
            attributes = entry[1]
        else:
            attributes = destination.add(receiver, function)
        if not send.recording:
            return (None, None, attributes)
        # The send's context, given rather than looked up (twice, by the SDK):
        # the parent is the send's span even if an earlier receiver left a
        # span of its own current, handed back to the receivers' context.
        span = self._tracer.start_span(
            destination.receiver_span, send.context, _CONSUMER, attributes
        )
        return (span, otel_context.attach(trace.set_span_in_context(span)), attributes)

    def receiver_ended(
        self,
        context: Any,
        outcome: Outcome,
        error: BaseException | None,
        duration: float,
    ) -> None:
        span, token, attributes = context
        error_type = None
        if error is not None:
            error_type = "cancelled" if outcome == "cancelled" else _error_type(error)
        if span is not None:
            otel_context.detach(token)
            if error is not None:
                # Only failures: each attribute costs the SDK about as much
                # as a tenth of a span.
                span.set_attribute("error.type", error_type)
                span.set_attribute("asyncsignal.receiver.outcome", outcome)
                if outcome != "cancelled":
                    span.record_exception(error)
                span.set_status(Status(StatusCode.ERROR, str(error) or outcome))
            span.end()
        if self._metrics:
            if error_type is not None:
                attributes = {**attributes, "error.type": error_type}
                if outcome == "timeout":
                    self._timeouts.add(1, attributes)
                elif outcome == "error":
                    self._errors.add(1, attributes)
            self._process_duration.record(duration, attributes)

    # -- subscriptions and the bridge -------------------------------------------

    def events_dropped(
        self, signal: AsyncSignal, subscription: Subscription, count: int
    ) -> None:
        if self._metrics:
            self._dropped.add(
                count,
                {
                    "messaging.system": _SYSTEM,
                    "messaging.destination.name": signal.name or "(anonymous)",
                },
            )

    def outgoing(self, signal: AsyncSignal) -> dict[str, str] | None:
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        return carrier or None

    def incoming_started(self, signal: AsyncSignal, fields: Mapping[str, str]) -> Any:
        remote = propagate.extract(fields)
        return (otel_context.attach(remote), _DELIVERING.set(True))

    def incoming_ended(self, context: Any) -> None:
        token, delivering = context
        _DELIVERING.reset(delivering)
        otel_context.detach(token)


#: (counter name, description, Bridge attribute)
_BRIDGE_COUNTERS = (
    ("published", "Events of this process handed to the broker.", "published"),
    ("lost", "Events of this process that were not published.", "lost"),
    ("received", "Events of other processes delivered here.", "received"),
    ("missed", "Events of other processes known not to have arrived.", "missed"),
    ("rejected", "Incoming messages that were not delivered.", "rejected"),
    (
        "trace_ignored",
        "Incoming events whose trace context was malformed or over its bounds.",
        "trace_ignored",
    ),
)


#: The meters whose bridge instruments report (one while instrumented).
BRIDGE_METERS: weakref.WeakSet[Any] = weakref.WeakSet()


def observe_bridges(meter: metrics.Meter) -> None:
    BRIDGE_METERS.add(meter)
    for counter, description, attribute in _BRIDGE_COUNTERS:
        meter.create_observable_counter(
            f"asyncsignal.bridge.{counter}",
            callbacks=[_bridge_callback(meter, attribute)],
            unit="{event}",
            description=description,
        )


def _bridge_callback(meter: Any, attribute: str) -> Any:
    def observe(options: CallbackOptions) -> Iterable[Observation]:
        if meter not in BRIDGE_METERS:
            return []
        from opentelemetry.metrics import Observation

        from .bridge._bridge import live_bridges

        return [
            Observation(
                getattr(bridge, attribute),
                {
                    "messaging.system": _SYSTEM,
                    "asyncsignal.bridge.url": str(bridge._public_url),
                    "asyncsignal.bridge.channel": bridge.channel,
                    "asyncsignal.bridge.number": number,
                },
            )
            for number, bridge in live_bridges()
        ]

    return observe
