"""asyncsignal.django.Signal's sends tell observers (asyncsignal.add_observer)
what the core's do: each send, and each receiver with how it ran (sync ones
inline under ``send``, in asgiref's thread under ``asend``; async ones as
tasks) and its outcome, in the receiver's own context. Django's async code
runs on asyncio only."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest
from support.backends import ASYNCIO_BACKENDS
from support.observing import Recorder, current

from asyncsignal import _seam
from asyncsignal.testing import capture

pytest.importorskip("django")
from asyncsignal.django import Signal

asyncio_only = pytest.mark.parametrize("anyio_backend", ASYNCIO_BACKENDS)


def plain(**kwargs: Any) -> tuple[str, str]:
    return current.get(), threading.current_thread().name


def other(**kwargs: Any) -> tuple[str, str]:
    return current.get(), threading.current_thread().name


async def coroutine(**kwargs: Any) -> tuple[str, str]:
    return current.get(), threading.current_thread().name


def failing(**kwargs: Any) -> None:
    raise ValueError("failing")


async def failing_async(**kwargs: Any) -> None:
    raise KeyError("failing_async")


def events(recorder: Recorder) -> list[tuple[Any, ...]]:
    return [call for call in recorder.calls if call[0].startswith("send_")]


@pytest.mark.parametrize("times", [1, 2], ids=["first send", "specialised send"])
def test_send_tells_each_sync_receiver_inline_in_its_own_context(
    recorder: Recorder, times: int
) -> None:
    signal = Signal(name="django_send")
    signal.connect(plain)
    signal.connect(other, sender=int)
    for _ in range(times):
        recorder.calls.clear()
        responses = signal.send(int, x=1)
    here = threading.current_thread().name
    assert responses == [(plain, ("plain", here)), (other, ("other", here))]
    assert events(recorder) == [
        ("send_started", "django_send", "send", int, 2),
        ("send_ended", ("send", "django_send"), None),
    ]
    assert recorder.hows() == {"plain": "inline", "other": "inline"}
    assert recorder.ended() == {
        "plain": ("response", None),
        "other": ("response", None),
    }


def test_send_runs_async_receivers_as_observed_tasks(recorder: Recorder) -> None:
    signal = Signal(name="mixed")
    signal.connect(plain)
    signal.connect(coroutine)
    [(_, (in_plain, _)), (_, (in_task, _))] = signal.send(None)
    assert (in_plain, in_task) == ("plain", "coroutine")
    assert recorder.hows() == {"plain": "inline", "coroutine": "task"}
    assert events(recorder)[-1] == ("send_ended", ("send", "mixed"), None)


def test_sends_first_error_ends_the_send_and_robust_logs_it(
    recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    signal = Signal(name="errors")
    signal.connect(failing)
    signal.connect(plain)
    with pytest.raises(ValueError, match="failing"):
        signal.send(None)
    assert recorder.ended() == {"failing": ("error", "ValueError")}
    assert events(recorder)[-1] == ("send_ended", ("send", "errors"), "ValueError")
    recorder.calls.clear()
    with caplog.at_level(logging.ERROR, logger="django.dispatch"):
        [(_, error), (_, (in_plain, _))] = signal.send_robust(None)
    assert isinstance(error, ValueError)
    assert in_plain == "plain"
    assert "Error calling failing in Signal.send_robust()" in caplog.text
    assert recorder.ended() == {
        "failing": ("error", "ValueError"),
        "plain": ("response", None),
    }
    assert events(recorder) == [
        ("send_started", "errors", "send_robust", None, 2),
        ("send_ended", ("send", "errors"), None),
    ]


def test_an_observed_send_still_checks_offers_and_claims(recorder: Recorder) -> None:
    signal = Signal(name="checked")
    checked: list[str] = []
    _seam.set_payload_check(signal, lambda method, named: checked.append(method))
    signal.connect(plain, sender=int, once=True)
    with capture(signal) as offered:
        assert signal.send(str) == []  # nothing for this sender
        assert len(signal.send(int)) == 1
        assert signal.send(int) == []  # the once receiver has gone
    assert checked == ["send", "send", "send"]
    assert len(offered) == 3
    assert [call[4] for call in events(recorder)[::2]] == [0, 1, 0]


def test_a_replaced_live_receivers_is_observed_too(recorder: Recorder) -> None:
    class Traced(Signal):
        def _live_receivers(self, sender: object) -> Any:
            return super()._live_receivers(sender)

    signal = Traced(name="traced")
    signal.connect(plain)
    signal.connect(coroutine)
    assert [response[0] for _, response in signal.send(None)] == [
        "plain",
        "coroutine",
    ]
    assert recorder.hows() == {"plain": "inline", "coroutine": "task"}


@asyncio_only
async def test_asend_tells_how_each_receiver_ran_in_its_own_context(
    recorder: Recorder,
) -> None:
    signal = Signal(name="django_asend")
    signal.connect(plain)  # Django's rule: in asgiref's thread
    signal.connect(other, thread=False)
    signal.connect(coroutine)
    responses = dict(await signal.asend(None))
    loop_thread = threading.current_thread().name
    assert responses[plain][0] == "plain"
    assert responses[plain][1] != loop_thread
    assert responses[other] == ("other", loop_thread)
    assert responses[coroutine] == ("coroutine", loop_thread)
    assert recorder.hows() == {
        "plain": "thread",
        "other": "inline",
        "coroutine": "task",
    }
    assert events(recorder) == [
        ("send_started", "django_asend", "asend", None, 3),
        ("send_ended", ("send", "django_asend"), None),
    ]


@asyncio_only
async def test_asend_robust_tells_errors_and_a_timed_receivers_thread(
    recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    signal = Signal(name="robust")
    signal.connect(failing_async)
    signal.connect(other, timeout=5)  # its own thread call, run concurrently
    with caplog.at_level(logging.ERROR, logger="django.dispatch"):
        responses = dict(await signal.asend_robust(None))
    assert isinstance(responses[failing_async], KeyError)
    assert responses[other][0] == "other"
    assert recorder.hows() == {"failing_async": "task", "other": "thread"}
    assert recorder.ended() == {
        "failing_async": ("error", "KeyError"),
        "other": ("response", None),
    }
    assert events(recorder) == [
        ("send_started", "robust", "asend_robust", None, 2),
        ("send_ended", ("send", "robust"), None),
    ]


@asyncio_only
async def test_asends_error_ends_the_observed_send(recorder: Recorder) -> None:
    signal = Signal(name="raising")
    signal.connect(failing)
    with pytest.raises(ValueError, match="failing"):
        await signal.asend(None)
    assert recorder.ended() == {"failing": ("error", "ValueError")}
    assert events(recorder)[-1] == ("send_ended", ("send", "raising"), "ValueError")
