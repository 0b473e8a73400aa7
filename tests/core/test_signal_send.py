"""send / send_robust: the synchronous entry points.

With only sync receivers connected, ``send`` calls them in connection order in
the caller's thread and stops at the first exception; ``send_robust`` turns
each ``Exception`` into that receiver's response and logs it. With async
receivers connected, both run every receiver as ``asend`` would: on a new
asyncio event loop from a thread without one, on the owning loop from a worker
thread, and never from an event loop's own thread.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest
from receivers import Rendezvous, make_async, make_sync
from support.backends import UNRETRIEVED_EAGER_TASK_EXCEPTION

from asyncsignal import AsyncSignal

if sys.version_info < (3, 11):
    from exceptiongroup import (  # type: ignore[import-not-found, unused-ignore]
        ExceptionGroup,
    )

if TYPE_CHECKING:
    from collections.abc import Callable

Responses = list[tuple[Any, Any]]


# -- helpers ------------------------------------------------------------------


def run_in_thread(func: Callable[[], Any]) -> Any:
    """Run ``func`` in a new plain thread (no event loop) and return its result
    (or raise its exception)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(func).result(timeout=30)


def asyncio_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


# -- the call ----------------------------------------------------------------


def test_send_calls_receivers_with_signal_sender_and_payload_as_keywords() -> None:
    signal = AsyncSignal()
    seen: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def handler(*args: Any, **kwargs: Any) -> None:
        seen.append((args, kwargs))

    signal.connect(handler)
    sender = object()
    signal.send(sender, x=1, y="two")
    assert seen == [((), {"signal": signal, "sender": sender, "x": 1, "y": "two"})]


def test_send_accepts_sender_as_a_keyword_argument() -> None:
    signal = AsyncSignal()
    seen: list[object] = []

    def handler(sender: object, **kwargs: Any) -> None:
        seen.append(sender)

    signal.connect(handler)
    sender = object()
    signal.send(sender=sender)
    signal.send_robust(sender=sender)
    assert seen == [sender, sender]


def test_receiver_may_name_signal_and_sender_and_payload_parameters() -> None:
    signal = AsyncSignal()
    seen: list[tuple[object, object, int]] = []

    def handler(signal: AsyncSignal, sender: object, size: int, **kwargs: Any) -> None:
        seen.append((signal, sender, size))

    signal.connect(handler)
    signal.send("pizzeria", size=12)
    assert seen == [(signal, "pizzeria", 12)]


def test_send_with_no_receivers_returns_empty_list() -> None:
    signal = AsyncSignal()
    assert signal.send(None) == []
    assert signal.send(object(), x=1) == []
    assert signal.send_robust(None) == []


def test_send_returns_receiver_response_pairs_in_connection_order() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    receivers = [signal.connect(make_sync(log, f"r{i}")) for i in range(5)]
    responses = signal.send(None)
    assert responses == [(r, f"r{i}") for i, r in enumerate(receivers)]
    assert all(pair[0] is r for pair, r in zip(responses, receivers, strict=True))
    assert log == ["r0", "r1", "r2", "r3", "r4"]


def test_send_returns_the_receivers_own_response_objects() -> None:
    signal = AsyncSignal()
    response = object()

    def handler(**kwargs: Any) -> object:
        return response

    signal.connect(handler)
    [(got_receiver, got_response)] = signal.send(None)
    assert got_receiver is handler
    assert got_response is response


def test_send_calls_sync_receivers_in_the_callers_thread() -> None:
    signal = AsyncSignal()
    threads: list[int] = []

    def handler(**kwargs: Any) -> None:
        threads.append(threading.get_ident())

    signal.connect(handler)
    signal.send(None)
    worker_ident = run_in_thread(lambda: (signal.send(None), threading.get_ident())[1])
    assert threads == [threading.get_ident(), worker_ident]


def test_send_interleaves_sender_specific_and_any_sender_receivers_by_time() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    sender, other = object(), object()
    a = signal.connect(make_sync(log, "any-1"))
    b = signal.connect(make_sync(log, "sender-1"), sender=sender)
    c = signal.connect(make_sync(log, "other-1"), sender=other)
    d = signal.connect(make_sync(log, "any-2"))
    e = signal.connect(make_sync(log, "sender-2"), sender=sender)
    assert [r for r, _ in signal.send(sender)] == [a, b, d, e]
    assert [r for r, _ in signal.send(other)] == [a, c, d]
    assert [r for r, _ in signal.send(None)] == [a, d]
    assert [r for r, _ in signal.send_robust(sender)] == [a, b, d, e]


def test_send_with_non_identifier_payload_keys_passes_them_on() -> None:
    signal = AsyncSignal()
    seen: list[dict[str, Any]] = []

    def receiver(**kwargs: Any) -> None:
        seen.append(kwargs)

    signal.connect(receiver)
    signal.send(None, **{"not-an-identifier": 1, "class": 2})
    assert seen == [
        {"signal": signal, "sender": None, "not-an-identifier": 1, "class": 2}
    ]


def test_send_payload_keys_may_shadow_the_dispatch_codes_own_names() -> None:
    signal = AsyncSignal()
    seen: list[dict[str, Any]] = []

    def receiver(**kwargs: Any) -> None:
        seen.append(kwargs)

    signal.connect(receiver)
    signal.send(None, r=1, reg=2, registrations=3, receiver=4)
    assert seen == [
        {"signal": signal, "sender": None, "r": 1, "reg": 2, "registrations": 3}
        | {"receiver": 4}
    ]


# -- send: errors -------------------------------------------------------------


