"""asyncsignal.bridge between real processes: three workers (on asyncio,
uvloop and trio) and this test, all sending and receiving."""

from __future__ import annotations

import json
import sys
from collections import Counter
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream
from bridge_support.peers import DEADLINE, Peer
from support.backends import BACKENDS

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from anyio.abc import Process
    from bridge_support.servers import Server

pytest_plugins = ["bridge_support.fixtures"]

WORKER = Path(__file__).parent.parent / "bridge_support" / "worker.py"
WORKER_BACKENDS = ("asyncio", "uvloop", "trio")
#: Starting an interpreter and importing the clients, on a loaded machine.
STARTUP = 60.0


class Worker:
    def __init__(self, process: Process, name: str) -> None:
        self.process = process
        self.name = name
        assert process.stdout is not None
        self._lines = BufferedByteReceiveStream(process.stdout)

    async def read_line(self) -> str:
        line = await self._lines.receive_until(b"\n", 1 << 20)
        return line.decode()

    async def expect(self, text: str) -> None:
        line = await self.read_line()
        assert line == text, f"worker {self.name} said {line!r}, not {text!r}"

    async def tell(self, command: str) -> None:
        assert self.process.stdin is not None
        await self.process.stdin.send(f"{command}\n".encode())


#: The workers cover asyncio, uvloop and trio; this process is the fourth.
@pytest.mark.parametrize(
    "anyio_backend", [b for b in BACKENDS if b.id in ("asyncio", "trio")]
)
async def test_every_process_runs_every_event_exactly_once_in_order(
    broker: Server, tmp_path: Path
) -> None:
    sends = 30
    names = [f"w-{backend}" for backend in WORKER_BACKENDS]
    everyone = [*names, "test"]
    expected = sends * len(everyone)
    this = Peer(broker.url)
    async with (
        this.bridge,
        _workers(broker, names, sends, expected, tmp_path) as workers,
    ):
        with anyio.fail_after(STARTUP):
            for worker in workers:
                await worker.expect("ready")
        for worker in workers:
            await worker.tell("go")
        for n in range(sends):
            await this.order_placed.asend(None, worker="test", n=n)
        await this.wait_orders(expected)
        reports: list[dict[str, Any]] = []
        with anyio.fail_after(DEADLINE):
            for worker in workers:
                await worker.expect("done")
            for worker in workers:
                await worker.tell("stop")
            for worker in workers:
                reports.append(json.loads(await worker.read_line()))
                assert await worker.process.wait() == 0
    got = {"test": [[kw["worker"], kw["n"]] for _, kw in this.orders]}
    got.update(
        (name, report["got"]) for name, report in zip(names, reports, strict=True)
    )
    every_event = Counter((name, n) for name in everyone for n in range(sends))
    for name, events in got.items():
        assert Counter(map(tuple, events)) == every_event, name
        for origin in everyone:
            numbers = [n for who, n in events if who == origin]
            assert numbers == list(range(sends)), (name, origin)
    for report in reports:
        assert report["published"] == sends
        assert report["received"] == expected - sends
        assert report["lost"] == report["missed"] == 0


async def _start(
    broker: Server, name: str, backend: str, sends: int, expected: int, log: Path
) -> Worker:
    with log.open("wb") as stderr:
        process = await anyio.open_process(
            [
                sys.executable,
                str(WORKER),
                broker.url,
                backend,
                name,
                str(sends),
                str(expected),
            ],
            stderr=stderr,
        )
    return Worker(process, name)


@asynccontextmanager
async def _workers(
    broker: Server, names: list[str], sends: int, expected: int, logs: Path
) -> AsyncIterator[list[Worker]]:
    """Start the workers; on exit kill those still running (by their process
    handle), so that a failing test leaves nothing behind, and show what they
    wrote on stderr."""
    workers: list[Worker] = []
    try:
        for name, backend in zip(names, WORKER_BACKENDS, strict=True):
            workers.append(
                await _start(
                    broker, name, backend, sends, expected, logs / f"{name}.log"
                )
            )
        yield workers
    finally:
        with anyio.CancelScope(shield=True):
            for worker in workers:
                if worker.process.returncode is None:
                    worker.process.kill()
                await worker.process.aclose()
        for name in names:
            log = logs / f"{name}.log"
            if log.exists() and log.stat().st_size:
                sys.stderr.write(f"--- {name} ---\n{log.read_text()}")
