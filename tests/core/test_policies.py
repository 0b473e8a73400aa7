"""Per-receiver execution policies: ``thread=``, ``timeout=``, ``once=``.

Also what the policies change about the sync entry points (``send`` calls sync
receivers in the caller's thread before the async ones run on an event loop),
the checks at ``connect``, ``WeakReceiverWarning`` and the method names in log
lines. Cancellation with policies lives in ``test_policies_cancellation.py``,
task creation on asyncio in ``test_task_factory.py``.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import math
import sys
import threading
import warnings
from typing import TYPE_CHECKING, Any, NamedTuple

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread
import pytest
import trio
from receivers import Rendezvous, make_async, make_sync

from asyncsignal import AsyncSignal, ReceiverTimeout, WeakReceiverWarning, receiver

if sys.version_info < (3, 11):
    from exceptiongroup import (  # type: ignore[import-not-found, unused-ignore]
        ExceptionGroup,
    )

if TYPE_CHECKING:
    from collections.abc import Callable


Responses = list[tuple[Any, Any]]

#: Long enough for a worker thread to start on a loaded machine; a passing
#: test never waits for it.
GENEROUS = 5.0
#: A short receiver timeout that still lets the receiver start before it
#: fires (before 3.12, asyncio starts receiver tasks only once asend waits).
TIMEOUT = 0.05
#: Longer than TIMEOUT: a sibling still running when a timeout fires.
LONGER = TIMEOUT + 0.03


# -- helpers ------------------------------------------------------------------


class Place(NamedTuple):
    """Where a receiver ran."""

    thread: threading.Thread
    loop_running: bool


def place() -> Place:
    """The current thread, and whether an asyncio or trio loop runs in it."""
    loop_running = (
        asyncio._get_running_loop() is not None or trio.lowlevel.in_trio_run()
    )
    return Place(threading.current_thread(), loop_running)


def current_loop() -> object:
    """The running event loop: the asyncio loop, or trio's root task."""
    if trio.lowlevel.in_trio_run():
        return trio.lowlevel.current_root_task()
    return asyncio.get_running_loop()


def records_of(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "asyncsignal"]


def errors_of(record: logging.LogRecord) -> BaseException | None:
    return record.exc_info[1] if record.exc_info else None


class Blocker:
    """A sync receiver that blocks its thread until the test releases it."""

    def __init__(self, name: str = "blocker") -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.finished = threading.Event()
        self.calls = 0
        self.__qualname__ = name

    def __call__(self, **kwargs: Any) -> str:
        self.calls += 1
        self.entered.set()
        try:
            self.release.wait(GENEROUS)
        finally:
            self.finished.set()
        return "unblocked"

    async def wait_entered(self) -> None:
        assert await anyio.to_thread.run_sync(self.entered.wait, GENEROUS)

    async def release_and_join(self) -> None:
        """Release the thread and wait for its end, if it started: a thread
        receiver that timed out before a worker took it up is never called."""
        self.release.set()
        if self.entered.is_set():
            assert await anyio.to_thread.run_sync(self.finished.wait, GENEROUS)


