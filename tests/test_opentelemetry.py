"""asyncsignal.opentelemetry with the real OpenTelemetry SDK: spans per send and
per receiver, their parents in tasks, threads and inline, errors, timeouts,
cancellation, sampling, metrics, and instrument()/uninstrument()."""

from __future__ import annotations

import contextlib
import functools
import gc
import logging
import threading
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest
from opentelemetry import baggage, trace
from opentelemetry import context as otel_context
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import SpanKind, StatusCode

from asyncsignal import AsyncSignal
from asyncsignal.bridge import Bridge
from asyncsignal.bridge._bridge import live_bridges
from asyncsignal.opentelemetry import AsyncSignalInstrumentor

if TYPE_CHECKING:
    from collections.abc import Iterator


@dataclass
class Telemetry:
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader
    tracer: trace.Tracer

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def by_function(self) -> dict[str, ReadableSpan]:
        return {
            str(span.attributes["code.function.name"]).rsplit(".", 1)[-1]: span
            for span in self.finished()
            if span.attributes and "code.function.name" in span.attributes
        }

    def one(self, name: str) -> ReadableSpan:
        (span,) = [span for span in self.finished() if span.name == name]
        return span

    def points(self) -> dict[str, list[Any]]:
        data = self.metrics.get_metrics_data()
        found: dict[str, list[Any]] = {}
        if data is None:  # nothing was measured since the last collection
            return found
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    found[metric.name] = list(metric.data.data_points)
        return found


@contextlib.contextmanager
def instrumented(
    sampler: Any = None, receiver_spans: bool = True, metrics: bool = True
) -> Iterator[Telemetry]:
    spans = InMemorySpanExporter()
    provider = TracerProvider() if sampler is None else TracerProvider(sampler=sampler)
    provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    instrumentor = AsyncSignalInstrumentor()
    instrumentor.instrument(
        tracer_provider=provider,
        meter_provider=meter_provider if metrics else NoOpMeterProvider(),
        receiver_spans=receiver_spans,
    )
    try:
        yield Telemetry(spans, reader, provider.get_tracer("tests"))
    finally:
        instrumentor.uninstrument()
        meter_provider.shutdown()
        provider.shutdown()


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    with instrumented() as telemetry:
        yield telemetry


def parent_of(span: ReadableSpan) -> int | None:
    return None if span.parent is None else span.parent.span_id


async def quick(**kwargs: Any) -> str:
    await anyio.lowlevel.checkpoint()
    return "quick"


def plain(**kwargs: Any) -> str:
    return "plain"


def in_thread(**kwargs: Any) -> str:
    return threading.current_thread().name


async def failing(**kwargs: Any) -> None:
    raise ValueError("no stock")


async def hanging(**kwargs: Any) -> None:
    await anyio.sleep_forever()


async def test_asend_makes_a_producer_span_with_a_consumer_child_per_receiver(
    telemetry: Telemetry,
) -> None:
    signal = AsyncSignal(name="order_placed")
    for receiver in (quick, plain, failing):
        signal.connect(receiver)
    signal.connect(in_thread, thread=True)
    with pytest.raises(ValueError, match="no stock"):
        await signal.asend(None, order_id=7)
    send = telemetry.one("asend order_placed")
    assert send.kind is SpanKind.PRODUCER
    assert dict(send.attributes or {}) == {
        "messaging.system": "asyncsignal",
        "messaging.destination.name": "order_placed",
        "messaging.operation.name": "asend",
        "messaging.operation.type": "send",
        "asyncsignal.receivers": 4,
        "error.type": "ValueError",
    }
    assert send.status.status_code is StatusCode.ERROR
    receivers = telemetry.by_function()
    assert set(receivers) == {"quick", "plain", "failing", "in_thread"}
    for name, span in receivers.items():
        assert span.name == "process order_placed"
        assert span.kind is SpanKind.CONSUMER
        assert parent_of(span) == send.context.span_id, name
        assert span.context.trace_id == send.context.trace_id
        attributes = dict(span.attributes or {})
        assert attributes["messaging.operation.type"] == "process"
        assert attributes["code.function.name"] == f"{__name__}.{name}"
    assert dict(receivers["quick"].attributes or {}) == {
        "messaging.system": "asyncsignal",
        "messaging.destination.name": "order_placed",
        "messaging.operation.name": "process",
        "messaging.operation.type": "process",
        "code.function.name": f"{__name__}.quick",
    }
    # The thread receiver ran in a worker thread, under its own span.
    assert dict(receivers["in_thread"].attributes or {}) == dict(
        receivers["quick"].attributes or {}
    ) | {"code.function.name": f"{__name__}.in_thread"}
    failed = receivers["failing"]
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes["error.type"] == "ValueError"  # type: ignore[index]
    assert failed.attributes["asyncsignal.receiver.outcome"] == "error"  # type: ignore[index]
    assert [event.name for event in failed.events] == ["exception"]
    assert receivers["quick"].status.status_code is StatusCode.UNSET


