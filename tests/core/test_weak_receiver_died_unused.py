"""A weakly connected receiver collected before any send called it is
reported on the ``asyncsignal`` logger, naming it and the fix; receivers that
ran, were disconnected, or are bound methods (which die with their instance by
design) are not."""

from __future__ import annotations

import gc
import logging
from typing import Any

import pytest

import asyncsignal
import asyncsignal.testing
from asyncsignal import AsyncSignal


def _connect_nested(signal: AsyncSignal) -> None:
    def on_saved(**kwargs: Any) -> None:
        """Nothing keeps this alive once _connect_nested returns."""

    signal.connect(on_saved)


def _died_unused(caplog: pytest.LogCaptureFixture) -> list[str]:
    gc.collect()
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "asyncsignal"
        and "before it was ever called" in record.message
    ]


@pytest.fixture
def caplog(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING, logger="asyncsignal")
    return caplog


def test_a_nested_function_collected_before_any_send_is_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    signal = AsyncSignal()
    _connect_nested(signal)
    (message,) = _died_unused(caplog)
    assert "_connect_nested.<locals>.on_saved" in message
    assert __name__ in message
    assert "weak=False" in message
    assert signal.send(None) == []


def test_a_callable_instance_is_named_by_its_class(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Handler:
        def __call__(self, **kwargs: Any) -> None:
            pass

    signal = AsyncSignal()
    signal.connect(Handler())
    (message,) = _died_unused(caplog)
    assert "Handler" in message


def test_no_report_for_a_receiver_that_ran(caplog: pytest.LogCaptureFixture) -> None:
    signal = AsyncSignal()

    def on_saved(**kwargs: Any) -> str:
        return "ran"

    signal.connect(on_saved)
    assert [r for _, r in signal.send(None)] == ["ran"]
    del on_saved
    assert _died_unused(caplog) == []
    assert len(signal.receivers) == 0


@pytest.mark.parametrize("how", ["receiver", "dispatch_uid"])
def test_no_report_for_a_disconnected_receiver(
    caplog: pytest.LogCaptureFixture, how: str
) -> None:
    signal = AsyncSignal()

    def on_saved(**kwargs: Any) -> None:
        pass

    signal.connect(on_saved, dispatch_uid="uid" if how == "dispatch_uid" else None)
    if how == "receiver":
        assert signal.disconnect(on_saved)
    else:
        assert signal.disconnect(dispatch_uid="uid")
    del on_saved
    assert _died_unused(caplog) == []


def test_no_report_for_a_bound_method_dying_with_its_instance(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Widget:
        def on_saved(self, **kwargs: Any) -> None:
            pass

    signal = AsyncSignal()
    widget = Widget()
    signal.connect(widget.on_saved)
    del widget
    assert _died_unused(caplog) == []
    assert len(signal.receivers) == 0


def test_no_report_for_weak_false(caplog: pytest.LogCaptureFixture) -> None:
    signal = AsyncSignal()

    def kept(**kwargs: Any) -> None:
        pass

    signal.connect(kept, weak=False)
    del kept
    assert _died_unused(caplog) == []
    assert len(signal.receivers) == 1


def test_a_receiver_muted_during_its_only_send_is_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Muted, it was never called: its death is reported like any unused one."""
    signal = AsyncSignal()

    def on_saved(**kwargs: Any) -> None:
        pass

    signal.connect(on_saved)
    with asyncsignal.testing.muted(signal):
        assert signal.send(None) == []
    del on_saved
    assert len(_died_unused(caplog)) == 1


@pytest.mark.anyio
async def test_async_receivers_that_ran_under_asend_are_not_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    signal = AsyncSignal()

    async def on_saved(**kwargs: Any) -> str:
        return "ran"

    signal.connect(on_saved)
    assert [r for _, r in await signal.asend(None)] == ["ran"]
    del on_saved
    assert _died_unused(caplog) == []