class Delay:
    """Something a recording receiver waits for: the time to pass."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    async def wait(self) -> None:
        await anyio.sleep(self.seconds)


def sleeper(log: list[str], name: str) -> Callable[..., Any]:
    """An async receiver that sleeps for ever and records its cancellation."""

    async def receiver(**kwargs: Any) -> str:
        log.append(f"{name}:start")
        try:
            await anyio.sleep(10)
        finally:
            log.append(f"{name}:cancelled")
        return "never"

    receiver.__qualname__ = name
    return receiver


# -- send from sync code ------------------------------------------------------


@pytest.mark.parametrize("method", ["send", "send_robust"])
def test_send_calls_sync_receivers_in_the_callers_thread_before_async_ones(
    method: str,
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    places: dict[str, Place] = {}
    # Only async receivers that run concurrently get through.
    both_running = Rendezvous(2)

    def sync(name: str) -> Callable[..., Any]:
        def receiver(**kwargs: Any) -> str:
            log.append(name)
            places[name] = place()
            return name

        receiver.__qualname__ = name
        return receiver

    def asynchronous(name: str) -> Callable[..., Any]:
        async def receiver(**kwargs: Any) -> str:
            log.append(f"{name}:start")
            places[name] = place()
            await both_running.wait()
            log.append(f"{name}:end")
            return name

        receiver.__qualname__ = name
        return receiver

    plain, a1, in_thread, a2, once = (
        sync("plain"),
        asynchronous("a1"),
        sync("in_thread"),
        asynchronous("a2"),
        sync("once"),
    )
    signal.connect(plain)
    signal.connect(a1)
    signal.connect(in_thread, thread=True)
    signal.connect(a2)
    signal.connect(once, once=True)

    responses = getattr(signal, method)(None)

    assert responses == [
        (plain, "plain"),
        (a1, "a1"),
        (in_thread, "in_thread"),
        (a2, "a2"),
        (once, "once"),
    ]
    # Sync receivers first, in order; then the async ones, concurrently.
    assert log[:5] == ["plain", "in_thread", "once", "a1:start", "a2:start"]
    assert sorted(log[5:]) == ["a1:end", "a2:end"]
    caller = threading.current_thread()
    for name in ("plain", "in_thread", "once"):
        assert places[name] == Place(caller, loop_running=False)
    for name in ("a1", "a2"):
        assert places[name].loop_running
    assert asyncio._get_running_loop() is None


@pytest.mark.parametrize("method", ["send", "send_robust"])
async def test_send_from_a_worker_thread_runs_async_receivers_on_the_owning_loop(
    anyio_backend: Any, method: str
) -> None:
    signal = AsyncSignal()
    owning_loop = current_loop()
    loop_thread = threading.current_thread()
    places: dict[str, Place] = {}
    loops: list[object] = []

    def sync_receiver(**kwargs: Any) -> str:
        places["sync"] = place()
        return "sync"

    def thread_receiver(**kwargs: Any) -> str:
        places["thread"] = place()
        return "thread"

    async def async_receiver(**kwargs: Any) -> str:
        await anyio.lowlevel.checkpoint()
        places["async"] = place()
        loops.append(current_loop())
        return "async"

    signal.connect(async_receiver)
    signal.connect(sync_receiver)
    signal.connect(thread_receiver, thread=True)

    responses = await anyio.to_thread.run_sync(
        functools.partial(getattr(signal, method), None)
    )

    assert responses == [
        (async_receiver, "async"),
        (sync_receiver, "sync"),
        (thread_receiver, "thread"),
    ]
    worker = places["sync"].thread
    assert worker is not loop_thread
    assert places["sync"] == Place(worker, loop_running=False)
    # thread=True does not mean another thread under send: the caller's.
    assert places["thread"] == Place(worker, loop_running=False)
    assert places["async"] == Place(loop_thread, loop_running=True)
    assert loops == [owning_loop]


def test_send_with_only_sync_receivers_stops_at_the_first_exception() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    first = make_sync(log, "first")
    failing = make_sync(log, "failing", raises=ValueError("failing"))
    later = make_sync(log, "later")
    signal.connect(first, once=True)
    signal.connect(failing, thread=True)
    signal.connect(later, once=True)

    with pytest.raises(ValueError, match="failing"):
        signal.send(None)

    assert log == ["first", "failing"]
    # The later once registration was never reached, so it is not consumed.
    assert list(signal.receivers) == [failing, later]


def test_send_with_async_receivers_runs_every_receiver_then_raises_the_error() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    failing = make_sync(log, "failing", raises=ValueError("failing"))
    later = make_sync(log, "later")
    coroutine = make_async(log, "coroutine")
    signal.connect(failing)
    signal.connect(coroutine)
    signal.connect(later, thread=True)

    with pytest.raises(ValueError, match="failing"):
        signal.send(None)

    assert log == ["failing", "later", "coroutine:start", "coroutine:end"]


def test_send_with_async_receivers_raises_every_error_in_connection_order() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    async_error = KeyError("async, connected first")
    sync_error = ValueError("sync, connected second, called first")
    signal.connect(make_async(log, "coroutine", raises=async_error), weak=False)
    signal.connect(make_sync(log, "function", raises=sync_error), weak=False)

    with pytest.raises(ExceptionGroup) as info:
        signal.send(None)

    assert info.value.exceptions == (async_error, sync_error)
    assert "send()" in str(info.value)
    assert log == ["function", "coroutine:start", "coroutine:end"]


@pytest.mark.parametrize("method", ["send", "send_robust"])
async def test_send_in_an_event_loop_thread_with_async_receivers_runs_nothing(
    anyio_backend: Any, method: str
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    signal.connect(make_sync(log, "plain"), weak=False)
    signal.connect(make_sync(log, "once"), weak=False, once=True)
    signal.connect(make_async(log, "coroutine"), weak=False)

    with pytest.raises(RuntimeError, match=f"await signal.a{method}"):
        getattr(signal, method)(None)

    assert log == []
    assert len(signal.receivers) == 3
    # The once registration is still there for the next send.
    await signal.asend(None)
    assert log.count("once") == 1
    assert len(signal.receivers) == 2


# -- thread= ------------------------------------------------------------------


@pytest.mark.parametrize("method", ["asend", "asend_robust"])
async def test_thread_receivers_run_concurrently_in_worker_threads(
    anyio_backend: Any, method: str
) -> None:
    signal = AsyncSignal()
    loop_thread = threading.current_thread()
    # Each of three receivers waits for the other two: only concurrent
    # receivers get through.
    barrier = threading.Barrier(3)
    places: dict[str, Place] = {}

    def in_thread(name: str) -> Callable[..., Any]:
        def receiver(**kwargs: Any) -> str:
            barrier.wait(GENEROUS)
            places[name] = place()
            return name

        receiver.__qualname__ = name
        return receiver

    def inline(**kwargs: Any) -> str:
        places["inline"] = place()
        return "inline"

    async def coroutine(**kwargs: Any) -> str:
        await anyio.lowlevel.checkpoint()
        places["coroutine"] = place()
        return "coroutine"

    t1, t2, t3 = in_thread("t1"), in_thread("t2"), in_thread("t3")
    signal.connect(t1, thread=True)
    signal.connect(inline)
    signal.connect(t2, thread=True)
    signal.connect(coroutine)
    signal.connect(t3, thread=True)

    responses = await getattr(signal, method)(None)

    assert responses == [
        (t1, "t1"),
        (inline, "inline"),
        (t2, "t2"),
        (coroutine, "coroutine"),
        (t3, "t3"),
    ]
    workers = {places[name].thread for name in ("t1", "t2", "t3")}
    assert len(workers) == 3
    assert loop_thread not in workers
    assert not any(places[name].loop_running for name in ("t1", "t2", "t3"))
    assert places["inline"] == Place(loop_thread, loop_running=True)
    assert places["coroutine"] == Place(loop_thread, loop_running=True)


async def test_signal_thread_default_applies_to_sync_receivers_unless_overridden(
    anyio_backend: Any,
) -> None:
    signal = AsyncSignal(thread=True)
    loop_thread = threading.current_thread()
    barrier = threading.Barrier(2)
    places: dict[str, Place] = {}

    def pooled(**kwargs: Any) -> str:
        barrier.wait(GENEROUS)
        places["pooled"] = place()
        return "pooled"

    def also_pooled(**kwargs: Any) -> str:
        barrier.wait(GENEROUS)
        places["also_pooled"] = place()
        return "also_pooled"

    def inline(**kwargs: Any) -> str:
        places["inline"] = place()
        return "inline"

    async def coroutine(**kwargs: Any) -> str:
        await anyio.lowlevel.checkpoint()
        places["coroutine"] = place()
        return "coroutine"

    signal.connect(pooled)
    signal.connect(inline, thread=False)
    signal.connect(coroutine)  # thread applies to sync receivers only
    signal.connect(also_pooled, thread=None)

    responses = await signal.asend(None)

    assert [response for _, response in responses] == [
        "pooled",
        "inline",
        "coroutine",
        "also_pooled",
    ]
    assert places["pooled"].thread is not loop_thread
    assert places["also_pooled"].thread is not loop_thread
    assert places["inline"].thread is loop_thread
    assert places["coroutine"].thread is loop_thread


@pytest.mark.parametrize("method", ["send", "send_robust"])
def test_send_calls_thread_receivers_in_the_callers_thread(method: str) -> None:
    signal = AsyncSignal(thread=True)
    places: list[Place] = []

    def default(**kwargs: Any) -> None:
        places.append(place())

    def explicit(**kwargs: Any) -> None:
        places.append(place())

    signal.connect(default)
    signal.connect(explicit, thread=True, timeout=0.05)

    getattr(signal, method)(None)

    assert places == [Place(threading.current_thread(), loop_running=False)] * 2


def test_thread_true_for_an_async_receiver_is_a_type_error_at_connect() -> None:
    signal = AsyncSignal()

    async def coroutine(**kwargs: Any) -> None:
        pass

    with pytest.raises(TypeError, match=r"thread=True.*coroutine.*async"):
        signal.connect(coroutine, thread=True)
    assert len(signal.receivers) == 0

    # The signal's default is for sync receivers: no error for async ones.
    threaded = AsyncSignal(thread=True)
    threaded.connect(coroutine)
    assert list(threaded.receivers) == [coroutine]


async def test_cancelled_asend_stops_waiting_for_a_blocked_thread_receiver(
    anyio_backend: Any,
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    blocker = Blocker()
    signal.connect(make_sync(log, "inline"), weak=False)
    signal.connect(blocker, thread=True)
    signal.connect(make_async(log, "quick"), weak=False)
    signal.connect(sleeper(log, "slow"), weak=False)

    async with anyio.create_task_group() as group:
        with anyio.CancelScope() as scope:

            async def cancel_once_blocked() -> None:
                await blocker.wait_entered()
                scope.cancel()

            group.start_soon(cancel_once_blocked)
            started = anyio.current_time()
            await signal.asend(None)
    elapsed = anyio.current_time() - started

    try:
        assert scope.cancelled_caught
        assert elapsed < 1.0
        assert not blocker.finished.is_set()
        assert sorted(log) == [
            "inline",
            "quick:end",
            "quick:start",
            "slow:cancelled",
            "slow:start",
        ]
    finally:
        await blocker.release_and_join()
    assert blocker.calls == 1


class HungReceiver:
    """A sync receiver that blocks its thread until the test releases it,
    counting the calls running at once (under a lock: no timing involved)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._ended = threading.Condition(self._lock)
        self.running = 0
        self.most_at_once = 0
        self.calls = 0
        self.__qualname__ = "hung"

    def __call__(self, **kwargs: Any) -> None:
        with self._lock:
            self.calls += 1
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            self.release.wait(GENEROUS)
        finally:
            with self._lock:
                self.running -= 1
                self._ended.notify_all()

    async def release_and_join(self) -> None:
        def join() -> bool:
            with self._lock:
                return self._ended.wait_for(lambda: self.running == 0, GENEROUS)

        self.release.set()
        # Its own limiter: the default one may be full of hung receivers.
        assert await anyio.to_thread.run_sync(join, limiter=anyio.CapacityLimiter(1))


