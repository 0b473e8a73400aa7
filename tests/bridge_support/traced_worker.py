"""A worker process for the trace-propagation tests: instrumented with the
OpenTelemetry SDK (in-memory exporter), one bridge sharing ``order_placed``.

    python traced_worker.py URL BACKEND

It prints ``ready`` once its bridge is connected; its receiver, for each
incoming event, sends ``order_shipped`` locally (a span of this process in
the same trace) and prints ``delivered <the baggage's tenant>``; on ``stop``
it closes its bridge, prints its finished spans as one JSON list and exits.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import anyio
import anyio.to_thread
from opentelemetry import baggage
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

from asyncsignal import AsyncSignal
from asyncsignal.bridge import Bridge
from asyncsignal.opentelemetry import AsyncSignalInstrumentor

order_placed = AsyncSignal(name="order_placed")
order_shipped = AsyncSignal(name="order_shipped")


async def main(url: str) -> None:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    AsyncSignalInstrumentor().instrument(tracer_provider=provider)

    async def on_order(**kwargs: Any) -> None:
        tenant = baggage.get_baggage("tenant")
        await order_shipped.asend(None, tenant=tenant)
        print(f"delivered {tenant}", flush=True)

    def on_shipped(**kwargs: Any) -> None:
        pass

    order_placed.connect(on_order)
    order_shipped.connect(on_shipped)
    bridge = Bridge(url)
    bridge.share(order_placed)
    async with bridge:
        print("ready" if bridge.connected else "not connected", flush=True)
        line = await anyio.to_thread.run_sync(sys.stdin.readline)
        if line.strip() != "stop":
            raise SystemExit(f"traced worker: expected 'stop', got {line!r}")
    print(
        json.dumps(
            [
                {
                    "name": span.name,
                    "kind": span.kind.name,
                    "trace_id": span.context.trace_id,
                    "span_id": span.context.span_id,
                    "parent_id": None if span.parent is None else span.parent.span_id,
                    "attributes": dict(span.attributes or {}),
                }
                for span in spans.get_finished_spans()
            ]
        ),
        flush=True,
    )


if __name__ == "__main__":
    url, backend = sys.argv[1:]
    anyio.run(main, url, backend=backend)
