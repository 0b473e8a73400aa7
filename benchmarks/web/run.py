"""End-to-end: ``POST /orders`` in one FastAPI app under uvicorn, sending with
asyncsignal, ``django.dispatch.Signal`` or blinker, driven by wrk over loopback.

    python benchmarks/web/run.py            # ~100 s: 9 light rounds, 3 blocking ones
    python benchmarks/web/run.py --smoke    # 1 round x 1 s (CI: runs, judges nothing)
    python benchmarks/web/run.py --rounds 15 --blocking-rounds 5 --connections 64

The app (``app.py``) has the same receivers for the three contenders; the
route chooses the contender and the scenario (``light``; ``blocking``: plus one
receiver that blocks 20 ms). One uvicorn process serves every route, so the
contenders share the process, the machine and the moment: each round runs wrk
once per scenario and contender, in an order that rotates between rounds, and
the ratios are taken per round (paired), then their median. wrk is installed
with apt-get if it is missing (as root, or through ``sudo -n``).

Progress goes to stderr, the table to stdout; the results go to
``results/latest.json`` (``--smoke``: ``smoke.json``). Exits 1 if a request
failed or a receiver was skipped; the targets are reported, never asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SCRIPT = HERE / "post.lua"
RESULTS = HERE / "results"

CONTENDERS = ("asyncsignal", "django", "blinker")
SCENARIOS = ("light", "blocking")
#: Receivers each request runs, per scenario (see app.py).
RECEIVERS = {"light": 4, "blocking": 5}
PACKAGES = (
    *("asyncsignal", "django", "asgiref", "blinker", "fastapi", "starlette"),
    *("pydantic", "uvicorn", "uvloop", "httptools", "anyio"),
)


@dataclass(frozen=True)
class Target:
    """``ours ÷ anchor`` of ``metric`` in ``scenario`` must be ``<=`` or ``>=``
    ``bound``."""

    scenario: str
    metric: str  # a field of Run: "rps", "p99_ms", "cpu_us"
    anchor: str
    relation: str  # ">=" or "<="
    bound: float

    @property
    def name(self) -> str:
        return f"{self.scenario}: {self.metric} asyncsignal / {self.anchor}"


TARGETS = (
    Target("light", "rps", "django", ">=", 1.0),
    Target("light", "rps", "blinker", ">=", 1.0),
    Target("blocking", "p99_ms", "blinker", "<=", 0.5),
)
#: Reported next to the targets.
ALSO = (
    Target("blocking", "rps", "django", ">=", 0.0),
    Target("blocking", "rps", "blinker", ">=", 0.0),
    Target("blocking", "p99_ms", "django", "<=", float("inf")),
    Target("light", "p99_ms", "django", "<=", float("inf")),
    Target("light", "p99_ms", "blinker", "<=", float("inf")),
    Target("light", "cpu_us", "django", "<=", float("inf")),
    Target("light", "cpu_us", "blinker", "<=", float("inf")),
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- wrk ------------------------------------------------------------------------


def ensure_wrk() -> str:
    """The path of wrk, installed from the OS packages if it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    if shutil.which("apt-get") is None:
        sys.exit("run.py: wrk is not installed and there is no apt-get to install it")
    sudo: list[str] = []
    if os.geteuid() != 0:
        if shutil.which("sudo") is None:
            sys.exit("run.py: wrk is missing; install it (apt-get install wrk) as root")
        sudo = ["sudo", "-n"]
    log("wrk not found: apt-get install wrk")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "wrk"],
    ):
        subprocess.run(
            [*sudo, *command], check=True, env=env, stdout=subprocess.DEVNULL
        )
    found = shutil.which("wrk")
    if not found:
        sys.exit("run.py: apt-get installed wrk, but it is not on PATH")
    return found


@dataclass
class Run:
    """One wrk run against one route."""

    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    #: The server's CPU time per request (all its threads), in microseconds:
    #: what a request costs, whatever else the machine runs meanwhile.
    cpu_us: float | None = None