@pytest.mark.parametrize("ending", ["timeout", "cancelled asend"])
async def test_hung_thread_receivers_never_run_more_threads_than_the_limiter_allows(
    anyio_backend: Any, ending: str
) -> None:
    """A thread receiver that timed out, or whose asend was cancelled, keeps
    its limiter token until its thread ends: rounds of sends to hung receivers
    start no more threads than the limiter has tokens."""
    limit, rounds, per_round = 3, 3, 5
    limiter = anyio.to_thread.current_default_thread_limiter()
    default_tokens = limiter.total_tokens
    limiter.total_tokens = limit
    hung = HungReceiver()
    signal = AsyncSignal()
    timeout = TIMEOUT * 4 if ending == "timeout" else None
    for uid in range(per_round):
        signal.connect(hung, weak=False, dispatch_uid=uid, thread=True, timeout=timeout)
    try:
        for _ in range(rounds):
            if ending == "timeout":
                responses = await signal.asend_robust(None)
                assert all(isinstance(r, ReceiverTimeout) for _, r in responses)
            else:
                with anyio.move_on_after(TIMEOUT * 4) as scope:
                    await signal.asend(None)
                assert scope.cancelled_caught
    finally:
        await hung.release_and_join()
        limiter.total_tokens = default_tokens
    # Hung until released, the first round's threads kept every token.
    assert 1 <= hung.most_at_once <= limit
    assert hung.calls <= limit


