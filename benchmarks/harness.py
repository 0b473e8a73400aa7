"""Measuring: verify every contender, then time them all round-robin.

The machines are shared and noisy, so contenders are never measured one after
the other: each round takes one sample of every contender, starting from a
different one each round, and ratios are taken between samples of the same
round (``report.py``). Garbage is collected before each round; the collector
stays enabled while timing, as the garbage a library makes is part of its cost.
"""

from __future__ import annotations

import gc
import math
import statistics
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeAlias

from .calls import Compiled, Unsupported

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from .calls import Call
    from .receivers import Probe

__all__ = (
    "Contender",
    "Outcome",
    "Summary",
    "WrongResult",
    "check_probe",
    "measure",
    "per_call",
    "summarize",
)

#: Per-call calibration never times more calls than this in one sample.
_MAX_CALLS = 10_000_000

#: Takes one sample: µs per call, ms in total, bytes per receiver.
Sampler: TypeAlias = "Callable[[], Awaitable[float]]"
#: Verifies a contender (and calibrates it), then returns its sampler.
Contender: TypeAlias = "Callable[[], Awaitable[Sampler]]"
#: Builds a contender's call, with probe receivers or (``None``) plain ones.
Builder: TypeAlias = "Callable[[Probe | None], Call]"


class WrongResult(AssertionError):
    """A contender's call did not run the receivers it should have."""


@dataclass
class Outcome:
    """One contender on one workload: samples, or why there are none."""

    samples: list[float] = field(default_factory=list)
    #: Why the contender does not take part (shown as a dash).
    skipped: str | None = None
    #: The traceback of what went wrong (verification or timing).
    error: str | None = None


@dataclass(frozen=True)
class Summary:
    median: float
    q1: float
    q3: float


def summarize(values: list[float]) -> Summary:
    """Median and quartiles of ``values`` (at least one)."""
    if len(values) == 1:
        return Summary(values[0], values[0], values[0])
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return Summary(median, q1, q3)


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


async def _check_once(compiled: Compiled, expected: list[int]) -> None:
    result = await compiled.once()
    if compiled.responds:
        check_result(result, expected)


async def _prepare(name: str, build: Builder, expected: list[int]) -> Compiled:
    # First with probe receivers (which receivers ran, with what), then the
    # timed instance itself once: a fast path that skips work can't pass both.
    probe: Probe = []
    probed = Compiled(build(probe), f"{name} (probe)")
    await _check_once(probed, expected)
    check_probe(probe, expected)
    compiled = Compiled(build(None), name)
    await _check_once(compiled, expected)
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


def per_call(
    name: str, build: Builder, expected: list[int], batch_seconds: float
) -> Contender:
    """A contender of a per-call workload; its samples are µs per call."""

    async def prepare() -> Sampler:
        compiled = await _prepare(name, build, expected)
        calls = await _calibrate(compiled, batch_seconds)

        async def sample() -> float:
            elapsed = await compiled.timed(calls)
            if compiled.after_sample is not None:
                compiled.after_sample()
            return elapsed / calls / 1000

        return sample

    return prepare


async def measure(contenders: dict[str, Contender], rounds: int) -> dict[str, Outcome]:
    """Prepare every contender (verify, calibrate), then sample them round-robin.

    A contender that raises :class:`Unsupported` is skipped; one that raises
    anything else is reported with its traceback, the others go on.
    """
    outcomes: dict[str, Outcome] = {}
    samplers: dict[str, Sampler] = {}
    for name, prepare in contenders.items():
        try:
            samplers[name] = await prepare()
        except Unsupported as why:
            outcomes[name] = Outcome(skipped=str(why))
        except Exception:
            outcomes[name] = Outcome(error=traceback.format_exc())
        else:
            outcomes[name] = Outcome()
    ready = dict(samplers)
    for round_ in range(rounds):
        gc.collect()
        names = list(ready)
        start = round_ % max(len(names), 1)
        for name in names[start:] + names[:start]:
            try:
                outcomes[name].samples.append(await ready[name]())
            except Exception:
                outcomes[name].error = traceback.format_exc()
                del ready[name]
    return outcomes
