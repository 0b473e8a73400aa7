"""Django's ORM behind signals, in a real project (tests/django_project).

Each scenario runs with ``django.dispatch.Signal`` and with
``asyncsignal.django.Signal`` (the ``implementation`` parameter) and asserts
the same audit rows for both. The project has models and migrations, an async
and a sync view and a management command; its sqlite database is a file in a
temporary directory, migrated once per session. Async requests go through
Django's ASGI application as a server sends them, so Django manages its
connections as in production: a ``ThreadSensitiveContext`` per request, whose
connections ``request_finished`` closes.

Django's async code (asgiref) runs on asyncio only: the async tests here run
on the asyncio backends.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import io
import json
import os
import sys
import threading
from typing import TYPE_CHECKING, Any

import anyio
import pytest
from support.backends import ASYNCIO_BACKENDS, TRIO

# Django 5.0 brought Signal.asend and async receivers, which these tests compare.
pytest.importorskip("django", minversion="5.0", reason="needs Django 5.0+")

import django
from asgiref.sync import sync_to_async
from django.apps import apps
from django.core.asgi import get_asgi_application
from django.core.exceptions import SynchronousOnlyOperation
from django.core.management import call_command
from django.db import connections, transaction
from django.db.models.signals import post_save
from django.test import Client
from django_project.shop.signals import SIGNALS

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping


SETTINGS_MODULE = "django_project.settings"

#: The two implementations every scenario compares (keys of ``SIGNALS``).
each_implementation = pytest.mark.parametrize(
    "implementation", ["django", "asyncsignal"]
)
each_send_method = pytest.mark.parametrize("method", ["send", "send_robust"])
#: Django's async views and asgiref need asyncio.
asyncio_only = pytest.mark.parametrize("anyio_backend", ASYNCIO_BACKENDS)

#: Seconds an ASGI request may take; reached only when a test fails.
REQUEST_TIMEOUT = 10.0
#: Seconds before ``_bounded`` gives up on a deadlocked receiver.
DEADLOCK_TIMEOUT = 2.0

# -- the project: configured once, a database file, tables emptied per test ---


@pytest.fixture(scope="session")
def django_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Set Django up with the test project; fail if something else configured
    it without the project."""
    from django.conf import settings

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS_MODULE)
    if not settings.configured:
        database = tmp_path_factory.mktemp("django") / "db.sqlite3"
        os.environ["ASYNCSIGNAL_DJANGO_DB"] = str(database)
    django.setup()
    if not apps.is_installed("django_project.shop"):
        # Nothing in this suite configures Django otherwise: a run that did
        # must not pass without these tests.
        pytest.fail(
            "Django was configured before this module, without the test project "
            f"({SETTINGS_MODULE}); run this module on its own",
            pytrace=False,
        )
    call_command("migrate", verbosity=0)
    yield
    _close_connections_everywhere()


@pytest.fixture
def db(django_project: None) -> Iterator[None]:
    """Empty tables; this thread's connections closed after the test."""
    from django_project.shop.models import Order

    Order.objects.all().delete()  # and their audit rows
    yield
    connections.close_all()


def _close_connections_everywhere() -> None:
    """Close the connections of this thread and of asgiref's shared thread.

    ``sync_to_async(thread_sensitive=True)`` called outside a request and
    outside ``async_to_sync`` runs in one shared asgiref thread; connections
    are per thread, so that thread's are closed there.
    """
    connections.close_all()
    # A loop of its own, leaving this thread's current event loop alone.
    anyio.run(
        sync_to_async(connections.close_all),
        backend="asyncio",
        backend_options={"loop_factory": asyncio.new_event_loop},
    )


def _audit_rows() -> list[tuple[str, str]]:
    """``(order reference, event)`` of every audit row, sorted."""
    from django_project.shop.models import AuditRow

    try:
        return sorted(AuditRow.objects.values_list("order__reference", "event"))
    finally:
        connections.close_all()


async def _audit_rows_async() -> list[tuple[str, str]]:
    return await sync_to_async(_audit_rows)()


@contextlib.contextmanager
def _connected(
    signal: Any, receiver: Callable[..., Any], **options: Any
) -> Iterator[None]:
    """``receiver`` connected to ``signal`` (any of Django's or asyncsignal's)."""
    signal.connect(receiver, weak=False, **options)
    try:
        yield
    finally:
        signal.disconnect(receiver, sender=options.get("sender"))


