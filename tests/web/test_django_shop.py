"""The Django example (``examples/web/django_shop``) under uvicorn: its ORM
receivers' rows, its sync view and its management command.

Rows are read from the server's sqlite file directly, as another process
would; the file is migrated once per session (``django_database``).
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from .harness import manage, require_httpx

require_httpx()

import httpx  # noqa: E402

if TYPE_CHECKING:
    from pathlib import Path

    from .harness import Server

#: The sync receivers that write an audit row for every order they see.
ORM_RECEIVERS = {"audit_order", "write_ledger"}


def rows(database: Path, order: int) -> tuple[str, set[str]]:
    """The order's status and the receivers that wrote its audit rows."""
    uri = f"file:{database}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as connection:
        (status,) = connection.execute(
            "SELECT status FROM sales_order WHERE id = ?", (order,)
        ).fetchone()
        audit = connection.execute(
            "SELECT receiver FROM sales_auditentry WHERE order_id = ?", (order,)
        ).fetchall()
    return status, {receiver for (receiver,) in audit}


def place(server: Server, path: str, quantity: int = 1) -> httpx.Response:
    with httpx.Client(base_url=server.url, timeout=10.0) as client:
        return client.post(path, json={"item": "lamp", "quantity": quantity})


def test_async_view_awaits_asend_and_orm_receivers_write_rows(
    django_server: Server, django_database: Path
) -> None:
    response = place(django_server, "/orders")
    assert response.status_code == 201, response.text
    order = response.json()["order"]["id"]
    assert rows(django_database, order) == ("confirmed", ORM_RECEIVERS)


def test_sync_view_sends_the_same_signal(
    django_server: Server, django_database: Path
) -> None:
    response = place(django_server, "/orders/sync")
    assert response.status_code == 201, response.text
    assert response.json()["receivers"]["reserve_stock"] == "reserved 1 x lamp"
    order = response.json()["order"]["id"]
    assert rows(django_database, order) == ("confirmed", ORM_RECEIVERS)


def test_refused_order_is_failed_but_other_receivers_still_ran(
    django_server: Server, django_database: Path
) -> None:
    response = place(django_server, "/orders", quantity=11)
    assert response.status_code == 422, response.text
    order = response.json()["order"]
    # asend isolates errors: the ORM receivers ran although check_limits failed.
    assert rows(django_database, order) == ("failed", ORM_RECEIVERS)


def test_management_command_sends_the_same_signal(
    django_server: Server, django_database: Path
) -> None:
    """The command runs in its own process, against the server's database;
    the two runs run at once."""
    with ThreadPoolExecutor(2) as pool:
        done, refused = pool.map(
            lambda quantity: manage(django_database, "place_order", "kettle", quantity),
            ["3", "11"],
        )
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["receivers"]["reserve_stock"] == "reserved 3 x kettle"
    assert rows(django_database, body["order"]["id"]) == ("confirmed", ORM_RECEIVERS)

    assert refused.returncode == 1, refused.stderr
    failure = re.search(r"order (\d+) failed \(422\): (.*)", refused.stderr)
    assert failure is not None, refused.stderr
    assert failure.group(2) == "at most 10 of an item per order, got 11"
    assert rows(django_database, int(failure.group(1))) == ("failed", ORM_RECEIVERS)
