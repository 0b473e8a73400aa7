"""Measuring: verify each contender, then time them round-robin.

The machines are shared and noisy, so contenders are never measured one
after the other: each round takes one sample of every contender, starting
from a different one each round, and ratios are taken between samples of the
same round. Garbage is collected before each round (per-call workloads) or
each sample (one-shot totals); the collector stays enabled while timing, as
the garbage a library makes is part of its cost.
"""

from __future__ import annotations

import gc
import math
import statistics
import time
import traceback
import tracemalloc
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from .calls import Compiled, Unsupported

if TYPE_CHECKING:
    from collections.abc import Callable

    from .calls import Call
    from .receivers import Probe

__all__ = (
    "Outcome",
    "Summary",
    "TotalEntry",
    "Trial",
    "WrongResult",
    "measure_calls",
    "measure_totals",
    "memory_meter",
    "summarize",
    "time_meter",
)

#: Per-call calibration never times more calls than this in one sample.
_MAX_CALLS = 10_000_000


class WrongResult(AssertionError):
    """A contender's call did not run the receivers it should have."""


@dataclass
class Outcome:
    """One contender on one workload: samples, or why there are none."""

    samples: list[float] = field(default_factory=list)
    #: Calls timed together per sample (per-call workloads; 1 for totals).
    calls_per_sample: int = 1
    #: Why the contender does not take part (shown as a dash).
    skipped: str | None = None
    #: The traceback of what went wrong (verification or timing).
    error: str | None = None

    @property
    def ok(self) -> bool:
        return bool(self.samples) and self.error is None


@dataclass(frozen=True)
class Summary:
    median: float
    q1: float
    q3: float
    min: float
    max: float


def summarize(samples: list[float]) -> Summary:
    """Median, quartiles and range of ``samples`` (at least one)."""
    if len(samples) == 1:
        (only,) = samples
        return Summary(only, only, only, only, only)
    q1, median, q3 = statistics.quantiles(samples, n=4, method="inclusive")
    return Summary(median, q1, q3, min(samples), max(samples))


def _rotated(names: list[str], start: int) -> list[str]:
    start %= max(len(names), 1)
    return names[start:] + names[:start]


# -- per-call workloads --------------------------------------------------------

Builder: TypeAlias = "Callable[[Probe | None], Call]"


def check_result(result: object, expected: list[int]) -> None:
    """Responses, where the contender returns them, must be ``expected``'s.

    Libraries return ``(receiver, response)`` pairs, floors bare responses;
    ``None`` means the contender returns none (aiosignal, psygnal, nurseries).
    Order is not checked: Django's ``asend`` answers sync receivers first.
    """
    if result is None:
        return
    if not isinstance(result, list):
        raise WrongResult(f"expected a list of responses, got {result!r:.200}")
    values = [item[1] if isinstance(item, tuple) else item for item in result]
    if sorted(values) != sorted(expected):
        raise WrongResult(f"responses {values!r:.200} != receivers {expected!r:.200}")


def check_probe(probe: Probe, expected: list[int]) -> None:
    """Every expected receiver ran exactly once, and got the payload ``x=1``."""
    called = sorted(index for index, _ in probe)
    if called != sorted(expected):
        raise WrongResult(f"receivers called {called!r:.200} != {expected!r:.200}")
    payloads = {x for _, x in probe}
    if payloads - {1}:
        raise WrongResult(f"receivers got payload x={payloads!r}, expected x=1")


async def _prepare(name: str, build: Builder, expected: list[int]) -> Compiled:
    # First with probe receivers (which receivers ran, with what), then the
    # timed instance itself once: a fast path that skips work can't pass both.
    probe: Probe = []
    probed = Compiled(build(probe), f"{name} (probe)")
    check_result(await probed.once(), expected)
    check_probe(probe, expected)
    compiled = Compiled(build(None), name)
    check_result(await compiled.once(), expected)
    return compiled


async def _calibrate(compiled: Compiled, batch_seconds: float) -> int:
    """Calls per sample so that one sample takes about ``batch_seconds``."""
    if batch_seconds <= 0:
        return 1
    budget_ns = batch_seconds * 1e9
    calls = 1
    while True:
        elapsed = max(await compiled.timed(calls), 1)
        if elapsed >= budget_ns / 5 or calls >= _MAX_CALLS:
            return max(1, min(_MAX_CALLS, math.ceil(calls * budget_ns / elapsed)))
        calls *= 10