# -- timeout= -----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["async", "thread"])
async def test_timed_out_receiver_raises_receiver_timeout_after_its_siblings(
    anyio_backend: Any, kind: str
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    blocker = Blocker("blocked_in_thread")
    slow: Callable[..., Any]
    if kind == "async":
        slow = sleeper(log, "slow")
        signal.connect(slow, timeout=TIMEOUT)
    else:
        slow = blocker
        signal.connect(slow, thread=True, timeout=TIMEOUT)
    signal.connect(make_async(log, "sibling", wait_for=Delay(LONGER)), weak=False)

    try:
        with pytest.raises(ReceiverTimeout) as info:
            await signal.asend(None)
        # Isolated: the sibling ran on past the timeout, to its end.
        assert "sibling:end" in log
        error = info.value
        assert isinstance(error, TimeoutError)
        assert error.receiver is slow
        assert error.timeout == TIMEOUT
        assert slow.__qualname__ in str(error)
        assert f"{TIMEOUT:g} s" in str(error)
        if kind == "async":
            assert "slow:cancelled" in log
        else:
            # A thread cannot be cancelled: it is no longer awaited.
            assert not blocker.finished.is_set()
    finally:
        if kind == "thread":
            await blocker.release_and_join()


@pytest.mark.parametrize("kind", ["async", "thread"])
async def test_asend_robust_returns_and_logs_a_receiver_timeout(
    anyio_backend: Any, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    blocker = Blocker("blocked_in_thread")
    slow: Callable[..., Any] = sleeper(log, "slow") if kind == "async" else blocker
    signal.connect(slow, thread=kind == "thread", timeout=TIMEOUT)
    sibling = make_async(log, "sibling", wait_for=Delay(LONGER))
    signal.connect(sibling)

    try:
        with caplog.at_level(logging.ERROR, logger="asyncsignal"):
            responses = await signal.asend_robust(None)
    finally:
        blocker.release.set()

    assert len(responses) == 2
    assert responses[0][0] is slow
    timeout = responses[0][1]
    assert isinstance(timeout, ReceiverTimeout)
    assert (timeout.receiver, timeout.timeout) == (slow, TIMEOUT)
    assert responses[1] == (sibling, "sibling")
    (record,) = records_of(caplog)
    assert errors_of(record) is timeout
    message = record.getMessage()
    assert "asend_robust()" in message
    assert slow.__qualname__ in message
    if kind == "thread":
        await blocker.release_and_join()


async def test_receiver_timeout_is_in_the_exception_group_in_connection_order(
    anyio_backend: Any,
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    first = ValueError("first")
    third = KeyError("third")
    slow = sleeper(log, "slow")
    signal.connect(make_async(log, "first", raises=first), weak=False)
    signal.connect(slow, timeout=TIMEOUT)
    signal.connect(make_sync(log, "third", raises=third), weak=False)

    with pytest.raises(ExceptionGroup) as info:
        await signal.asend(None)

    one, timeout, three = info.value.exceptions
    assert (one, three) == (first, third)
    assert isinstance(timeout, ReceiverTimeout)
    assert timeout.receiver is slow


async def test_receivers_that_finish_within_their_timeout_are_unaffected(
    anyio_backend: Any,
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    coroutine = make_async(log, "coroutine", wait_for=Delay(0.01))
    immediate = make_async(log, "immediate")
    function = make_sync(log, "function")
    signal.connect(coroutine, timeout=0.3)
    signal.connect(immediate, timeout=0.3)
    signal.connect(function, thread=True, timeout=0.3)

    assert await signal.asend(None) == [
        (coroutine, "coroutine"),
        (immediate, "immediate"),
        (function, "function"),
    ]


async def test_signal_timeout_default_applies_to_async_and_thread_receivers_only(
    anyio_backend: Any,
) -> None:
    signal = AsyncSignal(timeout=TIMEOUT)
    log: list[str] = []
    blocker = Blocker()
    slow = sleeper(log, "slow")
    inline = make_sync(log, "inline")
    signal.connect(slow)
    signal.connect(inline)  # no error: the default skips inline receivers
    signal.connect(blocker, thread=True)

    try:
        responses = await signal.asend_robust(None)
    finally:
        await blocker.release_and_join()

    assert [r for r, _ in responses] == [slow, inline, blocker]
    assert responses[1][1] == "inline"
    for index in (0, 2):
        error = responses[index][1]
        assert isinstance(error, ReceiverTimeout)
        assert error.timeout == TIMEOUT


async def test_explicit_timeout_overrides_the_signal_default(
    anyio_backend: Any,
) -> None:
    signal = AsyncSignal(timeout=0.01)
    log: list[str] = []
    patient = make_async(log, "patient", wait_for=Delay(0.05))
    signal.connect(patient, timeout=0.3)

    assert await signal.asend(None) == [(patient, "patient")]


@pytest.mark.parametrize("method", ["send", "send_robust"])
def test_send_from_sync_code_applies_timeouts_to_async_receivers(
    method: str, caplog: pytest.LogCaptureFixture
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    slow = sleeper(log, "slow")
    signal.connect(slow, timeout=TIMEOUT)
    signal.connect(make_async(log, "sibling", wait_for=Delay(LONGER)), weak=False)

    with caplog.at_level(logging.ERROR, logger="asyncsignal"):
        if method == "send":
            with pytest.raises(ReceiverTimeout) as info:
                signal.send(None)
            error: BaseException = info.value
        else:
            responses = signal.send_robust(None)
            error = responses[0][1]
            (record,) = records_of(caplog)
            assert "send_robust()" in record.getMessage()
            assert "asend" not in record.getMessage()
            assert errors_of(record) is error

    assert isinstance(error, ReceiverTimeout)
    assert error.receiver is slow
    assert "sibling:end" in log
    assert "slow:cancelled" in log


def test_explicit_timeout_for_an_inline_sync_receiver_is_a_value_error() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    inline = make_sync(log, "inline")

    with pytest.raises(ValueError, match=r"timeout=1\b.*inline"):
        signal.connect(inline, timeout=1)
    assert len(signal.receivers) == 0

    threaded = AsyncSignal(thread=True)
    with pytest.raises(ValueError, match=r"timeout=1\b.*inline"):
        threaded.connect(inline, thread=False, timeout=1)
    assert len(threaded.receivers) == 0


BAD_TIMEOUTS = [
    pytest.param(0, ValueError, "0", id="zero"),
    pytest.param(-1, ValueError, "-1", id="negative"),
    pytest.param(-0.5, ValueError, "-0.5", id="negative-float"),
    pytest.param(math.nan, ValueError, "nan", id="nan"),
    pytest.param(math.inf, ValueError, "inf", id="inf"),
    pytest.param("1", TypeError, "'1'", id="string"),
    pytest.param(True, TypeError, "True", id="bool"),
    pytest.param([1], TypeError, r"\[1\]", id="list"),
]


@pytest.mark.parametrize("kind", ["async", "thread"])
@pytest.mark.parametrize(("value", "error", "shown"), BAD_TIMEOUTS)
def test_bad_timeout_at_connect_names_the_argument_and_connects_nothing(
    kind: str, value: Any, error: type[Exception], shown: str
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    existing = make_sync(log, "existing")
    signal.connect(existing)
    target: Callable[..., Any] = (
        make_async(log, "target") if kind == "async" else make_sync(log, "target")
    )

    with pytest.raises(error, match=rf"timeout.*{shown}"):
        signal.connect(target, thread=kind == "thread" or None, timeout=value)

    assert list(signal.receivers) == [existing]


@pytest.mark.parametrize(("value", "error", "shown"), BAD_TIMEOUTS)
def test_bad_signal_timeout_names_the_argument(
    value: Any, error: type[Exception], shown: str
) -> None:
    with pytest.raises(error, match=rf"timeout.*{shown}"):
        AsyncSignal(timeout=value)


@pytest.mark.parametrize("value", ["yes", 1, None, 0.0])
def test_bad_signal_thread_names_the_argument(value: Any) -> None:
    with pytest.raises(TypeError, match=rf"thread.*{value!r}"):
        AsyncSignal(thread=value)


@pytest.mark.parametrize(
    ("argument", "value"),
    [("thread", "yes"), ("thread", 1), ("once", None), ("once", "yes"), ("once", 1)],
)
def test_bad_policy_flag_at_connect_names_it_and_connects_nothing(
    argument: str, value: Any
) -> None:
    signal = AsyncSignal()
    log: list[str] = []

    with pytest.raises(TypeError, match=rf"{argument}.*{value!r}"):
        signal.connect(make_sync(log, "target"), weak=False, **{argument: value})
    assert len(signal.receivers) == 0


# -- once= --------------------------------------------------------------------


def test_once_sync_receiver_resending_under_send_is_not_called_again() -> None:
    signal = AsyncSignal()
    inner: list[Responses] = []
    calls: list[str] = []

    def resends(**kwargs: Any) -> str:
        calls.append("called")
        if len(calls) == 1:  # re-send once at most, even if once= were ignored
            inner.append(signal.send(None))
        return "resends"

    signal.connect(resends, once=True)

    assert signal.send(None) == [(resends, "resends")]
    assert inner == [[]]
    assert calls == ["called"]
    assert signal.send(None) == []
    assert len(signal.receivers) == 0


@pytest.mark.parametrize("kind", ["sync", "async", "thread"])
async def test_once_receiver_resending_under_asend_is_not_called_again(
    anyio_backend: Any, kind: str
) -> None:
    signal = AsyncSignal()
    inner: list[Responses] = []
    calls: list[str] = []

    def sync_resends(**kwargs: Any) -> str:
        calls.append("called")
        if len(calls) == 1:  # re-send once at most, even if once= were ignored
            if kind == "thread":
                # In a worker thread: back to the loop for the nested asend.
                inner.append(anyio.from_thread.run(signal.asend, None))
            else:
                inner.append(signal.send(None))
        return "resends"

    async def async_resends(**kwargs: Any) -> str:
        calls.append("called")
        if len(calls) == 1:
            inner.append(await signal.asend(None))
        return "resends"

    resends = async_resends if kind == "async" else sync_resends
    signal.connect(resends, once=True, thread=kind == "thread" or None)

    assert await signal.asend(None) == [(resends, "resends")]
    assert inner == [[]]
    assert calls == ["called"]
    assert await signal.asend(None) == []
    assert len(signal.receivers) == 0


async def race_for_a_once_receiver(kind: str) -> None:
    """8 threads send() and 8 tasks asend(), all released together."""
    signal = AsyncSignal()
    calls: list[str] = []

    def sync_once(**kwargs: Any) -> str:
        calls.append("called")
        return "once"

    async def async_once(**kwargs: Any) -> str:
        calls.append("called")
        await anyio.lowlevel.checkpoint()
        return "once"

    once = async_once if kind == "async" else sync_once
    signal.connect(once, once=True, thread=kind == "thread" or None)
    # Every send also has an ordinary receiver to call.
    always = make_sync([], "always")
    signal.connect(always)

    start = threading.Barrier(9)
    go = anyio.Event()
    responses: list[Responses] = []

    def send_from_thread() -> None:
        start.wait(GENEROUS)
        responses.append(signal.send(None))

    async def asend_from_task() -> None:
        await go.wait()
        responses.append(await signal.asend(None))

    threads = [threading.Thread(target=send_from_thread) for _ in range(8)]
    for thread in threads:
        thread.start()
    async with anyio.create_task_group() as group:
        for _ in range(8):
            group.start_soon(asend_from_task)
        await anyio.wait_all_tasks_blocked()
        # The threads are all waiting here: let them and the tasks go.
        start.wait(GENEROUS)
        go.set()
    for thread in threads:
        await anyio.to_thread.run_sync(thread.join, GENEROUS)

    assert calls == ["called"]
    assert len(responses) == 16
    assert sum((once, "once") in r for r in responses) == 1
    assert all((always, "always") in r for r in responses)
    assert list(signal.receivers) == [always]


@pytest.mark.parametrize("kind", ["sync", "async", "thread"])
async def test_once_receiver_is_called_exactly_once_by_concurrent_tasks_and_threads(
    anyio_backend: Any, kind: str
) -> None:
    for _ in range(3):
        await race_for_a_once_receiver(kind)


@pytest.mark.parametrize("kind", ["sync", "async", "thread"])
@pytest.mark.parametrize("method", ["send", "asend"])
async def test_once_receiver_that_raises_is_still_removed(
    anyio_backend: Any, kind: str, method: str
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    failing = (
        make_async(log, "failing", raises=ValueError("failing"))
        if kind == "async"
        else make_sync(log, "failing", raises=ValueError("failing"))
    )
    signal.connect(failing, once=True, thread=kind == "thread" or None)

    async def send() -> Responses:
        if method == "send":
            return await anyio.to_thread.run_sync(signal.send, None)
        return await signal.asend(None)

    with pytest.raises(ValueError, match="failing"):
        await send()

    assert len(signal.receivers) == 0
    assert await signal.asend(None) == []
    assert log.count("failing") + log.count("failing:start") == 1


def test_once_registrations_count_as_listeners_until_consumed() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    sender = object()
    for_sender = make_sync(log, "for_sender")
    for_anyone = make_sync(log, "for_anyone")
    signal.connect(for_sender, sender=sender, once=True)

    assert signal.has_listeners(sender)
    assert not signal.has_listeners(None)
    assert len(signal.receivers) == 1
    assert list(signal.receivers) == [for_sender]
    assert for_sender in signal.receivers

    signal.connect(for_anyone, once=True)
    assert signal.has_listeners(None)
    assert len(signal.receivers) == 2

    assert signal.send(sender) == [
        (for_sender, "for_sender"),
        (for_anyone, "for_anyone"),
    ]
    assert not signal.has_listeners(sender)
    assert not signal.has_listeners(None)
    assert len(signal.receivers) == 0
    assert not signal.receivers


def test_disconnecting_a_once_receiver_before_any_send() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    once = make_sync(log, "once")
    signal.connect(once, once=True)
    signal.connect(once, once=True, dispatch_uid="uid")

    assert signal.disconnect(once)
    assert signal.disconnect(dispatch_uid="uid")
    assert not signal.disconnect(once)
    assert signal.send(None) == []
    assert log == []


# -- one registration, one policy ---------------------------------------------


async def test_duplicate_connect_keeps_the_first_registrations_policy(
    anyio_backend: Any,
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    loop_thread = threading.current_thread()
    threads: list[threading.Thread] = []

    def pooled(**kwargs: Any) -> None:
        threads.append(threading.current_thread())

    once = make_sync(log, "once")
    many = make_sync(log, "many")
    slow = sleeper(log, "slow")
    signal.connect(once, once=True)
    signal.connect(once)
    signal.connect(many)
    signal.connect(many, once=True)
    signal.connect(slow, timeout=0.02)
    signal.connect(slow, timeout=10)
    signal.connect(pooled, thread=True)
    signal.connect(pooled, thread=False)

    first = await signal.asend_robust(None)
    second = await signal.asend_robust(None)

    receivers: list[Callable[..., Any]] = [once, many, slow, pooled]
    assert [r for r, _ in first] == receivers
    assert [r for r, _ in second] == receivers[1:]
    assert isinstance(first[2][1], ReceiverTimeout)
    assert first[2][1].timeout == 0.02
    assert len(threads) == 2
    assert loop_thread not in threads


# -- WeakReceiverWarning ------------------------------------------------------


def _decorated(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(**kwargs: Any) -> Any:
        return func(**kwargs)

    return wrapper


class _Holder:
    def method(self, **kwargs: Any) -> None:
        pass


def _plain(**kwargs: Any) -> None:
    pass


def this_line() -> int:
    """The line number of the caller's current line."""
    frame = inspect.currentframe()
    assert frame is not None
    assert frame.f_back is not None
    return frame.f_back.f_lineno


def test_weak_receiver_warning_is_a_user_warning() -> None:
    assert issubclass(WeakReceiverWarning, UserWarning)


@pytest.mark.parametrize("kind", ["lambda", "partial", "partial-of-async"])
def test_connecting_a_lambda_or_partial_weakly_warns_at_the_callers_line(
    kind: str,
) -> None:
    signal = AsyncSignal()

    async def coroutine(value: int, **kwargs: Any) -> None:
        pass

    target: Callable[..., Any]
    if kind == "lambda":
        target = lambda **kwargs: None  # noqa: E731
    elif kind == "partial":
        target = functools.partial(lambda value, **kwargs: None, 1)
    else:
        target = functools.partial(coroutine, 1)

    line = this_line() + 2
    with pytest.warns(WeakReceiverWarning, match="weak") as record:
        signal.connect(target)

    (warning,) = record
    assert warning.filename == __file__
    assert warning.lineno == line


def test_receiver_decorator_with_a_partial_warns_at_the_callers_line() -> None:
    signal = AsyncSignal()
    target = functools.partial(_plain)

    with pytest.warns(WeakReceiverWarning) as record:
        receiver(signal)(target)

    (warning,) = record
    assert warning.filename == __file__


@pytest.mark.parametrize(
    "kind",
    [
        "function",
        "decorated",
        "bound-method",
        "lambda-strong",
        "partial-strong",
        "decorator",
        "decorator-with-policies",
    ],
)
def test_no_weak_receiver_warning_for_receivers_that_live_on(kind: str) -> None:
    signal = AsyncSignal()
    holder = _Holder()
    decorated = _decorated(_plain)

    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        if kind == "function":
            signal.connect(_plain)
        elif kind == "decorated":
            signal.connect(decorated)
        elif kind == "bound-method":
            signal.connect(holder.method)
        elif kind == "lambda-strong":
            signal.connect(lambda **kwargs: None, weak=False)
        elif kind == "partial-strong":
            signal.connect(functools.partial(_plain), weak=False)
        elif kind == "decorator":

            @receiver(signal)
            def handler(**kwargs: Any) -> None:
                pass

        else:

            @receiver(signal, thread=True, once=True)
            def handler(**kwargs: Any) -> None:
                pass

    assert record == []
    assert len(signal.receivers) == 1


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
