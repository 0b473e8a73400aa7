"""asyncsignal against Django, blinker, aiosignal, psygnal and raw floors.

    python3 dev.py bench                # full run: table, results/latest.{json,png}
    python3 dev.py bench --smoke        # everything once at tiny sizes (CI; <30 s)
    python3 dev.py bench --only W3,W5   # W3 includes W3-trio and W3-uvloop;
                                        # "scale" selects the scaling curves
    python3 dev.py bench --out DIR      # write the JSON and PNG elsewhere
    python3 dev.py bench --python 3.11  # another Python (dev.py takes this flag)

The workloads and targets are PERF.md's. Progress goes to stderr, the table
to stdout. Exits 1 if any contender raised or returned a wrong result; no
timing is ever asserted.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if __package__ in (None, ""):
    # Run as a script: import the helpers as the `benchmarks` package, and
    # don't let this directory's modules shadow anything.
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from benchmarks import chart, report, totals
from benchmarks.backends import run_on, unavailable
from benchmarks.calls import Unsupported
from benchmarks.floors import FLOORS
from benchmarks.harness import (
    Outcome,
    TotalEntry,
    measure_calls,
    measure_totals,
    memory_meter,
    summarize,
    time_meter,
)
from benchmarks.libraries import LIBRARIES
from benchmarks.workloads import FULL, SMOKE, Mode, Workload, catalogue, select

if TYPE_CHECKING:
    from collections.abc import Callable

    from benchmarks.calls import Call, Dispatch
    from benchmarks.receivers import Probe

RESULTS = Path(__file__).resolve().parent / "results"

#: Packages whose versions the results record.
_PACKAGES = (
    "asyncsignal",
    "django",
    "blinker",
    "aiosignal",
    "psygnal",
    "anyio",
    "trio",
    "uvloop",
)


class Contender(Protocol):
    def build(self, dispatch: Dispatch, probe: Probe | None) -> Call: ...


CONTENDERS: dict[str, Contender] = {**LIBRARIES, **FLOORS}


def log(message: str, end: str = "\n") -> None:
    print(message, file=sys.stderr, end=end, flush=True)


def _builder(
    contender: Contender, dispatch: Dispatch
) -> Callable[[Probe | None], Call]:
    return lambda probe: contender.build(dispatch, probe)


def _total_entry(workload: Workload, name: str, mode: Mode) -> Callable[[], TotalEntry]:
    def make() -> TotalEntry:
        capped = workload.cap(name, mode)
        if capped is not None:
            raise Unsupported(capped)
        lib = LIBRARIES[name]
        if workload.operation == "connect+disconnect":
            return totals.connect_disconnect(lib, workload.size)
        return totals.connect_methods(lib, workload.size)

    return make


def measure(workload: Workload, mode: Mode) -> dict[str, Outcome]:
    """Every contender of ``workload``, verified then measured."""
    dispatch = workload.dispatch
    if dispatch is not None:
        why = unavailable(workload.backend)
        if why is not None:
            return {name: Outcome(skipped=why) for name in workload.contenders}
        builders = {
            name: _builder(CONTENDERS[name], dispatch) for name in workload.contenders
        }
        return run_on(
            workload.backend,
            lambda: measure_calls(
                builders, dispatch.expected(), mode.call_rounds, mode.batch_seconds
            ),
        )
    entries = {name: _total_entry(workload, name, mode) for name in workload.contenders}
    if workload.operation == "memory":
        return measure_totals(entries, mode.memory_rounds, memory_meter(workload.size))
    return measure_totals(
        entries, mode.total_rounds, time_meter, lambda _: log(".", end="")
    )


def _progress_lines(result: report.WorkloadResult) -> None:
    unit = result.workload.unit
    for name, outcome in result.outcomes.items():
        if outcome.error is not None:
            log(f"    {name:<24} ERROR\n" + outcome.error.rstrip())
        elif outcome.skipped is not None:
            log(f"    {name:<24} {report.DASH}  ({outcome.skipped})")
        elif outcome.samples:
            median = summarize(outcome.samples).median
            log(f"    {name:<24} {report.number(median)} {unit}")


def _versions() -> dict[str, str]:
    versions = {}
    for package in _PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def _meta(mode: Mode, argv: list[str]) -> dict[str, Any]:
    return {
        "mode": mode.name,
        "argv": argv,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "python_version": list(sys.version_info[:3]),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": _versions(),
        "call_rounds": mode.call_rounds,
        "batch_seconds": mode.batch_seconds,
        "total_rounds": mode.total_rounds,
        "memory_rounds": mode.memory_rounds,
        "django_cap": mode.django_cap,
    }


def _write(path: Path, write: Callable[[Path], None]) -> None:
    # Write next to the target, then rename: a reader never sees half a file.
    temporary = path.with_name(path.name + ".tmp")
    write(temporary)
    temporary.replace(path)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="benchmarks/run.py",
        description="asyncsignal against its anchors (PERF.md's workloads).",
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
        help="comma-separated workload ids, e.g. W3,W5,MEM,scale "
        "(W3 also selects W3-trio and W3-uvloop)",
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
    # trio workloads run last: once trio is imported, asyncsignal asks trio on
    # every asend whether it is running (+0.8 µs on asyncio); an asyncio
    # program doesn't import trio, so neither do the asyncio workloads.
    # Results are reported in catalogue order.
    run_order = sorted(workloads, key=lambda w: w.backend == "trio")
    for number, workload in enumerate(run_order, 1):
        where = "" if workload.backend == "sync" else f" [{workload.backend}]"
        log(f"[{number}/{len(workloads)}] {workload.id}: {workload.title}{where} ", "")
        workload_started = time.monotonic()
        outcomes = measure(workload, mode)
        result = report.WorkloadResult(
            workload, outcomes, time.monotonic() - workload_started
        )
        log(f"({result.seconds:.1f} s)")
        _progress_lines(result)
        results.append(result)
    meta["duration_seconds"] = round(time.monotonic() - started, 1)
    results.sort(key=lambda r: workloads.index(r.workload))

    stem = "smoke" if args.smoke else "latest"
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    data = report.to_json(results, meta)
    json_path, png_path = out / f"{stem}.json", out / f"{stem}.png"

    def write_json(path: Path) -> None:
        path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")

    _write(json_path, write_json)
    try:
        _write(png_path, lambda p: chart.draw(data, p))
    except Exception:
        log("run.py: drawing the chart failed:\n" + traceback.format_exc())
        return 1
    print(report.render(results, meta))
    print(f"\nResults: {json_path}\nChart:   {png_path}")
    print(f"Run time: {meta['duration_seconds']} s")
    failed = any(o.error for r in results for o in r.outcomes.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