def test_send_stops_at_first_exception_and_skips_later_receivers() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    error = ValueError("boom")
    signal.connect(first := make_sync(log, "first"))
    signal.connect(failing := make_sync(log, "failing", raises=error))
    signal.connect(later := make_sync(log, "later"))
    signal.connect(also_failing := make_sync(log, "also", raises=KeyError("k")))
    with pytest.raises(ValueError, match="boom") as caught:
        signal.send(None)
    assert caught.value is error
    assert log == ["first", "failing"]
    assert [first, failing, later, also_failing] == list(signal.receivers)


def test_send_propagates_base_exceptions_unchanged() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    signal.connect(stop := make_sync(log, "stop", raises=KeyboardInterrupt()))
    signal.connect(later := make_sync(log, "later"))
    with pytest.raises(KeyboardInterrupt):
        signal.send(None)
    assert log == ["stop"]
    assert list(signal.receivers) == [stop, later]


# -- send_robust --------------------------------------------------------------


def test_send_robust_returns_exception_as_response_and_calls_every_receiver() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    error = ValueError("boom")
    first = signal.connect(make_sync(log, "first"))
    failing = signal.connect(make_sync(log, "failing", raises=error))
    later = signal.connect(make_sync(log, "later"))
    responses = signal.send_robust(None)
    assert responses == [(first, "first"), (failing, error), (later, "later")]
    assert responses[1][1] is error
    assert error.__traceback__ is not None
    assert log == ["first", "failing", "later"]


def test_send_robust_keeps_each_exception_with_its_receiver() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    one, two = ValueError("one"), KeyError("two")
    a = signal.connect(make_sync(log, "a", raises=one))
    b = signal.connect(make_sync(log, "b", raises=two))
    responses = signal.send_robust(None)
    assert [(r, type(e), e) for r, e in responses] == [
        (a, ValueError, one),
        (b, KeyError, two),
    ]


def test_send_robust_logs_each_error_at_error_level_with_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    error = ValueError("boom")
    r1 = signal.connect(make_sync(log, "fine"))
    assert list(signal.receivers) == [r1]

    def failing_receiver(**kwargs: Any) -> None:
        raise error

    signal.connect(failing_receiver)
    with caplog.at_level(logging.DEBUG, logger="asyncsignal"):
        signal.send_robust(None)
    assert len(caplog.records) == 1
    [record] = caplog.records
    assert record.name == "asyncsignal"
    assert record.levelno == logging.ERROR
    assert "failing_receiver" in record.getMessage()
    assert "send_robust" in record.getMessage()
    assert record.exc_info is not None
    assert record.exc_info[0] is ValueError
    assert record.exc_info[1] is error
    assert record.exc_info[2] is error.__traceback__
    assert record.exc_info[2] is not None


def test_send_robust_logs_nothing_when_no_receiver_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    handler = signal.connect(make_sync(log, "fine"))
    with caplog.at_level(logging.DEBUG, logger="asyncsignal"):
        assert signal.send_robust(None) == [(handler, "fine")]
    assert caplog.records == []


@pytest.mark.parametrize(
    "interrupt",
    [KeyboardInterrupt(), SystemExit(3)],
    ids=["KeyboardInterrupt", "SystemExit"],
)
def test_send_robust_propagates_base_exceptions_and_skips_later_receivers(
    interrupt: BaseException, caplog: pytest.LogCaptureFixture
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    signal.connect(first := make_sync(log, "first"))
    signal.connect(stop := make_sync(log, "stop", raises=interrupt))
    signal.connect(later := make_sync(log, "later"))
    with (
        caplog.at_level(logging.DEBUG, logger="asyncsignal"),
        pytest.raises(type(interrupt)) as caught,
    ):
        signal.send_robust(None)
    assert caught.value is interrupt
    assert log == ["first", "stop"]
    assert caplog.records == []
    assert list(signal.receivers) == [first, stop, later]


# -- changing the registrations during a send ---------------------------------


@pytest.mark.parametrize("method", ["send", "send_robust"])
def test_receiver_disconnecting_itself_runs_this_send_not_the_next(
    method: str,
) -> None:
    signal = AsyncSignal()
    log: list[str] = []

    def once(**kwargs: Any) -> str:
        log.append("once")
        signal.disconnect(once)
        return "once"

    signal.connect(once)
    signal.connect(after := make_sync(log, "after"))
    assert getattr(signal, method)(None) == [(once, "once"), (after, "after")]
    assert getattr(signal, method)(None) == [(after, "after")]
    assert log == ["once", "after", "after"]


@pytest.mark.parametrize("method", ["send", "send_robust"])
def test_changes_made_by_a_receiver_during_send_apply_from_the_next_send(
    method: str,
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    sender = object()
    late = make_sync(log, "late")
    late_for_sender = make_sync(log, "late-for-sender")
    victim = make_sync(log, "victim")

    def rewire(**kwargs: Any) -> str:
        log.append("rewire")
        signal.connect(late)
        signal.connect(late_for_sender, sender=sender)
        signal.disconnect(victim, sender=sender)
        signal.disconnect(rewire, sender=sender)
        return "rewire"

    signal.connect(rewire, sender=sender)
    signal.connect(victim, sender=sender)
    assert getattr(signal, method)(sender) == [(rewire, "rewire"), (victim, "victim")]
    assert log == ["rewire", "victim"]
    log.clear()
    assert getattr(signal, method)(sender) == [
        (late, "late"),
        (late_for_sender, "late-for-sender"),
    ]
    assert log == ["late", "late-for-sender"]


def test_receiver_may_send_the_same_signal_recursively() -> None:
    signal = AsyncSignal()
    depth: list[int] = []

    def recurse(level: int, **kwargs: Any) -> int:
        depth.append(level)
        if level < 3:
            signal.send(None, level=level + 1)
        return level

    signal.connect(recurse)
    assert signal.send(None, level=0) == [(recurse, 0)]
    assert depth == [0, 1, 2, 3]


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
