"""What observers cost (issue 17), in one run, contenders interleaved.

    python3 dev.py nox -s bench-observers-3.12            # ~1 minute
    python3 dev.py nox -s bench-observers-3.12 -- --smoke  # once, tiny (CI)
    ... -- --baseline REF   # the git revision W1-W4 are compared with (main)

W1-W4 with no observer installed, against the same workloads on the
baseline revision's ``asyncsignal`` (extracted with ``git archive`` and
imported as another package in this process): the hot paths' one check must
cost nothing measurable. Then W3 (``asend``, 10 async receivers that never
suspend) with ``asyncsignal.opentelemetry`` instrumented:

- with a sampler that records nothing (``ALWAYS_OFF``, no metrics): target
  <= 1.5 x W3 uninstrumented;
- recorded by the SDK (``ALWAYS_ON``; a span processor that keeps nothing, so
  no exporter is measured; no metrics), per receiver: what one more
  receiver adds to a recorded send, ((W3 recorded - W3 recorded with 2
  receivers) - (W3 - W3 with 2 receivers)) / 8: its span, its hooks, and
  the observed dispatch of one receiver. Target <= 1.5 x one bare
  ``tracer.start_as_current_span()`` + end with the same provider (same
  sampler, same processor), measured in the same rounds: as a root span,
  and as the child of a current span (a receiver's span always has a
  parent, the send's). Also reported, with no target: (W3 recorded - W3) /
  10, which charges the send's own span and the observed send's fixed
  costs to its 10 receivers;
- recorded with the SDK's metrics too (reported, no target);
- spanned by hand: the same spans (names, kinds, attributes, parents) made
  in the receivers and around the send without observers, the cheapest way
  the API allows (``start_span``, attach, detach, ``end``): the SDK's own
  cost of what the instrumentor records, the floor of the figures above.

The instrumentor is installed only around its contenders' samples: the
others run with no observer. asyncio, CPython as run; µs per call, medians
of per-round values; ratios are medians of per-round ratios. Writes nothing;
prints the table. Exits 1 if a contender returned a wrong result.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.util
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Coroutine
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON

if TYPE_CHECKING:
    from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import asyncsignal  # noqa: E402
from asyncsignal.opentelemetry import AsyncSignalInstrumentor  # noqa: E402

RECEIVERS = 10

#: One call of a contender, awaited (sync workloads are wrapped).
Call = Callable[[], Coroutine[Any, Any, Any]]


def load_baseline(ref: str, into: Path) -> ModuleType:
    """``asyncsignal`` as of git revision ``ref``, imported as
    ``asyncsignal_baseline``."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, "asyncsignal"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    package = into / "asyncsignal"
    spec = importlib.util.spec_from_file_location(
        "asyncsignal_baseline",
        package / "__init__.py",
        submodule_search_locations=[str(package)],
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["asyncsignal_baseline"] = module
    spec.loader.exec_module(module)
    return module


def receivers(kind: str, count: int) -> list[Callable[..., Any]]:
    made: list[Callable[..., Any]] = []
    for index in range(count):
        if kind == "async":

            async def receiver(index: int = index, **kwargs: Any) -> int:
                return index

        else:

            def receiver(index: int = index, **kwargs: Any) -> int:  # type: ignore[misc]
                return index

        made.append(receiver)
    return made


def async_w3(package: ModuleType, count: int) -> Call:
    """``asend`` to ``count`` async receivers that never suspend."""
    signal = package.AsyncSignal(name="w3")
    for receiver in receivers("async", count):
        signal.connect(receiver, weak=False)
    return lambda: signal.asend(None, x=1)


def workloads(package: ModuleType, label: str) -> dict[str, Call]:
    """W1-W4 on ``package``'s AsyncSignal, as benchmarks/ defines them."""
    calls: dict[str, Call] = {}
    w1 = package.AsyncSignal(name="w1")

    async def send_w1() -> Any:
        return w1.send(None, x=1)

    calls[f"W1 {label}"] = send_w1
    w2 = package.AsyncSignal(name="w2")
    for receiver in receivers("sync", RECEIVERS):
        w2.connect(receiver, weak=False)

    async def send_w2() -> Any:
        return w2.send(None, x=1)

    calls[f"W2 {label}"] = send_w2
    calls[f"W3 {label}"] = async_w3(package, RECEIVERS)
    w4 = package.AsyncSignal(name="w4")
    for receiver in [*receivers("sync", 5), *receivers("async", 5)]:
        w4.connect(receiver, weak=False)
    calls[f"W4 {label}"] = lambda: w4.asend(None, x=1)
    return calls


def by_hand(tracer: trace.Tracer, count: int) -> Call:
    """W3 with ``count`` receivers instrumented by hand as the conventions
    ask, without observers: a PRODUCER span current around the send, a
    CONSUMER child span with the same attributes current in each receiver;
    the cheapest calls the API offers (no context manager, attributes made
    once): what asyncsignal.opentelemetry's spans cost the SDK itself."""
    signal = asyncsignal.AsyncSignal(name="w3")
    attributes = {
        "messaging.system": "asyncsignal",
        "messaging.destination.name": "w3",
        "messaging.operation.name": "process",
        "messaging.operation.type": "process",
        "code.function.name": f"{__name__}.receiver",
    }
    consumer, producer = trace.SpanKind.CONSUMER, trace.SpanKind.PRODUCER
    for index in range(count):

        async def receiver(index: int = index, **kwargs: Any) -> int:
            span = tracer.start_span("process w3", None, consumer, attributes)
            token = otel_context.attach(trace.set_span_in_context(span))
            otel_context.detach(token)
            span.end()
            return index

        signal.connect(receiver, weak=False)

    async def send() -> Any:
        span = tracer.start_span(
            "asend w3",
            None,
            producer,
            {
                "messaging.system": "asyncsignal",
                "messaging.destination.name": "w3",
                "messaging.operation.name": "asend",
                "messaging.operation.type": "send",
                "asyncsignal.receivers": count,
            },
        )
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            return await signal.asend(None, x=1)
        finally:
            otel_context.detach(token)
            span.end()

    return send


class Instrumented:
    """Instruments around each sample of a contender only."""

    def __init__(self, sampler: Any, metrics: bool) -> None:
        self.provider = TracerProvider(sampler=sampler)
        self.provider.add_span_processor(SpanProcessor())  # keeps nothing
        self.meters: Any = (
            MeterProvider(metric_readers=[InMemoryMetricReader()])
            if metrics
            else NoOpMeterProvider()
        )

    def __enter__(self) -> None:
        AsyncSignalInstrumentor().instrument(
            tracer_provider=self.provider, meter_provider=self.meters
        )

    def __exit__(self, *exc: object) -> None:
        AsyncSignalInstrumentor().uninstrument()


async def timed(call: Call, calls: int) -> float:
    """µs per call over ``calls`` calls."""
    start = time.perf_counter_ns()
    for _ in range(calls):
        await call()
    return (time.perf_counter_ns() - start) / calls / 1000


async def run(options: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="observers-bench-") as tmp:
        baseline = load_baseline(options.baseline, Path(tmp))
        contenders: dict[str, tuple[Call, Instrumented | None]] = {}
        for name, call in workloads(asyncsignal, "here").items():
            contenders[name] = (call, None)
        for name, call in workloads(baseline, options.baseline).items():
            contenders[name] = (call, None)
        w3 = contenders["W3 here"][0]
        off = Instrumented(ALWAYS_OFF, metrics=False)
        recorded = Instrumented(ALWAYS_ON, metrics=False)
        with_metrics = Instrumented(ALWAYS_ON, metrics=True)
        w3_two = async_w3(asyncsignal, 2)
        contenders["W3, 2 receivers"] = (w3_two, None)
        contenders["W3 instrumented, sampler off"] = (w3, off)
        contenders["W3 recorded"] = (w3, recorded)
        contenders["W3 recorded, 2 receivers"] = (w3_two, recorded)
        contenders["W3 recorded + metrics"] = (w3, with_metrics)
        tracer = recorded.provider.get_tracer("bench")

        async def bare_span() -> None:
            with tracer.start_as_current_span("bare"):
                pass

        contenders["bare start_as_current_span + end"] = (bare_span, None)
        # The same, as a child of a current span: where a receiver's span
        # always is (under the send's).
        parent = trace.set_span_in_context(tracer.start_span("parent"))

        async def bare_child_span() -> None:
            with tracer.start_as_current_span("bare", context=parent):
                pass

        contenders["bare span, child of a current one"] = (bare_child_span, None)
        contenders["W3 spanned by hand"] = (by_hand(tracer, RECEIVERS), None)
        contenders["W3 spanned by hand, 2 receivers"] = (by_hand(tracer, 2), None)

        failures = 0
        calls: dict[str, int] = {}
        for name, (call, instrumented) in contenders.items():
            with instrumented or _nothing():
                result = await call()
            if name.startswith(("W2", "W3", "W4")):
                values = sorted(value for _, value in result)
                expected = sorted(
                    [*range(5), *range(5)]
                    if name.startswith("W4")
                    else range(2 if name.endswith("2 receivers") else 10)
                )
                if values != expected:
                    print(f"{name}: wrong result {values}", file=sys.stderr)
                    failures += 1
            # Calls per sample: about options.sample seconds.
            with instrumented or _nothing():
                per_call = await timed(call, 200)
            calls[name] = max(1, int(options.sample * 1e6 / per_call))
        samples: dict[str, list[float]] = {name: [] for name in contenders}
        names = list(contenders)
        for number in range(options.rounds):
            gc.collect()
            shift = number % len(names)
            for name in names[shift:] + names[:shift]:
                call, instrumented = contenders[name]
                with instrumented or _nothing():
                    samples[name].append(await timed(call, calls[name]))
            print(f"round {number + 1}/{options.rounds}", file=sys.stderr)
    report(samples, options.baseline)
    return 1 if failures else 0


class _nothing:
    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: object) -> None:
        pass


