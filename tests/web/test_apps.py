"""Every example app under its real server, through real HTTP.

The apps share one contract (``POST /orders``, ``GET /orders/stream``,
``GET /ping``), so each test runs once per app, on the event loop that app's
server runs: FastAPI on uvicorn with uvloop, Litestar and Django on uvicorn
with asyncio, Starlette on hypercorn's trio worker. The test code itself is
synchronous (httpx.Client, threads).
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

from .harness import (
    HUNG_ITEM,
    LEDGER_SECONDS,
    STOCK_TIMEOUT,
    STOP_DEADLINE,
    SSEClient,
    errors_in,
    finished_receivers,
    require_httpx,
    unfinished_receivers,
)

require_httpx()

import httpx  # noqa: E402

if TYPE_CHECKING:
    from .harness import App, Server

RECEIVERS = {"reserve_stock", "write_ledger", "check_limits"}
#: A ping must answer this fast while a thread receiver blocks (the issue's bound).
PING_BOUND = 0.1


def place(
    server: Server, item: str = "book", quantity: int = 1, path: str = "/orders"
) -> httpx.Response:
    with httpx.Client(base_url=server.url, timeout=10.0) as client:
        return client.post(path, json={"item": item, "quantity": quantity})


def test_ping(server: Server) -> None:
    response = httpx.get(f"{server.url}/ping", timeout=10.0)
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_placed_order_returns_every_receivers_response(server: Server) -> None:
    for path in server.app.order_paths:
        response = place(server, "book", 2, path)
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["order"]["item"] == "book"
        assert body["order"]["quantity"] == 2
        receivers = body["receivers"]
        assert receivers.keys() >= RECEIVERS
        assert receivers["reserve_stock"] == "reserved 2 x book"
        assert receivers["check_limits"] == "within limits"


@pytest.mark.parametrize(
    "payload",
    [{"item": "", "quantity": 1}, {"item": "book", "quantity": 0}, {"item": "book"}],
    ids=["empty-item", "zero-quantity", "no-quantity"],
)
def test_invalid_order_is_a_client_error_and_sends_nothing(
    server: Server, payload: dict[str, object]
) -> None:
    with httpx.Client(base_url=server.url, timeout=10.0) as client:
        before = server.log().count(" started order ")
        response = client.post("/orders", json=payload)
        assert response.status_code in (400, 422), response.text
        time.sleep(0.05)
        assert server.log().count(" started order ") == before


def test_refusing_receiver_becomes_a_422_problem(server: Server) -> None:
    for path in server.app.order_paths:
        response = place(server, "book", 11, path)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert problem["status"] == 422
        assert problem["title"] == "Order rejected"
        assert problem["detail"] == "at most 10 of an item per order, got 11"


def test_hung_receiver_is_bounded_by_its_timeout(server: Server) -> None:
    for path in server.app.order_paths:
        log_before = len(server.log())
        started = time.perf_counter()
        response = place(server, HUNG_ITEM, 1, path)
        elapsed = time.perf_counter() - started
        assert response.status_code == 504, response.text
        problem = response.json()
        assert problem["title"] == "A dependency did not answer in time"
        assert "reserve_stock did not finish within 0.5 s" in problem["detail"]
        # The timeout, plus the ledger's block where `send` runs it first
        # (the Django sync view), plus slack for a loaded machine.
        assert STOCK_TIMEOUT <= elapsed < STOCK_TIMEOUT + LEDGER_SECONDS + 2.0
        # The receiver was cancelled on the server's own event loop and had
        # finished before the response: its log line names that cancellation.
        outcomes = finished_receivers(server.log()[log_before:])
        assert outcomes["reserve_stock"] == [server.app.cancelled]
        assert outcomes["write_ledger"] == ["ok"]


def test_every_sse_client_receives_every_event(server: Server) -> None:
    """Three clients listen while orders are placed concurrently (through
    every order path): each client receives each order once, as it was placed."""
    paths = server.app.order_paths
    orders = 2 * len(paths)
    clients = [SSEClient(server.url, expected=orders) for _ in range(3)]
    for client in clients:
        client.wait_subscribed()
    with ThreadPoolExecutor(orders) as pool:
        responses = list(
            pool.map(
                lambda i: place(server, f"item-{i}", 1, paths[i % len(paths)]),
                range(orders),
            )
        )
    assert [r.status_code for r in responses] == [201] * orders
    placed = {r.json()["order"]["id"]: r.json()["order"] for r in responses}
    for client in clients:
        client.join(timeout=10)
        assert client.error is None, client.error
        assert sorted(int(event["id"]) for event in client.events) == sorted(placed)
        for event in client.events:
            assert event["event"] == "order_placed"
            assert json.loads(event["data"]) == placed[int(event["id"])]
    if len(paths) == 1:
        # Every send comes from the event loop's thread: every subscription
        # sees them in one order. Sends from several threads at once (the
        # Django sync view's) may reach two subscriptions in different orders.
        assert all(client.events == clients[0].events for client in clients)


def test_ping_answers_while_a_thread_receiver_blocks(server: Server) -> None:
    """The ledger receiver blocks its thread for 0.3 s; meanwhile the event
    loop answers ``/ping`` within 0.1 s (the best of the pings made while the
    order is in flight, so that one stall of a loaded machine does not decide)."""
    with (
        ThreadPoolExecutor(1) as pool,
        httpx.Client(base_url=server.url, timeout=10.0) as client,
    ):
        client.get("/ping")  # connected: the pings below measure requests only
        log_before = len(server.log())
        started = time.perf_counter()
        order = pool.submit(place, server)
        server.wait_for_log(r"write_ledger started order", after=log_before)
        pings: list[tuple[float, float]] = []
        while not order.done() and len(pings) < 50:
            before = time.perf_counter()
            assert client.get("/ping").status_code == 200
            pings.append((before, time.perf_counter()))
        response = order.result(timeout=10)
        finished = time.perf_counter()
    assert response.status_code == 201
    assert finished - started >= LEDGER_SECONDS
    assert pings, "no ping was made while the order was in flight"
    assert all(end <= finished for _, end in pings)
    assert min(end - begin for begin, end in pings) < PING_BOUND, pings


@pytest.mark.parametrize(
    "signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"]
)
def test_server_stops_cleanly(
    app: App, signum: signal.Signals, spare_server: Server
) -> None:
    """Asked to stop while an order is in flight and an SSE client listens,
    the server finishes the order, ends the stream and exits within 5 s; every
    receiver that started has finished."""
    server = spare_server
    listener = SSEClient(server.url)
    listener.wait_subscribed()
    with ThreadPoolExecutor(1) as pool:
        order = pool.submit(place, server)
        server.wait_for_log(r"write_ledger started order")
        asked = time.perf_counter()
        os.kill(server.process.pid, signum)
        try:
            returncode = server.process.wait(timeout=STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"still running {STOP_DEADLINE} s after {signum.name}:\n{server.log()}"
            )
        stopped_after = time.perf_counter() - asked
        response = order.result(timeout=10)
    listener.join(timeout=5)
    log = server.log()
    assert response.status_code == 201, log
    assert stopped_after < STOP_DEADLINE
    # uvicorn exits through the signal it got, hypercorn with 0.
    assert returncode in (0, -signum), log
    assert unfinished_receivers(log) == set(), log
    if app.has_lifespan:
        assert "shop stopped: 0 receivers running" in log, log
    assert errors_in(log) == [], log
