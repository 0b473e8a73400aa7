"""Fixtures of the web integration tests: the example apps under their real
servers (see ``harness.py``).

An app whose requirements are not installed is skipped, with the unmet
requirement as the reason (``pytest -ra`` lists it); with
``ASYNCSIGNAL_WEB_REQUIRED=1`` (CI) that is a failure instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from .harness import APPS, DJANGO, App, Server, ServerPool, migrate, require

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture(scope="session")
def django_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Django example's sqlite file, migrated."""
    require(DJANGO)
    database = tmp_path_factory.mktemp("django") / "shop.sqlite3"
    migrate(database)
    return database


@pytest.fixture(scope="session")
def server_pool(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[ServerPool]:
    """Every server of the session; all are stopped at its end."""
    pool = ServerPool(
        tmp_path_factory.mktemp("servers"),
        lambda: request.getfixturevalue("django_database"),
    )
    try:
        yield pool
    finally:
        pool.stop_all()


@pytest.fixture(scope="module", params=APPS, ids=[app.name for app in APPS])
def app(request: pytest.FixtureRequest, server_pool: ServerPool) -> App:
    """Each example app in turn; its servers start when its tests begin: the
    shared one and a spare for each selected test that stops one."""
    app: App = request.param
    require(app)
    spares = sum(
        1
        for item in request.session.items
        if "spare_server" in getattr(item, "fixturenames", ())
        and getattr(getattr(item, "callspec", None), "params", {}).get("app") is app
    )
    server_pool.warm(app, spares)
    return app


@pytest.fixture(scope="module")
def server(app: App, server_pool: ServerPool) -> Server:
    """``app``'s server shared by the tests that leave it running."""
    return server_pool.shared(app)


@pytest.fixture
def spare_server(app: App, server_pool: ServerPool) -> Server:
    """A server of ``app`` for this test alone (a test that stops it)."""
    return server_pool.spare(app)


@pytest.fixture
def django_server(server_pool: ServerPool, django_database: Path) -> Server:
    """The Django example's shared server."""
    return server_pool.shared(DJANGO)
