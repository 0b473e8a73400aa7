"""One process of the bridge benchmark, driven by ``run.py``.

    python agent.py

Reads one JSON command per line on stdin, answers with JSON lines on stdout:

- ``{"role": "subscribe", "contender": ..., "url": ..., "count": n}``: set up
  the contender's subscription, answer ``{"ready": true}``, then collect ``n``
  measured messages (or give up after ``deadline`` seconds) and answer with
  their latencies and arrival times;
- ``{"role": "publish", "contender": ..., "url": ..., "count": n,
  "warmup": w, "interval": s}``: publish ``w`` warm-up messages then ``n``
  measured ones, ``s`` seconds apart (0: a burst), and answer with the times.

Every message carries its send time (``time.monotonic_ns()``: one clock for
every process of the machine). Only the standard library and anyio are
imported up front: the broadcaster agent runs in a virtual environment of its
own (broadcaster 0.3.1 needs redis-py < 8), without asyncsignal.
"""

from __future__ import annotations

import contextlib
import gc
import json
import sys
import time
from typing import TYPE_CHECKING, Any

import anyio

if TYPE_CHECKING:
    from collections.abc import Iterator

CHANNEL = "bench"


def payload(seq: int, warm: bool) -> dict[str, Any]:
    """An order event of about 150 bytes of JSON."""
    return {
        "order_id": 100_000 + seq,
        "sku": "SKU-12345-XL",
        "qty": 3,
        "price": "19.99",
        "customer": "c-4711",
        "note": "gift wrap, leave at the door",
        "seq": seq,
        "warm": warm,
        "t": time.monotonic_ns(),
    }


