"""Running the example web apps (``examples/web/``) under their real servers.

Each app runs as a subprocess of this Python (``-m uvicorn``/``-m hypercorn``)
on a free loopback port, in its own process group, with its output in a log
file; :meth:`Server.stop` ends the group. The fixtures (``conftest.py``) start
servers ahead, concurrently, and stop them in teardown whatever the tests did.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from packaging.requirements import Requirement

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "web"
DJANGO_PROJECT = EXAMPLES / "django_shop"

#: Seconds a server may take to answer its first ``/ping`` on a loaded machine.
STARTUP_DEADLINE = 30.0
#: Seconds a server has to exit once asked to stop (the issue's bound).
STOP_DEADLINE = 5.0
#: Seconds a server waits for open SSE streams before cancelling them.
GRACEFUL_TIMEOUT = 1
#: The simulated dependencies of the receivers, as the tests configure them.
LEDGER_SECONDS = 0.3
STOCK_TIMEOUT = 0.5
STOCK_LATENCY = 0.01
#: An item the simulated stock service never answers for.
HUNG_ITEM = "sundial"

HTTPX = "httpx>=0.27"


@dataclass(frozen=True)
class App:
    """An example app, the server it runs under and what it needs."""

    #: Test id: app, server, event loop.
    name: str
    requirements: tuple[str, ...]
    #: Name of the cancellation exception on its event loop, as receivers log it.
    cancelled: str
    #: The command line, given the port.
    command: Callable[[int], list[str]]
    #: Paths that place an order (the Django app has a sync view too).
    order_paths: tuple[str, ...] = ("/orders",)
    #: Whether its lifespan logs "shop stopped: N receivers running".
    has_lifespan: bool = True
    is_django: bool = False

    def unmet_requirement(self) -> str | None:
        """Why this app cannot run here, or None."""
        for requirement in map(Requirement, (*self.requirements, HTTPX)):
            try:
                version = importlib.metadata.version(requirement.name)
            except importlib.metadata.PackageNotFoundError:
                return f"{self.name} needs {requirement}, which is not installed"
            if not requirement.specifier.contains(version, prereleases=True):
                return f"{self.name} needs {requirement}, got {version}"
        return None


def _uvicorn(target: str, app_dir: Path, *options: str) -> Callable[[int], list[str]]:
    def command(port: int) -> list[str]:
        return [
            *(sys.executable, "-m", "uvicorn", target, "--app-dir", str(app_dir)),
            *("--host", "127.0.0.1", "--port", str(port)),
            *("--timeout-graceful-shutdown", str(GRACEFUL_TIMEOUT), *options),
        ]

    return command


def _hypercorn_trio(port: int) -> list[str]:
    return [
        *(sys.executable, "-m", "hypercorn", "--worker-class", "trio"),
        *("--bind", f"127.0.0.1:{port}", "--graceful-timeout", str(GRACEFUL_TIMEOUT)),
        f"{EXAMPLES / 'starlette_trio_shop'}:app",
    ]


UVICORN = "uvicorn>=0.30"
FASTAPI = App(
    "fastapi-uvicorn-uvloop",
    ("fastapi>=0.135", UVICORN, "uvloop>=0.19"),
    "CancelledError",
    _uvicorn("fastapi_shop:app", EXAMPLES, "--loop", "uvloop"),
)
STARLETTE_TRIO = App(
    "starlette-hypercorn-trio",
    ("starlette>=0.40", "hypercorn>=0.17", "trio>=0.25"),
    "Cancelled",
    _hypercorn_trio,
)
LITESTAR = App(
    "litestar-uvicorn-asyncio",
    ("litestar>=2.12", UVICORN),
    "CancelledError",
    _uvicorn("litestar_shop:app", EXAMPLES, "--loop", "asyncio"),
)
DJANGO = App(
    "django-uvicorn-asyncio",
    ("django>=5.1", "asgiref>=3.8", UVICORN),
    "CancelledError",
    _uvicorn(
        "shopsite.asgi:application",
        DJANGO_PROJECT,
        *("--loop", "asyncio", "--lifespan", "off"),
    ),
    order_paths=("/orders", "/orders/sync"),
    has_lifespan=False,
    is_django=True,
)
APPS = (FASTAPI, STARLETTE_TRIO, LITESTAR, DJANGO)
#: The FastAPI app under two uvicorn workers bridged over Redis (test_workers.py).
FASTAPI_WORKERS = App(
    "fastapi-uvicorn-2-workers",
    (*FASTAPI.requirements, "redis>=5.0.8"),
    "CancelledError",
    _uvicorn("fastapi_shop:app", EXAMPLES, "--loop", "uvloop", "--workers", "2"),
)


def unmet(reason: str) -> None:
    """Skip (fail, with ``ASYNCSIGNAL_WEB_REQUIRED=1``) for ``reason``."""
    if os.environ.get("ASYNCSIGNAL_WEB_REQUIRED") == "1":
        pytest.fail(f"{reason} (ASYNCSIGNAL_WEB_REQUIRED=1)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def require(app: App) -> None:
    """Skip (fail, with ``ASYNCSIGNAL_WEB_REQUIRED=1``) if ``app`` cannot run."""
    reason = app.unmet_requirement()
    if reason is not None:
        unmet(reason)


def require_httpx() -> None:
    """Skip (or fail) a whole test module if httpx is missing."""
    try:
        importlib.metadata.version("httpx")
    except importlib.metadata.PackageNotFoundError:
        unmet(f"the web tests need {HTTPX}, which is not installed")


# -- servers -------------------------------------------------------------------


def server_environment(database: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    # The suite's conftest turns asyncio's debug mode on for itself; a server
    # in debug mode is slower and logs every slow callback.
    env.pop("PYTHONASYNCIODEBUG", None)
    env.update(
        PYTHONUNBUFFERED="1",
        SHOP_LEDGER_SECONDS=str(LEDGER_SECONDS),
        SHOP_STOCK_TIMEOUT=str(STOCK_TIMEOUT),
        SHOP_STOCK_LATENCY=str(STOCK_LATENCY),
    )
    if database is not None:
        env.update(SHOP_DB=str(database), DJANGO_SETTINGS_MODULE="shopsite.settings")
    return env


def migrate(database: Path) -> None:
    """Create the Django example's sqlite file and its tables."""
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--verbosity=0"],
        cwd=DJANGO_PROJECT,
        env=server_environment(database),
        check=True,
        timeout=60,
    )


