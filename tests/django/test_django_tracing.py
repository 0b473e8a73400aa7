"""asyncsignal.django.Signal's sends under AsyncSignalInstrumentor: a PRODUCER
span per send, child of the caller's current span, and a CONSUMER span per
receiver, child of the send's, which the receiver sees as its current span
under asgiref too: ``sync_to_async`` (its thread) and ``async_to_sync`` (its
loop) carry the caller's context. Django's async code runs on asyncio only."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from support.backends import ASYNCIO_BACKENDS

from asyncsignal.opentelemetry import AsyncSignalInstrumentor

pytest.importorskip("django")
from asyncsignal.django import Signal

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def provider() -> Iterator[TracerProvider]:
    provider = TracerProvider()
    AsyncSignalInstrumentor().instrument(tracer_provider=provider)
    try:
        yield provider
    finally:
        AsyncSignalInstrumentor().uninstrument()
        provider.shutdown()


@pytest.fixture
def exporter(provider: TracerProvider) -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture
def tracer(provider: TracerProvider) -> trace.Tracer:
    return provider.get_tracer("tests")


def tree(exporter: InMemorySpanExporter) -> dict[str, tuple[str, int, int | None]]:
    """span name (a receiver's: its function's) -> (kind, id, parent id)."""
    found = {}
    for span in exporter.get_finished_spans():
        attributes = span.attributes or {}
        function = str(attributes.get("code.function.name", ""))
        name = function.rsplit(".", 1)[-1] or span.name
        parent = None if span.parent is None else span.parent.span_id
        context = span.get_span_context()
        assert context is not None  # a finished span has one
        found[name] = (span.kind.name, context.span_id, parent)
    return found


#: What each receiver saw as its current span, and its thread.
seen: dict[str, tuple[int, str]] = {}


def record(name: str) -> None:
    seen[name] = (
        trace.get_current_span().get_span_context().span_id,
        threading.current_thread().name,
    )


def in_asgiref(**kwargs: Any) -> None:
    record("in_asgiref")


async def in_task(**kwargs: Any) -> None:
    record("in_task")


def inline(**kwargs: Any) -> None:
    record("inline")


@pytest.mark.parametrize("anyio_backend", ASYNCIO_BACKENDS)
async def test_asend_spans_its_receivers_under_asgiref_in_the_callers_trace(
    exporter: InMemorySpanExporter, tracer: trace.Tracer
) -> None:
    seen.clear()
    signal = Signal(name="django_signal")
    signal.connect(in_asgiref)
    signal.connect(inline, thread=False)
    signal.connect(in_task)
    with tracer.start_as_current_span("request"):
        await signal.asend(None)
    spans = tree(exporter)
    _, send, parent = spans["asend django_signal"]
    assert parent == spans["request"][1]
    for name in ("in_asgiref", "inline", "in_task"):
        kind, span, parent = spans[name]
        assert (kind, parent) == ("CONSUMER", send)
        assert seen[name][0] == span  # the receiver's current span is its own
    assert spans["asend django_signal"][0] == "PRODUCER"
    # sync_to_async(thread_sensitive=True): another thread than the loop's.
    assert seen["in_asgiref"][1] != threading.current_thread().name
    assert seen["inline"][1] == threading.current_thread().name


def test_send_spans_async_receivers_through_async_to_sync_in_the_callers_trace(
    exporter: InMemorySpanExporter, tracer: trace.Tracer
) -> None:
    seen.clear()
    signal = Signal(name="django_send")
    signal.connect(inline)
    signal.connect(in_task)
    with tracer.start_as_current_span("request"):
        signal.send(None)
    spans = tree(exporter)
    kind, send, parent = spans["send django_send"]
    assert (kind, parent) == ("PRODUCER", spans["request"][1])
    for name in ("inline", "in_task"):
        assert spans[name][2] == send
        assert seen[name][0] == spans[name][1]