async def test_a_receiver_sees_its_own_span_as_current_in_a_task_a_thread_and_inline(
    telemetry: Telemetry,
) -> None:
    seen: dict[str, int] = {}

    def record(name: str) -> None:
        seen[name] = trace.get_current_span().get_span_context().span_id

    async def task_receiver(**kwargs: Any) -> None:
        record("task_receiver")
        await anyio.lowlevel.checkpoint()

    def thread_receiver(**kwargs: Any) -> None:
        record("thread_receiver")

    def inline_receiver(**kwargs: Any) -> None:
        record("inline_receiver")

    signal = AsyncSignal(name="current")
    signal.connect(task_receiver)
    signal.connect(thread_receiver, thread=True)
    signal.connect(inline_receiver)
    with telemetry.tracer.start_as_current_span("request") as request:
        await signal.asend(None)
        # The send's span is no longer current.
        assert trace.get_current_span() is request
    spans = telemetry.by_function()
    assert seen == {name: span.context.span_id for name, span in spans.items()}
    send = telemetry.one("asend current")
    assert parent_of(send) == request.get_span_context().span_id


async def test_sync_receivers_of_send_in_a_worker_thread_keep_the_parent_span(
    telemetry: Telemetry,
) -> None:
    signal = AsyncSignal(name="from_thread")
    signal.connect(plain)
    with telemetry.tracer.start_as_current_span("request") as request:
        await anyio.to_thread.run_sync(lambda: signal.send(None))
    send = telemetry.one("send from_thread")
    assert parent_of(send) == request.get_span_context().span_id
    assert parent_of(telemetry.by_function()["plain"]) == send.context.span_id


def test_send_with_async_receivers_parents_them_across_its_event_loop(
    telemetry: Telemetry,
) -> None:
    signal = AsyncSignal(name="sync_to_async")
    signal.connect(plain)
    signal.connect(quick)
    with telemetry.tracer.start_as_current_span("request"):
        signal.send_robust(None)
    send = telemetry.one("send_robust sync_to_async")
    for span in telemetry.by_function().values():
        assert parent_of(span) == send.context.span_id


async def test_a_timeout_sets_error_type_and_a_cancellation_is_visible(
    telemetry: Telemetry,
) -> None:
    signal = AsyncSignal(name="slow")
    signal.connect(hanging, timeout=0.01)
    await signal.asend_robust(None)
    timed_out = telemetry.by_function()["hanging"]
    assert timed_out.attributes["error.type"] == "asyncsignal.ReceiverTimeout"  # type: ignore[index]
    assert timed_out.attributes["asyncsignal.receiver.outcome"] == "timeout"  # type: ignore[index]
    assert timed_out.status.status_code is StatusCode.ERROR
    telemetry.spans.clear()

    started = anyio.Event()

    async def waiting(**kwargs: Any) -> None:
        started.set()
        await anyio.sleep_forever()

    other = AsyncSignal(name="cancelled")
    other.connect(waiting)
    async with anyio.create_task_group() as group:
        group.start_soon(other.asend, None)
        await started.wait()
        group.cancel_scope.cancel()
    cancelled = telemetry.by_function()["waiting"]
    assert cancelled.attributes["asyncsignal.receiver.outcome"] == "cancelled"  # type: ignore[index]
    assert cancelled.attributes["error.type"] == "cancelled"  # type: ignore[index]
    assert cancelled.status.status_code is StatusCode.ERROR
    assert telemetry.one("asend cancelled").status.status_code is StatusCode.ERROR


