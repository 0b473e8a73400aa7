"""``send`` and ``send_robust`` with async receivers connected: they run every
receiver as ``asend`` would, on a new asyncio event loop from a thread
without one, on the owning loop from a worker thread, and never from an
event loop's own thread.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
import threading
import warnings
from typing import Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest
from receivers import (
    Rendezvous,
    make_async,
    make_sync,
    run_in_thread,
)
from support.backends import UNRETRIEVED_EAGER_TASK_EXCEPTION

from asyncsignal import AsyncSignal

if sys.version_info < (3, 11):
    from exceptiongroup import (  # type: ignore[import-not-found, unused-ignore]
        ExceptionGroup,
    )


Responses = list[tuple[Any, Any]]


def asyncio_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


# -- async receivers, from a thread without an event loop ---------------------


def test_send_without_event_loop_runs_sync_and_async_receivers_in_order() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    s1 = signal.connect(make_sync(log, "s1"))
    a1 = signal.connect(make_async(log, "a1", suspend=True))
    s2 = signal.connect(make_sync(log, "s2"))
    a2 = signal.connect(make_async(log, "a2"))
    responses = signal.send(None)
    assert responses == [(s1, "s1"), (a1, "a1"), (s2, "s2"), (a2, "a2")]
    assert sorted(log) == sorted(
        ["s1", "a1:start", "a1:end", "s2", "a2:start", "a2:end"]
    )
    # Sync receivers run first, in this thread, with no loop running; then
    # the async ones, concurrently (as Django's send does).
    assert log[:2] == ["s1", "s2"]


@pytest.mark.parametrize("method", ["send", "send_robust"])
def test_send_without_event_loop_runs_async_receivers_concurrently(
    method: str,
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    both = Rendezvous(2)
    first = signal.connect(make_async(log, "a", wait_for=both))
    second = signal.connect(make_async(log, "b", wait_for=both))
    assert getattr(signal, method)(None) == [(first, "a"), (second, "b")]


def test_send_without_event_loop_runs_async_receivers_on_a_new_asyncio_loop() -> None:
    signal = AsyncSignal()
    loops: list[asyncio.AbstractEventLoop] = []
    threads: list[int] = []

    async def handler(**kwargs: Any) -> str:
        loops.append(asyncio.get_running_loop())
        threads.append(threading.get_ident())
        await anyio.lowlevel.checkpoint()
        return "ran"

    signal.connect(handler)
    assert signal.send(None) == [(handler, "ran")]
    assert signal.send_robust(None) == [(handler, "ran")]
    assert len(loops) == 2
    assert all(loop.is_closed() for loop in loops)
    assert threads == [threading.get_ident()] * 2
    assert not asyncio_running()


def test_send_without_running_loop_keeps_the_threads_current_event_loop() -> None:
    # A thread may have a current event loop that is not running (set with
    # asyncio.set_event_loop): running the receivers must not replace it.
    signal = AsyncSignal()
    log: list[str] = []
    handler = signal.connect(make_async(log, "a"))

    def scenario() -> tuple[Responses, str]:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            responses = signal.send(None)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                # Raises RuntimeError if the thread's current loop was unset.
                current = asyncio.get_event_loop()
            return responses, "same loop" if current is loop else "another loop"
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    assert run_in_thread(scenario) == ([(handler, "a")], "same loop")


def test_send_in_a_plain_thread_runs_async_receivers() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    handler = signal.connect(make_async(log, "a", suspend=True))
    assert run_in_thread(lambda: signal.send(None)) == [(handler, "a")]
    assert run_in_thread(lambda: signal.send_robust(None)) == [(handler, "a")]


def test_send_without_event_loop_passes_signal_sender_and_payload() -> None:
    signal = AsyncSignal()
    seen: list[dict[str, Any]] = []

    async def handler(**kwargs: Any) -> None:
        seen.append(kwargs)

    signal.connect(handler)
    sender = object()
    signal.send(sender, size=3)
    assert seen == [{"signal": signal, "sender": sender, "size": 3}]


def test_send_without_event_loop_raises_the_single_error_after_all_ran() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    error = ValueError("async boom")
    r1 = signal.connect(make_async(log, "failing", raises=error))
    r2 = signal.connect(make_sync(log, "sync-after"))
    r3 = signal.connect(make_async(log, "async-after", suspend=True))
    assert list(signal.receivers) == [r1, r2, r3]
    with pytest.raises(ValueError, match="async boom") as caught:
        signal.send(None)
    assert caught.value is error
    assert sorted(log) == sorted(
        [
            "failing:start",
            "failing:end",
            "sync-after",
            "async-after:start",
            "async-after:end",
        ]
    )


def test_send_without_event_loop_isolates_a_sync_receivers_error() -> None:
    # With async receivers connected, send follows the asend rules: a sync
    # receiver's error does not stop the receivers after it.
    signal = AsyncSignal()
    log: list[str] = []
    error = KeyError("sync boom")
    r1 = signal.connect(make_sync(log, "failing", raises=error))
    r2 = signal.connect(make_async(log, "async-after"))
    assert list(signal.receivers) == [r1, r2]
    with pytest.raises(KeyError) as caught:
        signal.send(None)
    assert caught.value is error
    assert log == ["failing", "async-after:start", "async-after:end"]


def test_send_without_event_loop_raises_exception_group_for_several_errors() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    first, second = ValueError("first"), KeyError("second")
    r1 = signal.connect(make_async(log, "a", suspend=True, raises=first))
    r2 = signal.connect(make_sync(log, "fine"))
    r3 = signal.connect(make_async(log, "b", raises=second))
    assert list(signal.receivers) == [r1, r2, r3]
    with pytest.raises(ExceptionGroup) as caught:
        signal.send(None)
    assert list(caught.value.exceptions) == [first, second]  # connection order
    assert "2 receivers raised" in str(caught.value)


def test_send_robust_without_event_loop_returns_errors_as_responses(
    caplog: pytest.LogCaptureFixture,
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    error = ValueError("async boom")
    failing = signal.connect(make_async(log, "failing", raises=error))
    fine = signal.connect(make_async(log, "fine"))
    sync = signal.connect(make_sync(log, "sync"))
    with caplog.at_level(logging.DEBUG, logger="asyncsignal"):
        responses = signal.send_robust(None)
    assert responses == [(failing, error), (fine, "fine"), (sync, "sync")]
    assert error.__traceback__ is not None
    [record] = caplog.records
    assert record.levelno == logging.ERROR
    assert record.name == "asyncsignal"
    assert "failing" in record.getMessage()
    assert record.exc_info is not None
    assert record.exc_info[1] is error


@UNRETRIEVED_EAGER_TASK_EXCEPTION
@pytest.mark.parametrize("method", ["send", "send_robust"])
def test_send_without_event_loop_propagates_keyboard_interrupt(method: str) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    interrupt = KeyboardInterrupt()
    r1 = signal.connect(make_async(log, "interrupt", raises=interrupt))
    with pytest.raises(KeyboardInterrupt) as caught:
        getattr(signal, method)(None)
    assert caught.value is interrupt
    assert log == ["interrupt:start", "interrupt:end"]
    assert list(signal.receivers) == [r1]


# -- async receivers, inside a running event loop ------------------------------


async def test_send_in_event_loop_thread_with_only_sync_receivers_calls_them() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    first = signal.connect(make_sync(log, "first"))
    second = signal.connect(make_sync(log, "second"))
    assert signal.send(None) == [(first, "first"), (second, "second")]
    assert signal.send_robust(None) == [(first, "first"), (second, "second")]
    assert log == ["first", "second", "first", "second"]


async def test_send_in_event_loop_refuses_only_senders_with_async_receivers() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    async_sender, sync_sender = object(), object()
    r1 = signal.connect(make_async(log, "async"), sender=async_sender)
    assert list(signal.receivers) == [r1]
    sync = signal.connect(make_sync(log, "sync"), sender=sync_sender)
    assert signal.send(sync_sender) == [(sync, "sync")]
    with pytest.raises(RuntimeError, match="asend"):
        signal.send(async_sender)
    assert log == ["sync"]


# -- async receivers, from a worker thread of a running event loop -----------


async def test_send_from_worker_thread_runs_sync_receivers_there_and_async_on_the_loop(
    anyio_backend: Any,
) -> None:
    signal = AsyncSignal()
    loop_thread = threading.get_ident()
    seen: list[tuple[str, int, bool]] = []

    async def async_receiver(**kwargs: Any) -> str:
        seen.append(("async", threading.get_ident(), asyncio_running()))
        await anyio.lowlevel.checkpoint()
        return "async"

    def sync_receiver(**kwargs: Any) -> str:
        seen.append(("sync", threading.get_ident(), asyncio_running()))
        return "sync"

    signal.connect(async_receiver)
    signal.connect(sync_receiver)
    sender = object()
    responses = await anyio.to_thread.run_sync(signal.send, sender)
    assert responses == [(async_receiver, "async"), (sync_receiver, "sync")]
    on_asyncio = anyio_backend[0] == "asyncio"
    worker = [thread for kind, thread, _ in seen if kind == "sync"]
    # The sync receiver runs first, in the worker thread, with no loop in it;
    # the async one then on the loop that owns the worker.
    assert seen == [
        ("sync", worker[0], False),
        ("async", loop_thread, on_asyncio),
    ]
    assert worker[0] != loop_thread


async def test_send_from_worker_thread_runs_async_receivers_concurrently() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    both = Rendezvous(2)
    first = signal.connect(make_async(log, "a", wait_for=both))
    second = signal.connect(make_async(log, "b", wait_for=both))
    responses = await anyio.to_thread.run_sync(signal.send, None)
    assert responses == [(first, "a"), (second, "b")]


async def test_send_from_worker_thread_raises_the_receivers_error() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    error = ValueError("boom")
    r1 = signal.connect(make_async(log, "failing", raises=error))
    r2 = signal.connect(make_async(log, "fine", suspend=True))
    assert list(signal.receivers) == [r1, r2]
    with pytest.raises(ValueError, match="boom") as caught:
        await anyio.to_thread.run_sync(signal.send, None)
    assert caught.value is error
    assert sorted(log) == ["failing:end", "failing:start", "fine:end", "fine:start"]


async def test_send_from_worker_thread_raises_exception_group_for_several_errors() -> (
    None
):
    signal = AsyncSignal()
    log: list[str] = []
    first, second = ValueError("first"), KeyError("second")
    r1 = signal.connect(make_async(log, "a", suspend=True, raises=first))
    r2 = signal.connect(make_async(log, "b", raises=second))
    assert list(signal.receivers) == [r1, r2]
    with pytest.raises(ExceptionGroup) as caught:
        await anyio.to_thread.run_sync(signal.send, None)
    assert list(caught.value.exceptions) == [first, second]


async def test_send_robust_from_worker_thread_returns_errors_as_responses() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    error = ValueError("boom")
    failing = signal.connect(make_async(log, "failing", raises=error))
    fine = signal.connect(make_async(log, "fine"))
    responses = await anyio.to_thread.run_sync(signal.send_robust, None)
    assert responses == [(failing, error), (fine, "fine")]


async def test_send_from_worker_thread_with_only_sync_receivers_runs_in_worker() -> (
    None
):
    signal = AsyncSignal()
    threads: list[int] = []

    def handler(**kwargs: Any) -> str:
        threads.append(threading.get_ident())
        return "sync"

    signal.connect(handler)

    def send_and_report() -> tuple[Responses, int]:
        return signal.send(None), threading.get_ident()

    responses, worker = await anyio.to_thread.run_sync(send_and_report)
    assert responses == [(handler, "sync")]
    assert threads == [worker]
    assert worker != threading.get_ident()


async def test_changes_made_by_an_async_receiver_during_send_apply_next_time() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    late = make_sync(log, "late")

    async def rewire(**kwargs: Any) -> str:
        log.append("rewire")
        signal.connect(late)
        signal.disconnect(rewire)
        await anyio.lowlevel.checkpoint()
        return "rewire"

    signal.connect(rewire)
    assert await anyio.to_thread.run_sync(signal.send, None) == [(rewire, "rewire")]
    assert await anyio.to_thread.run_sync(signal.send, None) == [(late, "late")]
    assert log == ["rewire", "late"]


async def test_send_from_worker_thread_reraises_a_receivers_no_event_loop_error() -> (
    None
):
    """A receiver's own NoEventLoopError is its error, not a sign that the
    calling thread has no event loop (which would run a second loop)."""
    signal = AsyncSignal()
    log: list[str] = []
    receiver = make_async(log, "receiver", raises=anyio.NoEventLoopError("its own"))
    signal.connect(receiver)
    with pytest.raises(anyio.NoEventLoopError, match="its own"):
        await anyio.to_thread.run_sync(signal.send, None)
    assert log == ["receiver:start", "receiver:end"]


async def _needs_x(x: int, **kwargs: Any) -> int:
    return x


def test_send_isolates_an_async_receiver_that_fails_when_called() -> None:
    signal = AsyncSignal()
    broken = functools.partial(_needs_x)  # called without x: TypeError at once
    signal.connect(broken, weak=False)
    with pytest.raises(TypeError, match="x"):
        signal.send(None)
