"""A worker process for the bridge's tests: one bridge sharing one signal.

    python worker.py URL BACKEND NAME SENDS EXPECTED

BACKEND is ``asyncio``, ``uvloop`` or ``trio``. The worker talks over its
standard streams, one line each:

- it prints ``ready`` once its bridge is connected;
- on ``go`` it sends ``order_placed`` SENDS times (``worker=NAME, n=0..``);
- it prints ``done`` once its receiver has been called EXPECTED times (its own
  sends included), or after 60 s;
- on ``stop`` it closes its bridge, prints one JSON object, what its receiver
  got in order and its bridge's counters, and exits.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import anyio
import anyio.to_thread

from asyncsignal import AsyncSignal
from asyncsignal.bridge import Bridge

order_placed = AsyncSignal(name="order_placed")


async def main(url: str, name: str, sends: int, expected: int) -> None:
    got: list[list[Any]] = []
    enough = anyio.Event()

    async def on_order(sender: object, worker: str, n: int, **kwargs: object) -> None:
        got.append([worker, n])
        if len(got) >= expected:
            enough.set()

    order_placed.connect(on_order)
    bridge = Bridge(url)
    bridge.share(order_placed)
    async with bridge:
        print("ready" if bridge.connected else "not connected", flush=True)
        await _expect("go")
        for n in range(sends):
            await order_placed.asend(None, worker=name, n=n)
        with anyio.move_on_after(60):
            await enough.wait()
        print("done", flush=True)
        await _expect("stop")
    # Read once the bridge has closed: receiving every event does not mean the
    # broker has acknowledged this worker's own (``published`` counts those),
    # and leaving the block waits for that.
    report = {
        "got": got,
        "published": bridge.published,
        "received": bridge.received,
        "lost": bridge.lost,
        "missed": bridge.missed,
    }
    print(json.dumps(report), flush=True)


async def _expect(command: str) -> None:
    line = await anyio.to_thread.run_sync(sys.stdin.readline)
    if line.strip() != command:
        raise SystemExit(f"worker: expected {command!r}, got {line!r}")


if __name__ == "__main__":
    url, backend, name, sends, expected = sys.argv[1:]
    options = {"use_uvloop": True} if backend == "uvloop" else {}
    anyio.run(
        main,
        url,
        name,
        int(sends),
        int(expected),
        backend="trio" if backend == "trio" else "asyncio",
        backend_options=options,
    )