async def test_receiver_spans_false_keeps_only_the_send_span() -> None:
    with instrumented(receiver_spans=False) as telemetry:
        signal = AsyncSignal(name="quiet")
        signal.connect(quick)
        signal.connect(plain)
        await signal.asend(None)
        assert [span.name for span in telemetry.finished()] == ["asend quiet"]
        # The receivers are still measured.
        (point,) = [
            p
            for p in telemetry.points()["messaging.process.duration"]
            if p.attributes["code.function.name"].endswith("quick")
        ]
        assert point.count == 1


async def test_a_sampler_that_records_nothing_makes_no_span_and_skips_receivers() -> (
    None
):
    with instrumented(sampler=ALWAYS_OFF, metrics=False) as telemetry:
        seen: list[bool] = []

        async def receiver(**kwargs: Any) -> None:
            seen.append(trace.get_current_span().is_recording())

        signal = AsyncSignal(name="unsampled")
        signal.connect(receiver)
        await signal.asend(None)
        assert telemetry.finished() == []
        assert seen == [False]


async def test_metrics_count_durations_errors_timeouts_and_drops(
    telemetry: Telemetry,
) -> None:
    signal = AsyncSignal(name="measured")
    signal.connect(quick)
    signal.connect(failing)
    signal.connect(hanging, timeout=0.01)
    async with signal.subscribe(max_buffer=1):
        await signal.asend_robust(None)
        await signal.asend_robust(None)
    points = telemetry.points()
    durations = {
        p.attributes["code.function.name"].rsplit(".", 1)[-1]: p
        for p in points["messaging.process.duration"]
    }
    assert {name: p.count for name, p in durations.items()} == {
        "quick": 2,
        "failing": 2,
        "hanging": 2,
    }
    assert durations["failing"].attributes["error.type"] == "ValueError"
    assert (
        durations["hanging"].attributes["error.type"] == "asyncsignal.ReceiverTimeout"
    )
    assert [p.value for p in points["asyncsignal.receiver.errors"]] == [2]
    assert [p.value for p in points["asyncsignal.receiver.timeouts"]] == [2]
    (dropped,) = points["asyncsignal.subscription.dropped"]
    assert dropped.value == 1
    assert dropped.attributes["messaging.destination.name"] == "measured"
    (sends,) = points["messaging.client.operation.duration"]
    assert sends.count == 2
    assert sends.attributes["messaging.operation.name"] == "asend_robust"


async def test_the_bridges_counters_are_observable_instruments(
    telemetry: Telemetry,
) -> None:
    signal = AsyncSignal(name="shared_counted")
    bridge = Bridge("memory://counted", channel="counted")
    bridge.share(signal)
    async with bridge:
        await signal.asend(None)
    points = telemetry.points()
    (number,) = [n for n, each in live_bridges() if each is bridge]
    mine = [
        p
        for p in points["asyncsignal.bridge.published"]
        if p.attributes["asyncsignal.bridge.number"] == number
    ]
    assert [p.value for p in mine] == [bridge.published] == [1]
    assert mine[0].attributes["asyncsignal.bridge.url"] == "memory://counted"
    for name in ("lost", "received", "missed", "rejected", "trace_ignored"):
        assert f"asyncsignal.bridge.{name}" in points


async def test_baggage_and_trace_reach_receivers_of_another_bridge_in_one_process(
    telemetry: Telemetry,
) -> None:
    """Two bridges over memory://: the second delivers the first's event in
    the same trace, its receiver's span a child of the remote send's."""
    sending, receiving = AsyncSignal(name="crossing"), AsyncSignal(name="crossing")
    got = anyio.Event()
    seen: list[object] = []

    async def remote(**kwargs: Any) -> None:
        seen.append(baggage.get_baggage("tenant"))
        got.set()

    receiving.connect(remote)
    first = Bridge("memory://trace", channel="trace")
    second = Bridge("memory://trace", channel="trace")
    first.share(sending)
    second.share(receiving)
    async with first, second:
        await first.wait_connected()
        await second.wait_connected()
        token = otel_context.attach(baggage.set_baggage("tenant", "acme"))
        try:
            await sending.asend(None, n=1)
        finally:
            otel_context.detach(token)
        with anyio.fail_after(10):
            await got.wait()
    send = telemetry.one("asend crossing")
    span = telemetry.by_function()["remote"]
    assert span.context.trace_id == send.context.trace_id
    assert parent_of(span) == send.context.span_id
    assert seen == ["acme"]
    assert second.trace_ignored == 0