class Collector:
    """What a subscriber measured."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.latencies: list[float] = []
        self.first = self.last = 0
        self.done = anyio.Event()

    def record(self, data: dict[str, Any]) -> None:
        now = time.monotonic_ns()
        if data["warm"]:
            return
        if not self.latencies:
            self.first = now
        self.last = now
        self.latencies.append((now - data["t"]) / 1000)
        if len(self.latencies) >= self.count:
            self.done.set()

    def report(self) -> dict[str, Any]:
        return {
            "latencies_us": self.latencies,
            "received": len(self.latencies),
            "first_ns": self.first,
            "last_ns": self.last,
        }


def say(message: dict[str, Any]) -> None:
    print(json.dumps(message), flush=True)


# -- subscribers -------------------------------------------------------------------


async def subscribe(command: dict[str, Any]) -> dict[str, Any]:
    contender, url = command["contender"], command["url"]
    collector = Collector(command["count"])
    deadline = command.get("deadline", 30.0)
    family = contender.split(":")[0]
    if family == "raw-redis":
        await _subscribe_raw_redis(url, collector, deadline)
    elif family == "raw-nats":
        await _subscribe_raw_nats(url, collector, deadline)
    elif family == "broadcaster":
        await _subscribe_broadcaster(url, collector, deadline)
    else:
        with _tracing(family):
            await _subscribe_bridge(url, collector, deadline, _secret(family))
    return collector.report()


@contextlib.contextmanager
def _tracing(family: str) -> Iterator[None]:
    """The ``-traced`` and ``-otel`` bridges run with asyncsignal.opentelemetry
    on: the SDK records every span (into a processor that keeps none), no
    metrics. The ``-traced`` bridges carry the trace context in every event;
    the ``-otel`` ones carry none (the propagator injects nothing), so that
    the two differ only in carrying it: the same spans, the same receivers."""
    if not family.endswith(("-traced", "-otel")):
        yield
        return
    from opentelemetry import propagate
    from opentelemetry.metrics import NoOpMeterProvider
    from opentelemetry.propagators.composite import CompositePropagator
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

    from asyncsignal.opentelemetry import AsyncSignalInstrumentor

    provider = TracerProvider()
    provider.add_span_processor(SpanProcessor())  # records, exports nothing
    instrumentor = AsyncSignalInstrumentor()
    instrumentor.instrument(
        tracer_provider=provider, meter_provider=NoOpMeterProvider()
    )
    propagator = propagate.get_global_textmap()
    if family.endswith("-otel"):
        propagate.set_global_textmap(CompositePropagator([]))
    try:
        yield
    finally:
        propagate.set_global_textmap(propagator)
        instrumentor.uninstrument()
        provider.shutdown()


def _secret(family: str) -> str | None:
    """The ``-signed`` bridges share a secret."""
    return "benchmark-secret" if family.endswith("-signed") else None


async def _subscribe_raw_redis(url: str, collector: Collector, deadline: float) -> None:
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(url)
    pubsub = client.pubsub()
    try:
        await pubsub.subscribe(CHANNEL)
        await pubsub.get_message(timeout=None)  # the confirmation
        say({"ready": True})
        with anyio.move_on_after(deadline):
            while not collector.done.is_set():
                message = await pubsub.get_message(timeout=None)
                collector.record(json.loads(message["data"]))
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]
        await client.aclose()


async def _subscribe_raw_nats(url: str, collector: Collector, deadline: float) -> None:
    import nats

    connection = await nats.connect(url)
    try:

        async def on_message(message: Any) -> None:
            collector.record(json.loads(message.data))

        await connection.subscribe(CHANNEL, cb=on_message)
        await connection.flush()
        say({"ready": True})
        with anyio.move_on_after(deadline):
            await collector.done.wait()
    finally:
        await connection.close()


async def _subscribe_broadcaster(
    url: str, collector: Collector, deadline: float
) -> None:
    from broadcaster import Broadcast  # type: ignore[import-not-found, unused-ignore]

    async with (
        Broadcast(url) as broadcast,
        broadcast.subscribe(channel=CHANNEL) as subscriber,
    ):
        say({"ready": True})
        with anyio.move_on_after(deadline):
            async for event in subscriber:
                collector.record(json.loads(event.message))
                if collector.done.is_set():
                    break


async def _subscribe_bridge(
    url: str, collector: Collector, deadline: float, secret: str | None
) -> None:
    from asyncsignal import AsyncSignal
    from asyncsignal.bridge import Bridge

    signal = AsyncSignal(name="bench")

    def on_order(sender: object, **kwargs: Any) -> None:
        collector.record(kwargs)

    signal.connect(on_order)
    bridge = Bridge(url, channel=CHANNEL, secret=secret)
    bridge.share(signal)
    async with bridge:
        say({"ready": True})
        with anyio.move_on_after(deadline):
            await collector.done.wait()


# -- publishers --------------------------------------------------------------------


async def publish(command: dict[str, Any]) -> dict[str, Any]:
    contender, url = command["contender"], command["url"]
    family = contender.split(":")[0]
    sends = [(seq, True) for seq in range(command["warmup"])]
    sends += [(seq, False) for seq in range(command["count"])]
    interval = command["interval"]
    times: dict[str, Any] = {}
    #: How long each measured send kept the sender waiting.
    waits: list[float] = []

    async def paced(send: Any) -> None:
        for seq, warm in sends:
            if not warm and "start_ns" not in times:
                times["start_ns"] = time.monotonic_ns()
            data = payload(seq, warm)
            await send(data)
            if not warm:
                waits.append((time.monotonic_ns() - data["t"]) / 1000)
            if interval:
                await anyio.sleep(interval)
        times["sent_ns"] = time.monotonic_ns()
        waits.sort()
        times["send_p50_us"] = waits[len(waits) // 2] if waits else float("nan")

    if family == "raw-redis":
        import redis.asyncio

        client = redis.asyncio.Redis.from_url(url)
        try:

            async def send_redis(data: dict[str, Any]) -> None:
                await client.publish(CHANNEL, json.dumps(data))

            await paced(send_redis)
        finally:
            await client.aclose()
    elif family == "raw-nats":
        import nats

        connection = await nats.connect(url)
        try:

            async def send_nats(data: dict[str, Any]) -> None:
                await connection.publish(CHANNEL, json.dumps(data).encode())

            await paced(send_nats)
            await connection.flush()
        finally:
            await connection.close()
    elif family == "broadcaster":
        from broadcaster import Broadcast  # type: ignore[import-not-found, unused-ignore]

        async with Broadcast(url) as broadcast:

            async def send_broadcast(data: dict[str, Any]) -> None:
                await broadcast.publish(channel=CHANNEL, message=json.dumps(data))

            await paced(send_broadcast)
    else:
        from asyncsignal import AsyncSignal
        from asyncsignal.bridge import Bridge

        signal = AsyncSignal(name="bench")
        bridge = Bridge(url, channel=CHANNEL, secret=_secret(family))
        bridge.share(signal)
        with _tracing(family):
            async with bridge:

                async def send_bridge(data: dict[str, Any]) -> None:
                    await signal.asend(None, **data)

                await paced(send_bridge)
        times["lost"] = bridge.lost
    times["done_ns"] = time.monotonic_ns()
    return times


def run(command: dict[str, Any]) -> dict[str, Any]:
    contender: str = command["contender"]
    handler = subscribe if command["role"] == "subscribe" else publish
    # The agents live through every contender: the garbage one left (a
    # recorded burst makes thousands of spans) must not be collected during
    # the next one's run.
    gc.collect()
    if contender.endswith(":trio"):
        return anyio.run(handler, command, backend="trio")
    return anyio.run(handler, command, backend="asyncio")


def main() -> None:
    for line in sys.stdin:
        command = json.loads(line)
        if command.get("role") == "quit":
            return
        say(run(command))


if __name__ == "__main__":
    main()
