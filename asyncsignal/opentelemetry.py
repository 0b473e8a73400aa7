"""OpenTelemetry for signals: a span per send and per receiver, metrics, and
the trace carried to other processes by :mod:`asyncsignal.bridge`.

::

    from asyncsignal.opentelemetry import AsyncSignalInstrumentor

    AsyncSignalInstrumentor().instrument()  # the global providers, or pass yours

Needs ``asyncsignal[opentelemetry]`` (the OpenTelemetry API; the application
brings the SDK or another implementation). It follows OpenTelemetry's
messaging semantic conventions, with ``messaging.system = "asyncsignal"`` and
a signal's name as its destination:

- **A send** is a ``PRODUCER`` span named ``"<method> <signal name>"``
  (``"asend order_placed"``): ``messaging.operation.name`` is the method
  (``send``, ``send_robust``, ``asend``, ``asend_robust``),
  ``messaging.operation.type`` is ``"send"``. It is the current span while
  the send runs, so the spans its receivers make are its children. An
  exception that the send raises sets its status to ERROR and its
  ``error.type``; a ``*_robust`` send whose receivers fail has OK status
  (their spans show the errors).
- **A receiver** (unless ``receiver_spans=False``) is a ``CONSUMER`` span
  named ``"process <signal name>"``, a child of the send's span, current
  while the receiver runs (in its task, its worker thread, or inline):
  ``messaging.operation.name`` and ``.type`` are ``"process"``,
  ``code.function.name`` is the receiver's qualified name. A receiver's
  exception sets the span's status to ERROR, records the exception and sets
  ``error.type`` to its qualified class name (``"asyncsignal.ReceiverTimeout"``
  for a timeout); a cancelled receiver has ``error.type = "cancelled"`` and
  ERROR status. A failed span also has ``asyncsignal.receiver.outcome``:
  ``error``, ``timeout`` or ``cancelled`` (a receiver's span has no more
  attributes than these: each one costs the SDK about a tenth of a span).
- **Across processes**, a bridge carries the send span's context (W3C
  ``traceparent``, ``tracestate``, baggage) in the event; the receivers of
  the receiving process then make their spans as *children* of that remote
  send span (one message, one parent: the conventions allow the parent for
  a single message's processing), so the whole trace shares one trace id.
  The baggage is current while they run.

Sampling: receivers' spans are made only when the send's span is recording
(as a parent-based sampler would decide); an unsampled send costs one
non-recording span and, if metrics are on, the metrics.

Metrics (a meter named ``asyncsignal``):

- ``messaging.process.duration`` (histogram, s): each receiver's run, with
  ``code.function.name``, the destination and ``error.type`` if it failed;
- ``messaging.client.operation.duration`` (histogram, s): each send;
- ``asyncsignal.receiver.errors`` and ``asyncsignal.receiver.timeouts``
  (counters): receivers that raised, and that timed out;
- ``asyncsignal.subscription.dropped`` (counter): events that subscriptions
  dropped;
- ``asyncsignal.bridge.published``, ``.lost``, ``.received``, ``.missed``,
  ``.rejected``, ``.trace_ignored`` (observable counters): each live
  bridge's counters, with ``asyncsignal.bridge.url`` (without credentials),
  ``asyncsignal.bridge.channel`` and ``asyncsignal.bridge.number`` (1 for
  the first bridge the process made, and so on).

Pass ``meter_provider=opentelemetry.metrics.NoOpMeterProvider()`` to make no
metrics (receivers of unsampled sends then cost nothing more).
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from opentelemetry import metrics, trace

from . import __version__
from ._observers import add_observer, remove_observer
from ._telemetry import BRIDGE_METERS, SpanObserver, observe_bridges

if TYPE_CHECKING:
    from collections.abc import Collection


__all__ = ("AsyncSignalInstrumentor",)

logger: logging.Logger = logging.getLogger("asyncsignal.opentelemetry")


class AsyncSignalInstrumentor:
    """Instruments every signal of the process, in the manner of the
    OpenTelemetry instrumentation packages (one instance per process: every
    ``AsyncSignalInstrumentor()`` is the same object).

    :meth:`instrument` adds an :class:`asyncsignal.Observer` making the spans
    and metrics that :mod:`asyncsignal.opentelemetry` describes;
    :meth:`uninstrument` removes it. Sends already running when either is
    called finish as they started. Thread-safe.
    """

    _instance: AsyncSignalInstrumentor | None = None
    _creating = threading.Lock()

    _observer: SpanObserver | None
    _meter: metrics.Meter | None

    def __new__(cls) -> AsyncSignalInstrumentor:
        with cls._creating:
            if cls._instance is None:
                instance = super().__new__(cls)
                instance._observer = None
                instance._meter = None
                instance._lock = threading.Lock()
                cls._instance = instance
            return cls._instance

    _lock: threading.Lock

    def instrumentation_dependencies(self) -> Collection[str]:
        """The packages (PEP 508) this instrumentation needs, as the
        OpenTelemetry instrumentation packages declare them."""
        return ("asyncsignal", "opentelemetry-api >= 1.27")

    @property
    def is_instrumented_by_opentelemetry(self) -> bool:
        """Whether :meth:`instrument` is in effect."""
        return self._observer is not None

    def instrument(
        self,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
        receiver_spans: bool = True,
    ) -> None:
        """Trace and measure every send from now on.

        :param tracer_provider: where spans go; the global one by default.
        :param meter_provider: where metrics go; the global one by default.
            A ``NoOpMeterProvider`` makes none.
        :param receiver_spans: make a span per receiver (the send's span is
            always made); ``False`` keeps only sends and metrics, for
            applications whose sends have many receivers.

        Calling it again while instrumented does nothing but log a warning on
        the ``asyncsignal.opentelemetry`` logger, as the instrumentation
        packages do.

        :raises TypeError: ``receiver_spans`` is not a bool.
        """
        if not isinstance(receiver_spans, bool):
            raise TypeError(
                "receiver_spans must be True or False, got "
                f"{type(receiver_spans).__name__} {receiver_spans!r}"
            )
        with self._lock:
            if self._observer is not None:
                logger.warning(
                    "AsyncSignalInstrumentor.instrument(): already instrumented"
                )
                return
            tracer = trace.get_tracer(
                "asyncsignal", __version__, tracer_provider=tracer_provider
            )
            meter: metrics.Meter | None = None
            if not isinstance(meter_provider, metrics.NoOpMeterProvider):
                meter = metrics.get_meter(
                    "asyncsignal", __version__, meter_provider=meter_provider
                )
                observe_bridges(meter)
            self._observer = SpanObserver(tracer, meter, receiver_spans)
            self._meter = meter
            add_observer(self._observer)

    def uninstrument(self) -> None:
        """Stop tracing and measuring sends that start from now on (the
        bridges' observable counters report nothing more). Nothing if not
        instrumented."""
        with self._lock:
            if self._observer is None:
                return
            remove_observer(self._observer)
            self._observer = None
            self._meter = None
            BRIDGE_METERS.clear()
