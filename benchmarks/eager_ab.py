"""Before and after eager start on Python 3.10/3.11, interleaved in one process.

    python3 dev.py nox -s bench-3.11 -- --only W1   # builds the environment once
    .nox/bench-3-11/bin/python benchmarks/eager_ab.py [--rounds N]

"before" is asyncsignal with its stepping switched off
(``_backends._asyncio._STEPPING = False``: every async receiver gets a plain
task, as before eager start on these Pythons); "after" is as shipped. Each
round times both and Django's ``Signal`` on the same workload, one after
another; printed are the medians of the per-round ratios to Django (and W9c's
to the same send without timeouts). On 3.12+ stepping is never used: both
columns measure the same code. Strong plain-function receivers, asyncio.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from asyncsignal import AsyncSignal
from asyncsignal._backends import _asyncio

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable


def _django_signal() -> Any:
    from django.conf import settings

    if not settings.configured:
        settings.configure()
    from django.dispatch import Signal

    return Signal()


def _receivers(kinds: list[str]) -> list[Callable[..., Any]]:
    """Distinct functions (Django and asyncsignal dedupe by identity)."""
    made: list[Callable[..., Any]] = []
    for kind in kinds:
        if kind == "sync":

            def sync(**kwargs: Any) -> int:
                return 1

            made.append(sync)
        else:

            async def coroutine(**kwargs: Any) -> int:
                return 1

            made.append(coroutine)
    return made


WORKLOADS: dict[str, tuple[str, list[str], float | None]] = {
    "W1": ("send", [], None),
    "W2": ("send", ["sync"] * 10, None),
    "asend-1": ("asend", ["async"], None),
    "W3": ("asend", ["async"] * 10, None),
    "W4": ("asend", ["sync", "async"] * 5, None),
    "W9c": ("asend", ["async"] * 10, 5.0),
}


async def _time(call: Callable[[None], Awaitable[Any] | Any], awaited: bool) -> float:
    """Microseconds per call, over a batch of about 20 ms."""
    batch = 50
    while True:
        started = time.perf_counter()
        for _ in range(batch):
            result = call(None)
            if awaited:
                await result
        elapsed = time.perf_counter() - started
        if elapsed > 0.02:
            return elapsed / batch * 1e6
        batch *= 2


async def measure(rounds: int) -> dict[str, dict[str, float]]:
    medians: dict[str, dict[str, float]] = {}
    for name, (method, kinds, timeout) in WORKLOADS.items():
        ours, django = AsyncSignal(), _django_signal()
        plain = AsyncSignal()  # W9c's anchor: the same receivers, no timeout
        for receiver in _receivers(kinds):
            ours.connect(receiver, weak=False, timeout=timeout)
            plain.connect(receiver, weak=False)
            django.connect(receiver, weak=False)
        awaited = method == "asend"
        anchor, anchor_name = (plain, "no timeout") if timeout else (django, "django")

        def call(signal: Any, method: str = method) -> Callable[[None], Any]:
            return getattr(signal, method)  # type: ignore[no-any-return]

        before: list[float] = []
        after: list[float] = []
        for _ in range(rounds):
            _asyncio._STEPPING = False
            off = await _time(call(ours), awaited)
            anchor_off = await _time(call(anchor), awaited)
            _asyncio._STEPPING = not sys.version_info >= (3, 12)
            on = await _time(call(ours), awaited)
            anchor_on = await _time(call(anchor), awaited)
            before.append(off / anchor_off)
            after.append(on / anchor_on)
        medians[name] = {
            "before": statistics.median(before),
            "after": statistics.median(after),
        }
        print(
            f"{name:<8} vs {anchor_name:<10} before {medians[name]['before']:.3f}x"
            f"   after {medians[name]['after']:.3f}x",
            flush=True,
        )
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(prog="benchmarks/eager_ab.py")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]}, {args.rounds} rounds, asyncio")
    asyncio.run(measure(args.rounds))


if __name__ == "__main__":
    main()
