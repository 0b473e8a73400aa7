"""How the example apps turn receivers' errors into HTTP (``examples/web/shop``),
in-process: every shape ``asend`` raises, including the 500 that the servers'
tests cannot provoke."""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

import pytest

from asyncsignal import ReceiverTimeout

from .harness import EXAMPLES

if sys.version_info < (3, 11):
    from exceptiongroup import ExceptionGroup


@pytest.fixture
def shop(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The examples' ``shop`` package (its ``http`` and ``orders`` modules)."""
    monkeypatch.syspath_prepend(str(EXAMPLES))
    return importlib.import_module("shop.http"), importlib.import_module("shop.orders")


def timeout() -> ReceiverTimeout:
    async def reserve_stock(**kwargs: object) -> None: ...

    return ReceiverTimeout(reserve_stock, 0.5)


def test_one_refusal_is_422(shop: Any) -> None:
    http, orders = shop
    error = orders.OrderRejected("at most 10")
    status, body = http.problem(http.receiver_errors(error))
    assert status == 422
    assert body == {
        "type": "about:blank",
        "title": "Order rejected",
        "status": 422,
        "detail": "at most 10",
    }


def test_a_refusal_wins_over_a_timeout_and_both_are_told(shop: Any) -> None:
    http, orders = shop
    group = ExceptionGroup(
        "2 receivers failed", [timeout(), orders.OrderRejected("no")]
    )
    status, body = http.problem(http.receiver_errors(group))
    assert status == 422
    assert body["detail"] == f"{timeout()}; no"


def test_a_timeout_is_504(shop: Any) -> None:
    http, _ = shop
    status, body = http.problem(http.receiver_errors(timeout()))
    assert status == 504
    assert body["title"] == "A dependency did not answer in time"


def test_an_unexpected_error_is_a_500_that_is_logged_not_shown(
    shop: Any, caplog: pytest.LogCaptureFixture
) -> None:
    http, _ = shop
    nested = ExceptionGroup("outer", [ExceptionGroup("inner", [KeyError("secret")])])
    errors = http.receiver_errors(nested)
    assert [type(e) for e in errors] == [KeyError]
    with caplog.at_level(logging.ERROR, logger="shop"):
        status, body = http.problem(errors)
    assert status == 500
    assert body["detail"] == "see the server's log"
    assert "secret" not in str(body)
    [record] = caplog.records
    assert record.exc_info is not None
    assert record.exc_info[1] is errors[0]