def manage(database: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run a management command of the Django example."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=DJANGO_PROJECT,
        env=server_environment(database),
        capture_output=True,
        text=True,
        timeout=60,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """A running app: its URL, its process and its log."""

    def __init__(
        self, app: App, process: subprocess.Popen[bytes], port: int, log: Path
    ):
        self.app = app
        self.process = process
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for_log(
        self, pattern: str, after: int = 0, timeout: float = 5.0
    ) -> re.Match[str]:
        """The first match of ``pattern`` in the log past its first ``after``
        characters, waiting for it."""
        deadline = time.monotonic() + timeout
        while True:
            match = re.compile(pattern).search(self.log(), after)
            if match is not None:
                return match
            if time.monotonic() > deadline:
                raise AssertionError(f"{pattern!r} not in the log:\n{self.log()}")
            time.sleep(0.02)

    def _wait_ready(self) -> bool:
        """Whether ``/ping`` answered before the process exited."""
        import httpx

        deadline = time.monotonic() + STARTUP_DEADLINE
        with httpx.Client(base_url=self.url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    return False
                with contextlib.suppress(httpx.TransportError):
                    if client.get("/ping").status_code == 200:
                        return True
                time.sleep(0.05)
        self.kill()
        raise AssertionError(
            f"{self.app.name} not ready in {STARTUP_DEADLINE} s:\n{self.log()}"
        )

    def kill(self) -> None:
        """Stop the server's whole process group now (teardown)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """Ask the server to stop (SIGTERM), then kill whatever is left."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=STOP_DEADLINE)
        # hypercorn's worker is a child process: the group goes in any case.
        self.kill()


def start_server(
    app: App,
    directory: Path,
    database: Path | None = None,
    environment: Mapping[str, str] | None = None,
) -> Server:
    """Start ``app`` (with ``environment`` added to the tests' one) and wait
    until it answers ``/ping``; retry on a port taken meanwhile by another
    process."""
    for attempt in range(3):
        port = _free_port()
        log = directory / f"{app.name}-{port}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                app.command(port),
                cwd=ROOT,
                env={**server_environment(database), **(environment or {})},
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        server = Server(app, process, port, log)
        try:
            if server._wait_ready():
                return server
        except BaseException:
            server.kill()
            raise
        server.kill()
        if "address already in use" not in server.log().lower() or attempt == 2:
            raise AssertionError(f"{app.name} exited at startup:\n{server.log()}")
    raise AssertionError("unreachable")  # pragma: no cover


class ServerPool:
    """Servers started ahead and concurrently (a server's start-up is mostly
    imports: two of them take little longer than one): per app, one server
    shared by the tests that leave it running, and spares for the tests that
    stop theirs. Thread-safe; :meth:`stop_all` stops every server it started."""

    def __init__(self, directory: Path, database: Callable[[], Path]) -> None:
        self._directory = directory
        self._database = database
        self._lock = threading.Lock()
        self._shared: dict[str, Server] = {}
        self._spares: dict[str, list[Server]] = {}
        self._all: list[Server] = []

    def _start(self, app: App) -> Server:
        database = self._database() if app.is_django else None
        server = start_server(app, self._directory, database)
        with self._lock:
            self._all.append(server)
        return server

    def warm(self, app: App, spares: int) -> None:
        """Start ``app``'s shared server and up to ``spares`` spares, together."""
        with self._lock:
            starts = [app.name not in self._shared]
            starts += [False] * max(0, spares - len(self._spares.get(app.name, [])))
        if app.is_django:
            self._database()  # migrated once, before any server starts
        with ThreadPoolExecutor(len(starts)) as pool:
            futures = [(shared, pool.submit(self._start, app)) for shared in starts]
        for shared, future in futures:
            server = future.result()  # the first error, once all have finished
            with self._lock:
                if shared:
                    self._shared[app.name] = server
                else:
                    self._spares.setdefault(app.name, []).append(server)

    def shared(self, app: App) -> Server:
        if app.name not in self._shared:
            self.warm(app, spares=0)
        return self._shared[app.name]

    def spare(self, app: App) -> Server:
        """A server of ``app`` that nothing else uses (started now if none is)."""
        with self._lock:
            spares = self._spares.get(app.name)
            if spares:
                return spares.pop()
        return self._start(app)

    def stop_all(self) -> None:
        with ThreadPoolExecutor(max(1, len(self._all))) as pool:
            list(pool.map(Server.stop, self._all))


# -- clients -------------------------------------------------------------------


class SSEClient:
    """Reads ``GET /orders/stream`` in a thread: ``events`` holds each event's
    fields, ``comments`` its comments; ``subscribed`` is set once the
    ``subscribed`` comment arrived (the app is then subscribed); ``ended`` once
    the stream ended, or after ``expected`` events (the client then
    disconnects)."""

    def __init__(
        self, url: str, expected: int | None = None, read_timeout: float = 10.0
    ):
        self.url = url
        self.expected = expected
        self.read_timeout = read_timeout
        self.events: list[dict[str, str]] = []
        self.comments: list[str] = []
        self.subscribed = threading.Event()
        self.ended = threading.Event()
        self.error: Exception | None = None
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        import httpx

        try:
            timeout = httpx.Timeout(5.0, read=self.read_timeout)
            with (
                httpx.Client(timeout=timeout) as client,
                client.stream("GET", f"{self.url}/orders/stream") as response,
            ):
                response.raise_for_status()
                fields: dict[str, str] = {}
                for line in response.iter_lines():
                    if line.startswith(":"):
                        self.comments.append(line[1:].strip())
                        if line == ": subscribed":
                            self.subscribed.set()
                    elif line:
                        name, _, value = line.partition(":")
                        fields[name] = value[1:] if value.startswith(" ") else value
                    elif fields:
                        self.events.append(fields)
                        fields = {}
                        if len(self.events) == self.expected:
                            return
        except Exception as error:  # a server that stops may cut the stream
            self.error = error
        finally:
            self.ended.set()

    def wait_subscribed(self) -> None:
        assert self.subscribed.wait(10), (
            f"no ': subscribed' comment; error: {self.error!r}"
        )

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)
        assert self.ended.is_set(), f"the SSE client still reads after {timeout} s"


# -- logs ----------------------------------------------------------------------

_STARTED = re.compile(r"(\w+) started order (\d+)")
_FINISHED = re.compile(r"(\w+) finished order (\d+): (\w+)")


def unfinished_receivers(log: str) -> set[tuple[str, str]]:
    """(receiver, order id) pairs the log shows started and not finished."""
    started = set(_STARTED.findall(log))
    finished = {(name, order) for name, order, _ in _FINISHED.findall(log)}
    return started - finished


#: The start of a log record: uvicorn's and the apps' "LEVEL:", hypercorn's "[".
_RECORD = re.compile(r"^(?=\[|[A-Z]+:)", re.MULTILINE)
#: What uvicorn logs about the streams it cancels once its graceful timeout
#: has passed: a notice, then each cancelled request as "Exception in ASGI
#: application" (it logs any exception, cancellation included).
_GRACEFUL_CANCEL = "timeout graceful shutdown exceeded"


def errors_in(log: str) -> list[str]:
    """The log's error records and tracebacks, except uvicorn's reports of
    the SSE streams it cancelled at shutdown."""
    errors = []
    for record in _RECORD.split(log):
        lines = record.strip().splitlines() or [""]
        first = lines[0]
        is_error = first.startswith(("ERROR", "CRITICAL")) or any(
            level in first for level in ("[ERROR]", "[CRITICAL]")
        )
        if not (is_error or "Traceback" in record):
            continue
        if first.startswith("ERROR:    Cancel ") and _GRACEFUL_CANCEL in first:
            continue
        # The cancellation, chained on some Pythons to the one it caused.
        if (
            "Exception in ASGI application" in first
            and f"CancelledError: Task cancelled, {_GRACEFUL_CANCEL}" in record
            and lines[-1].startswith("asyncio.exceptions.CancelledError")
        ):
            continue
        errors.append(record)
    return errors


def finished_receivers(log: str) -> dict[str, list[str]]:
    """Each receiver's outcomes ("ok", an exception's name) in ``log``, in order."""
    outcomes: dict[str, list[str]] = {}
    for name, _, outcome in _FINISHED.findall(log):
        outcomes.setdefault(name, []).append(outcome)
    return outcomes
