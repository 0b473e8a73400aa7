"""asyncsignal.django.Signal's receivers under asgiref keep the parent span:
``sync_to_async`` (its thread) and ``async_to_sync`` (its loop) carry the
caller's context, so a receiver's spans are children of the caller's current
span. (Its sends make no spans of their own yet: see the observability
guide.) Django's async code runs on asyncio only."""

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
def tracer() -> Iterator[trace.Tracer]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    AsyncSignalInstrumentor().instrument(tracer_provider=provider)
    try:
        yield provider.get_tracer("tests")
    finally:
        AsyncSignalInstrumentor().uninstrument()
        provider.shutdown()


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


@pytest.mark.parametrize("anyio_backend", ASYNCIO_BACKENDS)
async def test_asend_runs_receivers_under_asgiref_in_the_callers_span(
    tracer: trace.Tracer,
) -> None:
    seen.clear()
    signal = Signal(name="django_signal")
    signal.connect(in_asgiref)
    signal.connect(in_task)
    with tracer.start_as_current_span("request") as request:
        await signal.asend(None)
    parent = request.get_span_context().span_id
    assert seen["in_asgiref"][0] == seen["in_task"][0] == parent
    # sync_to_async(thread_sensitive=True): another thread than the loop's.
    assert seen["in_asgiref"][1] != threading.current_thread().name


def test_send_runs_async_receivers_through_async_to_sync_in_the_callers_span(
    tracer: trace.Tracer,
) -> None:
    seen.clear()
    signal = Signal(name="django_send")
    signal.connect(in_task)
    with tracer.start_as_current_span("request") as request:
        signal.send(None)
    assert seen["in_task"][0] == request.get_span_context().span_id
