"""The trace crosses processes: a send in this process and the receivers of
its event in a real second process (over real Redis and NATS servers), both
instrumented with the OpenTelemetry SDK, record one trace: the remote
receivers' spans are children of this send's span, on asyncio and trio."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream
from bridge_support.peers import DEADLINE
from opentelemetry import baggage
from opentelemetry import context as otel_context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)

from asyncsignal import AsyncSignal
from asyncsignal.bridge import Bridge
from asyncsignal.opentelemetry import AsyncSignalInstrumentor

if TYPE_CHECKING:
    from collections.abc import Iterator

    from bridge_support.servers import Server

pytest_plugins = ["bridge_support.fixtures"]

WORKER = Path(__file__).parent.parent / "bridge_support" / "traced_worker.py"
#: Starting an interpreter and importing the SDK and the clients, loaded.
STARTUP = 60.0


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = AsyncSignalInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        yield exporter
    finally:
        instrumentor.uninstrument()
        provider.shutdown()


@pytest.mark.parametrize(
    "anyio_backend", [("asyncio", {}), ("trio", {})], ids=["asyncio", "trio"]
)
async def test_a_remote_processs_receivers_run_in_the_senders_trace(
    broker: Server,
    tmp_path: Path,
    spans: InMemorySpanExporter,
    anyio_backend: tuple[str, dict[str, Any]],
) -> None:
    order_placed = AsyncSignal(name="order_placed")
    bridge = Bridge(broker.url)
    bridge.share(order_placed)
    log = tmp_path / "worker.log"
    with log.open("wb") as stderr:
        worker = await anyio.open_process(
            [sys.executable, str(WORKER), broker.url, anyio_backend[0]],
            stderr=stderr,
        )
    assert worker.stdout is not None
    assert worker.stdin is not None
    lines = BufferedByteReceiveStream(worker.stdout)
    try:
        async with bridge:
            with anyio.fail_after(STARTUP):
                assert await lines.receive_until(b"\n", 1 << 20) == b"ready"
            token = otel_context.attach(baggage.set_baggage("tenant", "acme"))
            try:
                await order_placed.asend(None, order_id=7)
            finally:
                otel_context.detach(token)
            with anyio.fail_after(DEADLINE):
                delivered = await lines.receive_until(b"\n", 1 << 20)
        # The baggage crossed with the trace.
        assert delivered == b"delivered acme"
        await worker.stdin.send(b"stop\n")
        with anyio.fail_after(DEADLINE):
            remote = json.loads(await lines.receive_until(b"\n", 1 << 24))
            assert await worker.wait() == 0
    finally:
        with anyio.CancelScope(shield=True):
            if worker.returncode is None:
                worker.kill()
            await worker.aclose()
        if log.stat().st_size:
            sys.stderr.write(log.read_text())
    (send,) = spans.get_finished_spans()
    assert send.name == "asend order_placed"
    by_name = {
        (s["name"], s["attributes"].get("code.function.name", "")): s for s in remote
    }
    receiver = by_name[("process order_placed", "__main__.main.<locals>.on_order")]
    shipped = by_name[("asend order_shipped", "")]
    inner = by_name[("process order_shipped", "__main__.main.<locals>.on_shipped")]
    assert receiver["kind"] == "CONSUMER"
    assert {s["trace_id"] for s in remote} == {send.context.trace_id}
    assert receiver["parent_id"] == send.context.span_id
    assert shipped["parent_id"] == receiver["span_id"]
    assert inner["parent_id"] == shipped["span_id"]
    assert len(remote) == 3