def test_instrument_is_a_singleton_idempotent_and_undone_by_uninstrument(
    caplog: pytest.LogCaptureFixture,
) -> None:
    instrumentor = AsyncSignalInstrumentor()
    assert AsyncSignalInstrumentor() is instrumentor
    assert "opentelemetry-api >= 1.27" in instrumentor.instrumentation_dependencies()
    with pytest.raises(
        TypeError, match="receiver_spans must be True or False, got str"
    ):
        instrumentor.instrument(receiver_spans="yes")  # type: ignore[arg-type]
    states = [instrumentor.is_instrumented_by_opentelemetry]
    with instrumented() as telemetry:
        states.append(instrumentor.is_instrumented_by_opentelemetry)
        with caplog.at_level(logging.WARNING, logger="asyncsignal.opentelemetry"):
            instrumentor.instrument()
        assert "already instrumented" in caplog.text
        signal = AsyncSignal(name="on_off")
        signal.connect(plain)
        signal.send(None)
        assert len(telemetry.finished()) == 2
        instrumentor.uninstrument()
        signal.send(None)
        assert len(telemetry.finished()) == 2
        states.append(instrumentor.is_instrumented_by_opentelemetry)
        instrumentor.uninstrument()  # nothing, twice
    assert states == [False, True, False]


def test_the_module_exports_only_the_instrumentor() -> None:
    import asyncsignal.opentelemetry as module

    assert module.__all__ == ("AsyncSignalInstrumentor",)


async def test_an_unsampled_failing_send_is_measured_but_records_no_span() -> None:
    with instrumented(sampler=ALWAYS_OFF) as telemetry:
        signal = AsyncSignal(name="unsampled_failing")
        signal.connect(failing)
        with pytest.raises(ValueError, match="no stock"):
            await signal.asend(None)
        assert telemetry.finished() == []
        points = telemetry.points()
        (duration,) = points["messaging.process.duration"]
        assert duration.attributes["error.type"] == "ValueError"
        (send,) = points["messaging.client.operation.duration"]
        assert send.attributes["error.type"] == "ValueError"


class Handler:
    """A receiver with no code of its own: an object with ``__call__``."""

    def __call__(self, **kwargs: Any) -> str:
        return "handled"


async def test_a_callable_object_is_named_and_the_attribute_cache_is_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncsignal._telemetry as module

    monkeypatch.setattr(module, "_ATTRIBUTES_CACHED", 1)
    monkeypatch.setattr(module, "_DESTINATIONS_CACHED", 1)
    with instrumented() as telemetry:
        objects, others = AsyncSignal(name="objects"), AsyncSignal(name="others")
        handler = Handler()
        objects.connect(handler)
        objects.connect(plain)
        others.connect(plain)
        for _ in range(2):
            await objects.asend(None)
            await others.asend(None)
        names = [
            (span.name, span.attributes["code.function.name"])  # type: ignore[index]
            for span in telemetry.finished()
            if span.name.startswith("process")
        ]
        one_round = [
            ("process objects", f"{__name__}.Handler"),
            ("process objects", f"{__name__}.plain"),
            ("process others", f"{__name__}.plain"),
        ]
        assert names == one_round * 2
        observer = AsyncSignalInstrumentor()._observer
        assert observer is not None
        (destination,) = observer._destinations.values()
        assert len(destination.receivers) == 1


class Slotted:
    """A receiver that cannot be weakly referenced (no ``__weakref__``)."""

    __slots__ = ()

    def __call__(self, **kwargs: Any) -> str:
        return "slotted"


async def test_the_attribute_cache_keeps_no_receiver_alive(
    telemetry: Telemetry,
) -> None:
    signal = AsyncSignal(name="weak")

    async def short_lived(**kwargs: Any) -> None:
        pass

    signal.connect(short_lived)
    signal.connect(Slotted(), weak=False)
    await signal.asend(None)
    gone = weakref.ref(short_lived)
    del short_lived
    gc.collect()
    assert gone() is None
    await signal.asend(None)
    assert sorted(telemetry.by_function()) == ["Slotted", "short_lived"]


