"""asyncsignal against Django, blinker, aiosignal, psygnal and raw floors.

    python3 dev.py bench                # full run on every Python present: a
                                        # table each, results/latest.{json,png}
                                        # and latest-py3.X.{json,png}
    python3 dev.py bench --smoke        # everything once at tiny sizes (CI), 3.12
    python3 dev.py bench --only W3,W5   # W3 includes W3-trio and W3-uvloop,
                                        # W9 selects W9a-W9c; "scale" selects
                                        # the scaling curves
    python3 dev.py bench --out DIR      # write the JSON and PNG elsewhere
    python3 dev.py bench --python 3.11  # another Python (dev.py takes this flag)

The workloads and targets are in ``workloads.py`` (see README.md). Progress
goes to stderr, the table to stdout. Exits 1 if any contender raised or
returned a wrong result; no timing is ever asserted.
"""

from __future__ import annotations

import argparse
import functools
import importlib.metadata
import json
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if __package__ in (None, ""):
    # Run as a script: import the helpers as the `benchmarks` package, and
    # don't let this directory's modules shadow anything.
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from benchmarks import chart, harness, report, totals
from benchmarks.backends import run_on, unavailable
from benchmarks.calls import Unsupported
from benchmarks.floors import FLOORS
from benchmarks.libraries import LIBRARIES
from benchmarks.workloads import FULL, SMOKE, Mode, Workload, catalogue, select

if TYPE_CHECKING:
    from benchmarks.calls import Call, Dispatch
    from benchmarks.receivers import Probe


class Adapter(Protocol):
    """A library (``libraries.py``) or a raw floor (``floors.py``)."""

    def build(self, dispatch: Dispatch, probe: Probe | None) -> Call: ...


ADAPTERS: dict[str, Adapter] = {**LIBRARIES, **FLOORS}

RESULTS = Path(__file__).resolve().parent / "results"
#: Packages whose versions the results record.
PACKAGES = (
    *("asyncsignal", "django", "blinker", "aiosignal", "psygnal"),
    *("anyio", "trio", "uvloop"),
)


def log(message: str, end: str = "\n") -> None:
    print(message, file=sys.stderr, end=end, flush=True)


def _one_shot(workload: Workload, name: str, mode: Mode) -> harness.Contender:
    def make() -> totals.TotalEntry:
        capped = workload.cap(name, mode)
        if capped is not None:
            raise Unsupported(capped)
        if workload.operation == "connect+disconnect":
            return totals.connect_disconnect(LIBRARIES[name], workload.size)
        if workload.operation == "memory of subscriptions":
            return totals.subscriptions(LIBRARIES[name], workload.size)
        return totals.connect_methods(LIBRARIES[name], workload.size)

    if workload.operation in ("memory", "memory of subscriptions"):
        return totals.one_shot(make, totals.memory_meter(workload.size))
    return totals.one_shot(make, totals.time_meter)


def measure(workload: Workload, mode: Mode) -> dict[str, harness.Outcome]:
    """Every contender of ``workload``, verified then measured round-robin."""
    dispatch = workload.dispatch
    if dispatch is None:
        contenders = {n: _one_shot(workload, n, mode) for n in workload.contenders}
        memory = workload.operation in ("memory", "memory of subscriptions")
        rounds = mode.memory_rounds if memory else None
        return run_on(
            "sync", lambda: harness.measure(contenders, rounds or mode.total_rounds)
        )
    why = unavailable(workload.backend)
    if why is not None:
        return {n: harness.Outcome(skipped=why) for n in workload.contenders}
    contenders = {
        name: harness.per_call(
            name,
            functools.partial(ADAPTERS[name].build, dispatch),
            dispatch.expected(),
            mode.batch_seconds,
        )
        for name in workload.contenders
    }
    return run_on(
        workload.backend, lambda: harness.measure(contenders, mode.call_rounds)
    )


def _meta(mode: Mode, argv: list[str]) -> dict[str, Any]:
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return {
        "mode": mode.name,
        "argv": argv,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": versions,
        "call_rounds": mode.call_rounds,
        "batch_seconds": mode.batch_seconds,
        "total_rounds": mode.total_rounds,
        "memory_rounds": mode.memory_rounds,
        "django_cap": mode.django_cap,
    }


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="benchmarks/run.py",
        description="asyncsignal against its anchors, contenders interleaved.",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="every workload and contender once at tiny sizes; checks that the "
        "suite runs, measures nothing meaningful (writes smoke.json/png)",
    )
    parser.add_argument(
        "--only",
        metavar="IDS",
        help="comma-separated workload ids, e.g. W3,W5,W9,MEM,scale "
        "(W3 also selects W3-trio and W3-uvloop, W9 selects W9a-W9c)",
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        type=Path,
        default=RESULTS,
        help=f"where to write the JSON and PNG (default: {RESULTS})",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    mode = SMOKE if args.smoke else FULL
    try:
        workloads = select(catalogue(mode), args.only)
    except ValueError as error:
        log(f"run.py: {error}")
        return 2
    started = time.monotonic()
    meta = _meta(mode, argv)
    log(f"asyncsignal benchmarks: {mode.name} run, {len(workloads)} workloads")
    results = []
    # trio workloads run last: the others then run in a process that has not
    # imported trio, as an asyncio program would (detecting a running trio
    # costs asyncio code a little once it is imported). The report keeps the
    # catalogue's order.
    for number, workload in enumerate(
        sorted(workloads, key=lambda w: w.backend == "trio"), 1
    ):
        where = "" if workload.backend == "sync" else f" [{workload.backend}]"
        log(f"[{number}/{len(workloads)}] {workload.id}: {workload.title}{where} ", "")
        workload_started = time.monotonic()
        outcomes = measure(workload, mode)
        seconds = time.monotonic() - workload_started
        results.append(report.WorkloadResult(workload, outcomes, seconds))
        log(f"({seconds:.1f} s)")
        for name, outcome in outcomes.items():
            if outcome.error is not None:
                log(f"    {name}: ERROR\n" + outcome.error.rstrip())
    meta["duration_seconds"] = round(time.monotonic() - started, 1)
    results.sort(key=lambda r: workloads.index(r.workload))

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    stem = "smoke" if args.smoke else "latest"
    data = report.to_json(results, meta)
    json_path, png_path = out / f"{stem}.json", out / f"{stem}.png"
    json_path.write_text(
        json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    chart.draw(data, png_path)
    # `python3 dev.py bench` runs every Python present: each keeps its own copy.
    version = "{}.{}".format(*sys.version_info[:2])
    for path in (json_path, png_path):
        path.with_name(f"{stem}-py{version}{path.suffix}").write_bytes(
            path.read_bytes()
        )
    print(report.render(results, meta))
    print(f"\nResults: {json_path}\nChart:   {png_path}")
    print(f"Run time: {meta['duration_seconds']} s")
    return 1 if any(o.error for r in results for o in r.outcomes.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