async def _post(path: str) -> tuple[int, Any]:
    """POST ``path`` to Django's ASGI application as a server would (the whole
    request in one message, then a client that stays connected); return the
    status and the decoded JSON body (``None`` if it is not JSON)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 40000),
        "server": ("testserver", 80),
    }
    request = [{"type": "http.request", "body": b"", "more_body": False}]
    sent: list[Mapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if request:
            return request.pop()
        await anyio.sleep_forever()  # Django cancels this once it has responded
        raise AssertionError("unreachable")  # pragma: no cover

    async def send(message: Mapping[str, Any]) -> None:
        sent.append(message)

    with anyio.fail_after(REQUEST_TIMEOUT):
        await get_asgi_application()(scope, receive, send)
    start, *body = sent
    assert start["type"] == "http.response.start"
    is_json = (b"Content-Type", b"application/json") in start["headers"]
    content = b"".join(message["body"] for message in body)
    return start["status"], json.loads(content) if is_json else None


async def _record_order_async(order: Any, **kwargs: Any) -> int:
    """An async receiver using the async ORM: write, then read."""
    from django_project.shop.models import AuditRow

    await AuditRow.objects.acreate(order=order, event="placed-async")
    return await AuditRow.objects.filter(order=order).acount()


def _bounded(receiver: Callable[..., Any]) -> Callable[..., Any]:
    """``receiver``, failing with ``TimeoutError`` after ``DEADLOCK_TIMEOUT``
    instead of hanging when a thread-sensitive call waits for the very thread
    that waits for it (the call, still queued, is then cancelled cleanly)."""

    async def bounded(**kwargs: Any) -> Any:
        return await asyncio.wait_for(receiver(**kwargs), DEADLOCK_TIMEOUT)

    return bounded


# -- 1. send from sync code; a sync ORM receiver -------------------------------


@each_send_method
@each_implementation
def test_send_from_sync_code_runs_the_orm_receiver(
    implementation: str, method: str, db: None
) -> None:
    from django_project.shop.models import Order

    order = Order.objects.create(reference="A-1")
    send = getattr(SIGNALS[implementation], method)
    responses = send(sender=Order, order=order)
    assert [response for _, response in responses] == [1]
    assert _audit_rows() == [("A-1", "placed")]


# -- 2. asend in an async view; a sync ORM receiver writes, then reads ----------


@asyncio_only
@each_implementation
async def test_asend_in_an_async_view_runs_the_orm_receiver(
    implementation: str, db: None
) -> None:
    status, body = await _post(f"/orders/{implementation}/B-1/async")
    assert (status, body) == (200, {"responses": [1]})
    assert await _audit_rows_async() == [("B-1", "placed")]


@asyncio_only
@each_implementation
async def test_asend_runs_the_orm_receiver_on_the_requests_connection(
    implementation: str, db: None
) -> None:
    """The sync receiver runs in the thread of the view's own ORM calls (the
    request's thread-sensitive thread), so on the request's connection, which
    Django closes when the request finishes."""
    from django_project.shop.models import Order

    threads: dict[str, int] = {}
    receiver_connections: list[Any] = []

    def on_order_saved(**kwargs: Any) -> None:  # inside the view's acreate()
        threads["view's ORM"] = threading.get_ident()

    def on_order_placed(**kwargs: Any) -> None:
        threads["receiver"] = threading.get_ident()
        receiver_connections.append(connections["default"])

    with (
        _connected(post_save, on_order_saved, sender=Order),
        _connected(SIGNALS[implementation], on_order_placed),
    ):
        status, _ = await _post(f"/orders/{implementation}/B-2/async")
    assert status == 200
    assert threads["receiver"] == threads["view's ORM"] != threading.get_ident()
    (receiver_connection,) = receiver_connections
    assert receiver_connection.connection is None  # closed by request_finished


# -- 3. send from sync code, an async ORM receiver connected too ---------------


@each_send_method
@each_implementation
def test_send_from_sync_code_runs_the_async_orm_receiver_too(
    implementation: str, method: str, db: None
) -> None:
    from django_project.shop.models import Order

    signal = SIGNALS[implementation]
    seen: list[str] = []

    async def record_seen(order: Any, **kwargs: Any) -> None:
        seen.append(order.reference)

    order = Order.objects.create(reference="C-1")
    with _connected(signal, _record_order_async), _connected(signal, record_seen):
        responses = getattr(signal, method)(sender=Order, order=order)
    # Connection order; Django's order too, as the sync receiver came first.
    assert [response for _, response in responses] == [1, 2, None]
    assert seen == ["C-1"]
    assert _audit_rows() == [("C-1", "placed"), ("C-1", "placed-async")]


@each_implementation
def test_send_in_a_transaction_async_orm_receiver_sees_the_transaction(
    implementation: str, db: None
) -> None:
    """Django's ``send`` runs async receivers through ``async_to_sync``, which
    sends their thread-sensitive calls (the async ORM) back to the sending
    thread: they use its connection, so they see its open transaction.

    asyncsignal runs them on a loop of its own in the sending thread; their
    ``sync_to_async`` calls go to asgiref's shared thread and its connection,
    which does not see the uncommitted order.
    """
    from django_project.shop.models import AuditRow, Order

    signal = SIGNALS[implementation]
    seen: list[bool] = []

    async def order_exists(order: Any, **kwargs: Any) -> None:
        seen.append(await Order.objects.filter(pk=order.pk).aexists())

    with _connected(signal, order_exists), transaction.atomic():
        order = Order.objects.create(reference="C-2")
        signal.send(sender=Order, order=order)
        events = list(AuditRow.objects.filter(order=order).values_list("event"))
    assert events == [("placed",)]
    assert _audit_rows() == [("C-2", "placed")]
    assert seen == [True]


# -- 4. a sync view and a management command send the same signal --------------


@each_implementation
def test_sync_view_and_management_command_send_the_same_signal(
    implementation: str, db: None
) -> None:
    response = Client().post(f"/orders/{implementation}/D-1/sync")
    assert (response.status_code, response.json()) == (200, {"responses": [1]})
    output = io.StringIO()
    call_command("place_order", "D-2", signal=implementation, stdout=output)
    assert json.loads(output.getvalue()) == [1]
    assert _audit_rows() == [("D-1", "placed"), ("D-2", "placed")]


@pytest.mark.parametrize("anyio_backend", ASYNCIO_BACKENDS[:1])
@each_implementation
async def test_sync_view_under_asgi_sends_to_an_async_orm_receiver(
    implementation: str, db: None
) -> None:
    """Under ASGI a sync view runs in the request's thread-sensitive thread.

    Django's ``send`` lends that thread to the async receiver's async ORM
    calls (``async_to_sync``). asyncsignal's runs the receiver on a loop in that
    same thread, and its ``sync_to_async`` call queues for the request's
    thread, which is busy waiting for it: a deadlock, here cut short (the
    view then fails with ``TimeoutError``, status 500). One backend: the
    outer loop plays no part.
    """
    signal = SIGNALS[implementation]
    with _connected(signal, _bounded(_record_order_async)):
        status, body = await _post(f"/orders/{implementation}/D-3/sync")
    assert (status, body) == (200, {"responses": [1, 2]})
    assert await _audit_rows_async() == [("D-3", "placed"), ("D-3", "placed-async")]


# -- plain asyncsignal.Signal: thread=True, or the error that explains it ------


@asyncio_only
async def test_plain_signal_thread_receiver_writes_but_leaves_its_connection_open(
    db: None,
) -> None:
    """``thread=True`` runs the receiver in one of anyio's worker threads: the
    row is written, but not on the request's connection. Django closes the
    request's connections when it finishes, in the request's thread only: the
    worker thread keeps its own open, to be reused by that thread's next
    query, and when the worker exits, Python 3.13+ warns ``ResourceWarning:
    unclosed database``. A ``thread=True`` receiver closes its connections
    itself; here the test does.
    """
    from django_project.shop.models import Order
    from django_project.shop.receivers import record_order

    threads: dict[str, int] = {}
    worker_connections: list[Any] = []

    def on_order_saved(**kwargs: Any) -> None:  # inside the view's acreate()
        threads["view's ORM"] = threading.get_ident()

    def record_order_in_a_worker(**kwargs: Any) -> int:
        threads["receiver"] = threading.get_ident()
        worker_connections.append(connections["default"])
        return record_order(**kwargs)

    with (
        _connected(post_save, on_order_saved, sender=Order),
        _connected(SIGNALS["plain"], record_order_in_a_worker, thread=True),
    ):
        status, body = await _post("/orders/plain/E-1/async")
    assert (status, body) == (200, {"responses": [1]})
    assert await _audit_rows_async() == [("E-1", "placed")]
    assert threads["receiver"] != threads["view's ORM"]
    (worker_connection,) = worker_connections
    assert worker_connection.connection is not None  # still open
    await sync_to_async(_close_from_another_thread)(worker_connection)


def _close_from_another_thread(connection: Any) -> None:
    connection.inc_thread_sharing()
    try:
        connection.close()
    finally:
        connection.dec_thread_sharing()


@asyncio_only
async def test_plain_signal_inline_orm_receiver_raises_synchronous_only_operation(
    db: None, caplog: pytest.LogCaptureFixture
) -> None:
    """Under ``asend`` a plain ``asyncsignal.Signal`` calls a sync receiver in
    the event loop's thread, where Django refuses ORM calls: the view fails
    with ``SynchronousOnlyOperation`` itself (not wrapped in a group), and no
    row is written. That is what ``thread=True`` and ``asyncsignal.django``
    are for."""
    from django_project.shop.receivers import record_order

    with _connected(SIGNALS["plain"], record_order):
        status, _ = await _post("/orders/plain/F-1/async")
    assert status == 500
    (record,) = [r for r in caplog.records if r.name == "django.request"]
    assert record.exc_info is not None
    assert type(record.exc_info[1]) is SynchronousOnlyOperation
    assert await _audit_rows_async() == []


# -- asyncsignal.django outside asyncio, and without Django --------------------


@pytest.mark.parametrize("anyio_backend", [TRIO])
async def test_django_signal_asend_on_trio_raises_a_clear_error(
    django_project: None,
) -> None:
    """asgiref runs on asyncio only; the error names the way out."""
    with pytest.raises(RuntimeError, match=r"needs asyncio.*thread=True"):
        await SIGNALS["asyncsignal"].asend(sender=None, order=None)


def test_importing_the_django_module_without_django_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "django", None)  # "not installed"
    monkeypatch.delitem(sys.modules, "asyncsignal.django")
    with pytest.raises(ImportError, match=r"pip install 'asyncsignal\[django\]'"):
        importlib.import_module("asyncsignal.django")