def _cpu_seconds(pid: int) -> float | None:
    """CPU time a process used so far (user + system), from /proc (Linux)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_wrk(
    wrk: str, url: str, seconds: float, connections: int, server_pid: int
) -> Run:
    command = [
        *(wrk, "--threads", "1", "--connections", str(connections)),
        *("--duration", f"{max(1, round(seconds))}s", "--timeout", "10s"),
        *("--latency", "--script", str(SCRIPT), url),
    ]
    cpu_before = _cpu_seconds(server_pid)
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    cpu_after = _cpu_seconds(server_pid)
    line = next(
        (x for x in done.stdout.splitlines() if x.startswith("WRK_JSON ")), None
    )
    if done.returncode != 0 or line is None:
        raise RuntimeError(
            f"wrk failed ({done.returncode}):\n{done.stdout}{done.stderr}"
        )
    figures = json.loads(line.removeprefix("WRK_JSON "))
    duration = figures["duration_us"] / 1e6
    errors = sum(
        figures[key]
        for key in ("connect_errors", "read_errors", "write_errors", "status_errors")
    )
    return Run(
        requests=figures["requests"],
        seconds=duration,
        rps=figures["requests"] / duration,
        p50_ms=figures["p50_us"] / 1000,
        p90_ms=figures["p90_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        max_ms=figures["max_us"] / 1000,
        errors=errors + figures["timeouts"],
        cpu_us=None
        if cpu_before is None or cpu_after is None or not figures["requests"]
        else (cpu_after - cpu_before) / figures["requests"] * 1e6,
    )


# -- the server -----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _request(url: str, body: dict[str, object] | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


@contextlib.contextmanager
def serving(loop: str, http: str) -> Any:
    """uvicorn serving app.py on a free loopback port; yields its URL and PID."""
    port = _free_port()
    command = [
        *(sys.executable, "-m", "uvicorn", "benchmarks.web.app:app"),
        *("--app-dir", str(ROOT), "--host", "127.0.0.1", "--port", str(port)),
        *("--loop", loop, "--http", http, "--no-access-log", "--log-level", "warning"),
    ]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONASYNCIODEBUG"}
    process = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"uvicorn exited with {process.returncode}")
            with contextlib.suppress(OSError):
                if _request(f"{url}/ping")[0] == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not answer /ping within 60 s")
            time.sleep(0.1)
        yield url, process.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def check_routes(url: str) -> None:
    """Each route answers 201 and ran every receiver of its scenario."""
    for scenario in SCENARIOS:
        for contender in CONTENDERS:
            status, body = _request(
                f"{url}/{contender}/{scenario}/orders", {"item": "book", "quantity": 1}
            )
            if status != 201 or body["responses"] != RECEIVERS[scenario]:
                raise RuntimeError(f"{contender}/{scenario}: {status} {body}")


def _settled_stats(url: str) -> Any:
    """``/stats`` once the requests wrk left in flight have finished."""
    _, stats = _request(f"{url}/stats")
    for _ in range(50):
        time.sleep(0.2)
        _, again = _request(f"{url}/stats")
        if again == stats:
            break
        stats = again
    return stats


def check_stats(url: str, runs: dict[tuple[str, str], list[Run]]) -> list[str]:
    """Problems: a receiver called fewer times than wrk completed requests, or
    receivers of one route called unequally (one was skipped)."""
    stats = _settled_stats(url)
    problems = []
    for (scenario, contender), each in runs.items():
        calls = stats.get(contender, {}).get(scenario, {})
        completed = sum(run.requests for run in each)
        if len(calls) != RECEIVERS[scenario] or len(set(calls.values())) != 1:
            problems.append(f"{contender}/{scenario}: unequal receiver calls {calls}")
        elif min(calls.values()) < completed:
            problems.append(f"{contender}/{scenario}: {calls} < {completed} requests")
    return problems


# -- the run ----------------------------------------------------------------------


def ratio(
    runs: dict[tuple[str, str], list[Run]], target: Target
) -> tuple[float, float, float]:
    """Median, min and max over rounds of ``asyncsignal ÷ anchor`` (paired)."""
    ours = runs[(target.scenario, "asyncsignal")]
    theirs = runs[(target.scenario, target.anchor)]
    ratios = [
        getattr(a, target.metric) / getattr(b, target.metric)
        for a, b in zip(ours, theirs, strict=True)
        if getattr(a, target.metric) and getattr(b, target.metric)
    ]
    if not ratios:
        return float("nan"), float("nan"), float("nan")
    return statistics.median(ratios), min(ratios), max(ratios)


def _median_or_none(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9, help="of the light scenario")
    parser.add_argument("--blocking-rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=2.0, help="s per light run")
    parser.add_argument("--blocking-duration", type=float, default=3.0)
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds per route")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--smoke", action="store_true", help="1 round of 1 s")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.smoke:
        args.rounds, args.blocking_rounds, args.warmup = 1, 1, 0.0
        args.duration = args.blocking_duration = 1.0
    rounds = {"light": args.rounds, "blocking": min(args.blocking_rounds, args.rounds)}
    durations = {"light": args.duration, "blocking": args.blocking_duration}
    # The rounds in which the blocking scenario runs too, spread evenly.
    blocking_in = {
        round(k * args.rounds / rounds["blocking"]) for k in range(rounds["blocking"])
    }

    wrk = ensure_wrk()
    wrk_version = subprocess.run([wrk, "--version"], capture_output=True, text=True)
    loop = "uvloop" if _importable("uvloop") else "asyncio"
    http = "httptools" if _importable("httptools") else "h11"
    started = time.monotonic()
    runs: dict[tuple[str, str], list[Run]] = {
        (s, c): [] for s in SCENARIOS for c in CONTENDERS
    }
    with serving(loop, http) as (url, pid):
        check_routes(url)
        if args.warmup:
            log(f"warm-up: {args.warmup:g} s per route")
            for scenario in SCENARIOS:
                for contender in CONTENDERS:
                    route = f"{url}/{contender}/{scenario}/orders"
                    run_wrk(wrk, route, args.warmup, args.connections, pid)
        for round_ in range(args.rounds):
            # Rotate the order so that no contender always runs first or last.
            shift = round_ % len(CONTENDERS)
            order = CONTENDERS[shift:] + CONTENDERS[:shift]
            for scenario in SCENARIOS:
                if scenario == "blocking" and round_ not in blocking_in:
                    continue
                for contender in order:
                    route = f"{url}/{contender}/{scenario}/orders"
                    seconds = durations[scenario]
                    run = run_wrk(wrk, route, seconds, args.connections, pid)
                    runs[(scenario, contender)].append(run)
                    log(
                        f"round {round_ + 1}/{args.rounds} {scenario:8} {contender:11} "
                        f"{run.rps:8.0f} req/s  p50 {run.p50_ms:7.2f} ms  "
                        f"p99 {run.p99_ms:7.2f} ms  cpu {run.cpu_us or 0:5.0f} us/req  "
                        f"errors {run.errors}"
                    )
        problems = check_stats(url, runs)
    problems += [
        f"{contender}/{scenario}: {sum(r.errors for r in each)} failed requests"
        for (scenario, contender), each in runs.items()
        if any(r.errors for r in each)
    ]

    summary = {
        f"{scenario}/{contender}": {
            "rps": statistics.median(r.rps for r in each),
            "p50_ms": statistics.median(r.p50_ms for r in each),
            "p99_ms": statistics.median(r.p99_ms for r in each),
            "cpu_us": _median_or_none([r.cpu_us for r in each]),
            "requests": sum(r.requests for r in each),
        }
        for (scenario, contender), each in runs.items()
    }
    verdicts: list[dict[str, Any]] = []
    for target in (*TARGETS, *ALSO):
        median, low, high = ratio(runs, target)
        is_target = target in TARGETS
        met = (
            median >= target.bound
            if target.relation == ">="
            else median <= target.bound
        )
        verdicts.append(
            {
                "name": target.name,
                "target": f"{target.relation} {target.bound:g}" if is_target else None,
                "ratio": median,
                "min": low,
                "max": high,
                "met": met if is_target else None,
            }
        )

    print(
        f"\nPOST /orders, FastAPI under uvicorn ({loop}, {http}), {args.connections} "
        f"connections, rounds x s: light {rounds['light']} x {durations['light']:g}, "
        f"blocking {rounds['blocking']} x {durations['blocking']:g}; "
        f"Python {platform.python_version()}"
    )
    print(
        f"{'scenario':9} {'contender':12} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'CPU us/req':>10}"
    )
    for key, figures in summary.items():
        scenario, contender = key.split("/")
        print(
            f"{scenario:9} {contender:12} {figures['rps']:8.0f} "
            f"{figures['p50_ms']:8.2f} {figures['p99_ms']:8.2f} "
            f"{figures['cpu_us'] or float('nan'):10.0f}"
        )
    print(
        f"\n{'ratio (median of rounds, min-max)':46} {'value':>17} {'target':>7}  met"
    )
    for verdict in verdicts:
        mark = {True: "yes", False: "NO", None: ""}[verdict["met"]]
        print(
            f"{verdict['name']:46} {verdict['ratio']:5.2f} "
            f"({verdict['min']:.2f}-{verdict['max']:.2f}) "
            f"{verdict['target'] or '':>7}  {mark}"
        )

    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / ("smoke.json" if args.smoke else "latest.json")
    versions = {}
    for package in PACKAGES:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[package] = importlib.metadata.version(package)
    results = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])]),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "loadavg_at_end": os.getloadavg(),
            "wrk": wrk_version.stdout.split("\n")[0].strip(),
        },
        "settings": {
            "rounds": rounds,
            "duration_s": durations,
            "warmup_s": args.warmup,
            "connections": args.connections,
            "uvicorn_loop": loop,
            "uvicorn_http": http,
        },
        "versions": versions,
        "summary": summary,
        "ratios": verdicts,
        "runs": {
            f"{s}/{c}": [asdict(r) for r in each] for (s, c), each in runs.items()
        },
        "problems": problems,
        "seconds": round(time.monotonic() - started, 1),
    }
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    log(f"\nwrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    for problem in problems:
        log(f"PROBLEM: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    if __package__ in (None, ""):
        # Run as a script: the server imports `benchmarks.web.app` from ROOT.
        sys.path[0] = str(ROOT)
    sys.exit(main())