async def measure_calls(
    builders: dict[str, Builder],
    expected: list[int],
    rounds: int,
    batch_seconds: float,
) -> dict[str, Outcome]:
    """Verify, calibrate and time every contender; samples are µs per call."""
    outcomes: dict[str, Outcome] = {}
    ready: dict[str, Compiled] = {}
    for name, build in builders.items():
        try:
            ready[name] = await _prepare(name, build, expected)
        except Unsupported as why:
            outcomes[name] = Outcome(skipped=str(why))
        except Exception:
            outcomes[name] = Outcome(error=traceback.format_exc())
    for name, compiled in list(ready.items()):
        try:
            calls = await _calibrate(compiled, batch_seconds)
        except Exception:
            outcomes[name] = Outcome(error=traceback.format_exc())
            del ready[name]
        else:
            outcomes[name] = Outcome(calls_per_sample=calls)
    for round_ in range(rounds):
        gc.collect()
        for name in _rotated(list(ready), round_):
            outcome = outcomes[name]
            try:
                elapsed = await ready[name].timed(outcome.calls_per_sample)
            except Exception:
                outcome.error = traceback.format_exc()
                del ready[name]
                continue
            outcome.samples.append(elapsed / outcome.calls_per_sample / 1000)
    return outcomes


# -- one-shot totals (connect many, memory) ------------------------------------


@dataclass(frozen=True)
class Trial:
    """One sample of a one-shot workload, set up (untimed) and ready to run.

    ``run`` is what is measured; ``check`` runs afterwards, untimed, and
    raises if ``run`` did not do its job; ``close`` then tears it down.
    """

    run: Callable[[], None]
    check: Callable[[], None]
    close: Callable[[], None] = lambda: None


#: Measures one run: milliseconds, bytes per receiver, ...
Meter: TypeAlias = "Callable[[Callable[[], None]], float]"


def time_meter(run: Callable[[], None]) -> float:
    """Wall time of ``run()`` in milliseconds."""
    gc.collect()
    start = time.perf_counter_ns()
    run()
    return (time.perf_counter_ns() - start) / 1e6


def memory_meter(receivers: int) -> Meter:
    """Bytes allocated by ``run()`` and still held afterwards, per receiver.

    Everything made before ``run`` (the receiver objects) is not traced.
    """

    def meter(run: Callable[[], None]) -> float:
        gc.collect()
        tracemalloc.start()
        try:
            before, _ = tracemalloc.get_traced_memory()
            run()
            gc.collect()
            after, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        return (after - before) / receivers

    return meter


@dataclass(frozen=True)
class TotalEntry:
    """A contender on a one-shot workload.

    ``verify`` checks correctness on a small size before anything is timed;
    ``trial`` sets up one sample.
    """

    verify: Callable[[], None]
    trial: Callable[[], Trial]


def measure_totals(
    entries: dict[str, Callable[[], TotalEntry]],
    rounds: int,
    meter: Meter,
    progress: Callable[[str], Any] | None = None,
) -> dict[str, Outcome]:
    """Verify, then measure each contender ``rounds`` times, round-robin."""
    outcomes: dict[str, Outcome] = {}
    ready: dict[str, TotalEntry] = {}
    for name, make in entries.items():
        try:
            entry = make()
            entry.verify()
        except Unsupported as why:
            outcomes[name] = Outcome(skipped=str(why))
        except Exception:
            outcomes[name] = Outcome(error=traceback.format_exc())
        else:
            ready[name] = entry
            outcomes[name] = Outcome()
    for round_ in range(rounds):
        for name in _rotated(list(ready), round_):
            try:
                trial = ready[name].trial()
                try:
                    value = meter(trial.run)
                    trial.check()
                finally:
                    trial.close()
            except Exception:
                outcomes[name].error = traceback.format_exc()
                del ready[name]
                continue
            outcomes[name].samples.append(value)
        if progress is not None and rounds > 1:
            progress(f"round {round_ + 1}/{rounds}")
    return outcomes
