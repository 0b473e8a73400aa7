"""Fixtures of the bridge's tests (a pytest plugin: test modules name it in
``pytest_plugins``): one Redis (or Valkey) and one NATS server per test session
(per xdist worker), on free loopback ports; tests that kill or pause a broker
get one of their own."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from bridge_support.servers import Server, start_nats, start_redis

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

BROKERS = ("redis", "nats")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_nats(tmp_path_factory.mktemp("nats"))
    yield server
    server.stop()


@pytest.fixture(params=BROKERS)
def broker(request: pytest.FixtureRequest) -> Server:
    """The session's Redis, then its NATS server."""
    server: Server = request.getfixturevalue(f"{request.param}_server")
    return server


@pytest.fixture(params=BROKERS)
def own_broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """A Redis, then a NATS server for this test alone (to kill or pause)."""
    server = Server(request.param, tmp_path)
    server.start()
    yield server
    server.stop()