async def test_a_receivers_span_is_a_child_of_the_send_even_if_one_leaves_a_span(
    telemetry: Telemetry,
) -> None:
    """A receiver that leaves a span of its own current (handed back to the
    send's context, as any context variable it sets) does not become the
    parent of the next receivers' spans."""

    async def leaky(**kwargs: Any) -> None:
        span = telemetry.tracer.start_span("leaked")
        otel_context.attach(trace.set_span_in_context(span))
        span.end()

    signal = AsyncSignal(name="leaky")
    signal.connect(leaky)
    signal.connect(plain)
    signal.connect(quick)
    await signal.asend(None)
    # Ending the send's span restored the sender's current span.
    assert trace.get_current_span() is trace.INVALID_SPAN
    send = telemetry.one("asend leaky")
    receivers = telemetry.by_function()
    assert set(receivers) == {"leaky", "plain", "quick"}
    for name, span in receivers.items():
        assert parent_of(span) == send.context.span_id, name


async def test_an_unrecorded_send_gives_the_bridge_no_trace_to_carry() -> None:
    """With no span and no metrics, an unsampled send is not current: a bridge
    has no trace to carry, and a subscription's drops count nowhere."""
    with instrumented(sampler=ALWAYS_OFF, metrics=False) as telemetry:
        sending, receiving = AsyncSignal(name="bare"), AsyncSignal(name="bare")
        got = anyio.Event()

        async def remote(**kwargs: Any) -> None:
            got.set()

        receiving.connect(remote)
        first, second = Bridge("memory://bare"), Bridge("memory://bare")
        first.share(sending)
        second.share(receiving)
        async with first, second:
            async with sending.subscribe(max_buffer=1) as events:
                await sending.asend(None)
                await sending.asend(None)
                assert events.dropped == 1
            with anyio.fail_after(10):
                await got.wait()
        assert telemetry.finished() == []
        assert second.trace_ignored == 0


async def test_an_unsampled_trace_crosses_and_its_receivers_make_no_span() -> None:
    """A request's span that is not sampled is current while a send is not
    recorded: the bridge carries it, flagged unsampled, and the receiving
    side makes nothing for it."""
    with instrumented(sampler=ALWAYS_OFF, metrics=False) as telemetry:
        sending, receiving = AsyncSignal(name="flag"), AsyncSignal(name="flag")
        seen: list[trace.SpanContext] = []
        got = anyio.Event()

        async def remote(**kwargs: Any) -> None:
            seen.append(trace.get_current_span().get_span_context())
            got.set()

        receiving.connect(remote)
        first, second = Bridge("memory://flag"), Bridge("memory://flag")
        first.share(sending)
        second.share(receiving)
        async with first, second:
            with telemetry.tracer.start_as_current_span("request") as request:
                await sending.asend(None)
            with anyio.fail_after(10):
                await got.wait()
        assert telemetry.finished() == []
        assert seen[0].trace_id == request.get_span_context().trace_id
        assert not seen[0].trace_flags.sampled


async def test_the_bridge_instruments_report_nothing_once_uninstrumented() -> None:
    with instrumented() as telemetry:
        bridge = Bridge("memory://gone", channel="gone")
        assert telemetry.points()["asyncsignal.bridge.published"]
        AsyncSignalInstrumentor().uninstrument()
        assert telemetry.points() == {}
        del bridge


async def test_a_partial_is_named_after_its_function(telemetry: Telemetry) -> None:
    signal = AsyncSignal(name="partial")
    receiver = functools.partial(plain, extra=1)
    signal.connect(receiver, weak=False)
    await signal.asend(None)
    (span,) = [s for s in telemetry.finished() if s.name == "process partial"]
    assert span.attributes["code.function.name"] == f"{__name__}.plain"  # type: ignore[index]


async def test_spans_without_metrics() -> None:
    with instrumented(metrics=False) as telemetry:
        signal = AsyncSignal(name="spans_only")
        signal.connect(quick)
        signal.connect(failing)
        await signal.asend_robust(None)
        names = sorted(span.name for span in telemetry.finished())
        assert names == ["asend_robust spans_only", *["process spans_only"] * 2]
        assert telemetry.points() == {}
