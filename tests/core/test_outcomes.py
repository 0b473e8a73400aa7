"""Receivers' errors logged on the ``asyncsignal`` logger name the method that was
called.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from receivers import (
    errors_of,
    make_async,
    make_sync,
    records_of,
)

from asyncsignal import AsyncSignal

# -- log lines name the method called -------------------------------------------


@pytest.mark.parametrize("with_async", [False, True], ids=["sync-only", "with-async"])
def test_send_robust_logs_errors_as_send_robust(
    with_async: bool, caplog: pytest.LogCaptureFixture
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    signal.connect(make_sync(log, "inline", raises=ValueError("inline")), weak=False)
    signal.connect(
        make_sync(log, "pooled", raises=KeyError("pooled")), thread=True, weak=False
    )
    if with_async:
        signal.connect(
            make_async(log, "coroutine", raises=LookupError("coroutine")), weak=False
        )

    with caplog.at_level(logging.ERROR, logger="asyncsignal"):
        responses = signal.send_robust(None)

    records = records_of(caplog)
    assert len(records) == len(responses) == (3 if with_async else 2)
    assert [errors_of(r) for r in records] == [response for _, response in responses]
    for record in records:
        message = record.getMessage()
        assert "in send_robust()" in message
        assert "asend" not in message


async def test_asend_robust_logs_errors_as_asend_robust(
    anyio_backend: Any, caplog: pytest.LogCaptureFixture
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    signal.connect(make_sync(log, "inline", raises=ValueError("inline")), weak=False)
    signal.connect(
        make_sync(log, "pooled", raises=KeyError("pooled")), thread=True, weak=False
    )
    signal.connect(
        make_async(log, "coroutine", raises=LookupError("coroutine")), weak=False
    )

    with caplog.at_level(logging.ERROR, logger="asyncsignal"):
        responses = await signal.asend_robust(None)

    records = records_of(caplog)
    assert len(records) == len(responses) == 3
    assert [errors_of(r) for r in records] == [response for _, response in responses]
    for record in records:
        assert "in asend_robust()" in record.getMessage()
