"""SSE streams end with the server, without a graceful-shutdown flag.

Each server runs with its own defaults (uvicorn waits for open responses
forever; hypercorn cancels them after its 3 s ``--graceful-timeout``), several
SSE clients listen, and SIGTERM goes to the server's process, as ``kill PID``
or a container runtime sends it. The server must exit within
:data:`~.harness.STOP_DEADLINE` seconds and every client's stream must end.

The streaming guide's SSE app (docs/guides/streaming.rst, block ``sse-app``)
runs the same way, from a file holding the block as written.

Under uvicorn the apps end their streams themselves (``shop/streams.py``
hooks the server's signal handler): each client gets the order announced
before the signal, then a complete response. hypercorn's trio worker is a
child process that is not told before the grace period ends; there the
stream ends when hypercorn cancels it, and the client sees the connection
close.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import textwrap
import time
from typing import TYPE_CHECKING

import pytest

from .harness import (
    EXAMPLES,
    FASTAPI,
    LITESTAR,
    ROOT,
    STARLETTE_TRIO,
    STARTUP_DEADLINE,
    STOP_DEADLINE,
    App,
    SSEClient,
    _free_port,
    errors_in,
    require,
    require_httpx,
    server_environment,
    start_server,
)

require_httpx()

import httpx  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

CLIENTS = 3


def _uvicorn_defaults(target: str, loop: str) -> Callable[[int], list[str]]:
    """``target`` under uvicorn without ``--timeout-graceful-shutdown``."""

    def command(port: int) -> list[str]:
        return [
            *(sys.executable, "-m", "uvicorn", target, "--app-dir", str(EXAMPLES)),
            *("--host", "127.0.0.1", "--port", str(port), "--loop", loop),
        ]

    return command


def _hypercorn_defaults(port: int) -> list[str]:
    return [
        *(sys.executable, "-m", "hypercorn", "--worker-class", "trio"),
        *("--bind", f"127.0.0.1:{port}"),
        f"{EXAMPLES / 'starlette_trio_shop'}:app",
    ]


SERVERS = [
    dataclasses.replace(
        FASTAPI,
        name="fastapi-uvicorn-uvloop-defaults",
        command=_uvicorn_defaults("fastapi_shop:app", "uvloop"),
    ),
    dataclasses.replace(
        LITESTAR,
        name="litestar-uvicorn-asyncio-defaults",
        command=_uvicorn_defaults("litestar_shop:app", "asyncio"),
    ),
    dataclasses.replace(
        STARLETTE_TRIO,
        name="starlette-hypercorn-trio-defaults",
        command=_hypercorn_defaults,
    ),
]


@pytest.mark.parametrize("app", SERVERS, ids=[app.name for app in SERVERS])
def test_sigterm_ends_open_streams_and_the_server_exits(
    app: App, tmp_path: Path
) -> None:
    require(app)
    server = start_server(app, tmp_path)
    try:
        clients = [SSEClient(server.url) for _ in range(CLIENTS)]
        for client in clients:
            client.wait_subscribed()
        with httpx.Client(base_url=server.url, timeout=10.0) as http:
            placed = http.post("/orders", json={"item": "book", "quantity": 1})
        assert placed.status_code == 201, server.log()
        os.kill(server.process.pid, signal.SIGTERM)
        try:
            returncode = server.process.wait(timeout=STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"still running {STOP_DEADLINE} s after SIGTERM:\n{server.log()}"
            )
        for client in clients:
            client.join(timeout=STOP_DEADLINE)
    finally:
        server.stop()
    log = server.log()
    assert returncode in (0, -signal.SIGTERM), log
    assert errors_in(log) == [], log
    order_id = str(placed.json()["order"]["id"])
    for client in clients:
        assert [event["id"] for event in client.events] == [order_id], log
    if app is not SERVERS[-1]:
        # Ended by the app: a complete response, no error on the client's side.
        for client in clients:
            assert client.error is None, (client.error, log)


# -- the streaming guide's app --------------------------------------------------


def _guide_app_source() -> str:
    """The ``sse-app`` block of the streaming guide, as a reader copies it."""
    lines = (ROOT / "docs" / "guides" / "streaming.rst").read_text().splitlines()
    start = lines.index("   :name: sse-app") + 1
    block: list[str] = []
    for line in lines[start:]:
        if line and not line.startswith("   "):
            break
        block.append(line)
    return textwrap.dedent("\n".join(block)).strip() + "\n"


def _guide_uvicorn(port: int, directory: str) -> list[str]:
    return [
        *(sys.executable, "-m", "uvicorn", "guide_sse:app", "--app-dir", directory),
        *("--host", "127.0.0.1", "--port", str(port)),
    ]


def _guide_hypercorn_trio(port: int, directory: str) -> list[str]:
    return [
        *(sys.executable, "-m", "hypercorn", "--worker-class", "trio"),
        *("--bind", f"127.0.0.1:{port}", f"{directory}/guide_sse:app"),
    ]


GUIDE_SERVERS = {"uvicorn": _guide_uvicorn, "hypercorn-trio": _guide_hypercorn_trio}


def _subscribed_clients(url: str, process: subprocess.Popen[bytes]) -> list[SSEClient]:
    """:data:`CLIENTS` clients of the stream, once the server accepts them."""
    deadline = time.monotonic() + STARTUP_DEADLINE
    clients: list[SSEClient] = []
    while len(clients) < CLIENTS:
        assert process.poll() is None, "the server exited at startup"
        client = SSEClient(url)
        if client.subscribed.wait(10):
            clients.append(client)
            continue
        client.join(timeout=10)  # refused: the server is not listening yet
        assert time.monotonic() < deadline, f"not ready: {client.error!r}"
        time.sleep(0.05)
    return clients


@pytest.mark.parametrize("server", GUIDE_SERVERS, ids=list(GUIDE_SERVERS))
def test_guide_sse_app_ends_its_streams_on_sigterm(server: str, tmp_path: Path) -> None:
    require(FASTAPI if server == "uvicorn" else STARLETTE_TRIO)
    (tmp_path / "guide_sse.py").write_text(_guide_app_source())
    port = _free_port()
    with (tmp_path / "server.log").open("wb") as output:
        process = subprocess.Popen(
            GUIDE_SERVERS[server](port, str(tmp_path)),
            cwd=ROOT,
            env=server_environment(None),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        clients = _subscribed_clients(f"http://127.0.0.1:{port}", process)
        process.send_signal(signal.SIGTERM)
        try:
            returncode = process.wait(timeout=STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running {STOP_DEADLINE} s after SIGTERM")
        for client in clients:
            client.join(timeout=STOP_DEADLINE)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    log = (tmp_path / "server.log").read_text()
    assert returncode in (0, -signal.SIGTERM), log
    assert errors_in(log) == [], log
    if server == "uvicorn":
        for client in clients:
            assert client.error is None, (client.error, log)