def report(samples: dict[str, list[float]], baseline: str) -> None:
    def median(name: str) -> float:
        return statistics.median(samples[name])

    def ratio(top: Callable[[int], float], bottom: str) -> float:
        return statistics.median(
            top(i) / samples[bottom][i] for i in range(len(samples[bottom]))
        )

    print(f"\n{'contender':36} {'µs/call':>9}")
    for name in samples:
        print(f"{name:36} {median(name):9.2f}")
    print(f"\n{'ratio':58} {'value':>7} {'target':>8}")
    rows: list[tuple[str, float, float | None]] = []
    for workload in ("W1", "W2", "W3", "W4"):
        here, there = f"{workload} here", f"{workload} {baseline}"
        rows.append(
            (
                f"{workload}, no observer / {baseline}",
                ratio(lambda i, n=here: samples[n][i], there),  # type: ignore[misc]
                None,
            )
        )
    rows.append(
        (
            "W3 instrumented, sampler off / W3",
            ratio(lambda i: samples["W3 instrumented, sampler off"][i], "W3 here"),
            1.5,
        )
    )

    def added(i: int, recorded: str) -> float:
        """What one more receiver adds to ``recorded`` (µs), in round i."""
        return (
            (samples[recorded][i] - samples[f"{recorded}, 2 receivers"][i])
            - (samples["W3 here"][i] - samples["W3, 2 receivers"][i])
        ) / (RECEIVERS - 2)

    def all_in(i: int, recorded: str) -> float:
        """``recorded``'s cost over W3's, shared by its receivers (µs)."""
        return (samples[recorded][i] - samples["W3 here"][i]) / RECEIVERS

    for bare, short in (
        ("bare start_as_current_span + end", "bare span"),
        ("bare span, child of a current one", "bare child span"),
    ):
        rows.append(
            (
                f"W3 recorded, per added receiver / {short}",
                ratio(lambda i: added(i, "W3 recorded"), bare),
                1.5,
            )
        )
        rows.append(
            (
                f"  spanned by hand (the SDK's floor) / {short}",
                ratio(lambda i: added(i, "W3 spanned by hand"), bare),
                None,
            )
        )
        for contender in ("W3 recorded", "W3 recorded + metrics", "W3 spanned by hand"):
            rows.append(
                (
                    f"({contender} - W3) / {RECEIVERS} / {short}",
                    ratio(lambda i, c=contender: all_in(i, c), bare),  # type: ignore[misc]
                    None,
                )
            )
    rows.append(
        (
            "W3 recorded / spanned by hand, per added receiver",
            statistics.median(
                added(i, "W3 recorded") / added(i, "W3 spanned by hand")
                for i in range(len(samples["W3 here"]))
            ),
            None,
        )
    )
    rows.append(
        (
            "(W3 recorded - W3) / (W3 spanned by hand - W3)",
            statistics.median(
                all_in(i, "W3 recorded") / all_in(i, "W3 spanned by hand")
                for i in range(len(samples["W3 here"]))
            ),
            None,
        )
    )
    for label, value, target in rows:
        verdict = "" if target is None else ("met" if value <= target else "MISSED")
        limit = "" if target is None else f"<= {target}"
        print(f"{label:58} {value:6.2f}x {limit:>8} {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--sample", type=float, default=0.05, help="seconds")
    parser.add_argument("--baseline", default="main")
    parser.add_argument("--smoke", action="store_true")
    options = parser.parse_args()
    if options.smoke:
        options.rounds, options.sample = 1, 0.001
    sys.exit(asyncio.run(run(options)))


if __name__ == "__main__":
    main()
