"""The FastAPI shop under ``uvicorn --workers 2``, its workers bridged over a
real Redis server (``SHOP_BROKER_URL``): an order placed in either worker
reaches the SSE clients of both, and its receivers run once, in the worker
that took it.

Which worker serves a connection is the kernel's choice. The test asks
``/ping`` (a new connection each time) until both workers said that their
bridge is connected, since pub/sub delivers nothing to a worker that is not
subscribed yet; then it opens SSE clients until both workers serve some, and
only then places the orders.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import pytest
from bridge_support.servers import Server as Broker
from bridge_support.servers import ServerError, redis_binary

from .harness import (
    FASTAPI_WORKERS,
    SSEClient,
    errors_in,
    finished_receivers,
    require,
    require_httpx,
    start_server,
    unfinished_receivers,
    unmet,
)

require_httpx()

import httpx  # noqa: E402

if TYPE_CHECKING:
    from pathlib import Path

    from .harness import Server

WORKERS = 2
ORDERS = 6
RECEIVERS = ("reserve_stock", "write_ledger", "check_limits")
#: At least this many SSE clients listen; more are opened, up to
#: :data:`MAX_CLIENTS`, until both workers serve some.
MIN_CLIENTS = 3
MAX_CLIENTS = 40
#: Seconds for both bridges to connect, and for every order to reach every
#: client (generous: a loaded 2-core machine).
DEADLINE = 30.0
#: Seconds the server has to exit once asked: both workers stop together,
#: each waiting up to 1 s for its SSE streams (the harness's graceful timeout).
STOP_DEADLINE = 15.0


def bridged_workers(server: Server) -> set[int]:
    """The workers' PIDs, once ``/ping`` answered from each with its bridge
    connected (each ping on a new connection: the kernel picks the worker)."""
    seen: set[int] = set()
    connected: set[int] = set()
    deadline = time.monotonic() + DEADLINE
    while len(connected) < WORKERS:
        if time.monotonic() > deadline:
            pytest.fail(f"after {DEADLINE} s, bridges connected: {connected} of {seen}")
        body = httpx.get(f"{server.url}/ping", timeout=5.0).json()
        seen.add(body["worker"])
        if body["bridge"] == "connected":
            connected.add(body["worker"])
        time.sleep(0.02)
    assert seen == connected, seen
    assert server.process.pid not in seen
    return connected


def worker_of(client: SSEClient) -> int:
    """The PID of the worker serving ``client``: its stream's first comment."""
    client.wait_subscribed()
    (pid,) = (int(c.split()[1]) for c in client.comments if c.startswith("worker "))
    return pid


def clients_on_every_worker(
    server: Server, workers: set[int]
) -> dict[int, list[SSEClient]]:
    """Subscribed SSE clients, by worker, until each of ``workers`` serves some."""
    by_worker: dict[int, list[SSEClient]] = {}
    for opened in range(1, MAX_CLIENTS + 1):
        client = SSEClient(server.url, expected=ORDERS, read_timeout=DEADLINE)
        pid = worker_of(client)
        assert pid in workers, (pid, workers)
        by_worker.setdefault(pid, []).append(client)
        if by_worker.keys() == workers and opened >= MIN_CLIENTS:
            return by_worker
    pytest.fail(f"{MAX_CLIENTS} SSE clients, all served by {sorted(by_worker)}")


def place(server: Server, item: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/orders", json={"item": item, "quantity": 1}, timeout=10.0
    )


def stop(server: Server) -> int:
    """SIGTERM to uvicorn's main process, which stops its workers: its exit
    status, within :data:`STOP_DEADLINE` (else it is killed and the test fails)."""
    os.kill(server.process.pid, signal.SIGTERM)
    try:
        return server.process.wait(timeout=STOP_DEADLINE)
    except subprocess.TimeoutExpired:
        server.kill()
        pytest.fail(f"still running {STOP_DEADLINE} s after SIGTERM:\n{server.log()}")


def test_orders_reach_the_sse_clients_of_every_worker(tmp_path: Path) -> None:
    require(FASTAPI_WORKERS)
    try:
        redis_binary()
    except ServerError as error:
        unmet(str(error))
    redis = Broker("redis", tmp_path)
    redis.start()
    try:
        server = start_server(
            FASTAPI_WORKERS, tmp_path, environment={"SHOP_BROKER_URL": redis.url}
        )
        try:
            check_orders_reach_every_worker(server)
        finally:
            server.kill()  # if the test failed before stopping it
    finally:
        redis.stop()


def check_orders_reach_every_worker(server: Server) -> None:
    workers = bridged_workers(server)
    by_worker = clients_on_every_worker(server, workers)

    with ThreadPoolExecutor(ORDERS) as pool:
        responses = list(pool.map(lambda i: place(server, f"item-{i}"), range(ORDERS)))
    assert [r.status_code for r in responses] == [201] * ORDERS, server.log()
    placed = {r.json()["order"]["id"]: r.json()["order"] for r in responses}
    # A worker's order ids start at its PID times a million.
    assert {order_id // 1_000_000 for order_id in placed} <= workers

    # Each client disconnects once it has its ORDERS events.
    deadline = time.monotonic() + DEADLINE
    for pid, clients in by_worker.items():
        for client in clients:
            client.ended.wait(max(0.0, deadline - time.monotonic()))
            assert client.error is None, (pid, client.error)
            received = [int(event["id"]) for event in client.events]
            assert sorted(received) == sorted(placed), (pid, server.log())
            for event in client.events:
                assert event["event"] == "order_placed"
                assert json.loads(event["data"]) == placed[int(event["id"])]

    returncode = stop(server)
    log = server.log()
    # uvicorn's supervisor exits with 0 (a single server process exits
    # through the signal it got).
    assert returncode in (0, -signal.SIGTERM), log
    assert log.count("Finished server process") == WORKERS, log
    assert log.count("shop stopped: 0 receivers running") == WORKERS, log
    # Each order's receivers ran once, in the worker that took it.
    assert finished_receivers(log) == {r: ["ok"] * ORDERS for r in RECEIVERS}, log
    assert unfinished_receivers(log) == set(), log
    assert errors_in(log) == [], log
