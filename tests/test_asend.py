"""asend / asend_robust: concurrency, ordering, error isolation, cancellation.

Each shape of receiver list is covered because each takes a different path
through the dispatch engine: no receivers, only sync, one async, receivers that
never suspend, that suspend on their first step, and mixtures.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import anyio
import pytest
from receivers import make_async, make_sync

from asyncsignal import AsyncSignal

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup, ExceptionGroup

pytestmark = pytest.mark.anyio


async def test_asend_with_no_receivers_returns_empty_list() -> None:
    assert await AsyncSignal().asend(None) == []
    assert await AsyncSignal().asend_robust(None) == []


async def test_asend_passes_signal_sender_and_payload() -> None:
    signal = AsyncSignal()
    seen: list[dict[str, Any]] = []

    async def receiver(**kwargs: Any) -> None:
        seen.append(kwargs)

    signal.connect(receiver)
    sender = object()
    await signal.asend(sender, x=1, y="two")
    assert seen == [{"signal": signal, "sender": sender, "x": 1, "y": "two"}]


async def test_asend_with_only_sync_receivers_calls_them_in_order() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    receivers = [signal.connect(make_sync(log, f"s{i}")) for i in range(3)]
    responses = await signal.asend(None)
    assert responses == [(r, f"s{i}") for i, r in enumerate(receivers)]
    assert log == ["s0", "s1", "s2"]


async def test_asend_with_one_async_receiver_returns_its_response() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    receiver = signal.connect(make_async(log, "a", delay=0))
    assert await signal.asend(None) == [(receiver, "a")]
    assert log == ["a:start", "a:end"]


async def test_asend_runs_async_receivers_concurrently() -> None:
    signal = AsyncSignal()
    started = 0
    all_started = anyio.Event()

    async def receiver(**kwargs: Any) -> int:
        # Each receiver waits until every receiver has started: this only
        # finishes if they run at the same time.
        nonlocal started
        started += 1
        if started == 5:
            all_started.set()
        await all_started.wait()
        return started

    keep = [signal.connect(_clone(receiver)) for _ in range(5)]
    with anyio.fail_after(5):
        responses = await signal.asend(None)
    assert [r for r, _ in responses] == keep
    assert [response for _, response in responses] == [5] * 5


def _clone(function: Any) -> Any:
    """A distinct receiver object with the same code (one registration each)."""

    async def clone(**kwargs: Any) -> Any:
        return await function(**kwargs)

    return clone


async def test_asend_returns_responses_in_connection_order_not_completion_order() -> (
    None
):
    signal = AsyncSignal()
    log: list[str] = []
    slow = signal.connect(make_async(log, "slow", delay=0.05))
    sync = signal.connect(make_sync(log, "sync"))
    fast = signal.connect(make_async(log, "fast", delay=0))
    responses = await signal.asend(None)
    assert responses == [(slow, "slow"), (sync, "sync"), (fast, "fast")]
    assert log.index("fast:end") < log.index("slow:end")


async def test_asend_isolates_one_failing_receiver_and_raises_its_error() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    error = ValueError("boom")
    keep = [
        signal.connect(make_async(log, "first", delay=0.01)),
        signal.connect(make_async(log, "failing", raises=error)),
        signal.connect(make_sync(log, "sync")),
        signal.connect(make_async(log, "last", delay=0.02)),
    ]
    with pytest.raises(ValueError, match="boom") as caught:
        await signal.asend(None)
    assert caught.value is error
    # Nobody was cancelled or skipped.
    expected = ["first:start", "first:end", "failing:start", "failing:end", "sync"]
    expected += ["last:start", "last:end"]
    assert sorted(log) == sorted(expected)
    assert len(signal.receivers) == len(keep)


async def test_asend_raises_exception_group_in_connection_order() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    late = ValueError("late")
    early = KeyError("early")
    sync_error = RuntimeError("sync")

    def failing_sync(**kwargs: Any) -> None:
        raise sync_error

    keep = [
        signal.connect(make_async(log, "late", delay=0.03, raises=late)),
        signal.connect(failing_sync),
        signal.connect(make_async(log, "early", delay=0, raises=early)),
        signal.connect(make_async(log, "ok", delay=0.01)),
    ]
    with pytest.raises(ExceptionGroup) as caught:
        await signal.asend(None)
    assert caught.value.exceptions == (late, sync_error, early)
    assert "ok:end" in log
    assert len(signal.receivers) == len(keep)


async def test_asend_robust_turns_errors_into_responses_and_logs_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    error = ValueError("robust")

    def failing_sync(**kwargs: Any) -> None:
        raise TypeError("sync robust")

    failing = signal.connect(make_async(log, "failing", delay=0, raises=error))
    ok = signal.connect(make_async(log, "ok"))
    sync = signal.connect(failing_sync)
    with caplog.at_level(logging.ERROR, logger="asyncsignal"):
        responses = await signal.asend_robust(None)
    assert responses[0] == (failing, error)
    assert responses[1] == (ok, "ok")
    assert responses[2][0] is sync
    assert isinstance(responses[2][1], TypeError)
    assert error.__traceback__ is not None
    records = [r for r in caplog.records if r.name == "asyncsignal"]
    assert [r.levelno for r in records] == [logging.ERROR, logging.ERROR]
    assert "failing" in records[0].getMessage()
    assert "asend_robust" in records[0].getMessage()
    assert records[0].exc_info is not None
    assert records[0].exc_info[1] is error
    assert "failing_sync" in records[1].getMessage()


async def test_asend_robust_propagates_base_exceptions_from_sync_receivers() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    started = anyio.Event()
    finished = anyio.Event()

    async def slow(**kwargs: Any) -> None:
        started.set()
        try:
            await anyio.sleep(10)
        finally:
            finished.set()

    def interrupt(**kwargs: Any) -> None:
        raise KeyboardInterrupt

    never_reached = make_async(log, "never_reached")
    signal.connect(slow)
    signal.connect(interrupt)
    signal.connect(never_reached)
    # Raised as itself on every backend, not wrapped in an exception group.
    with pytest.raises(KeyboardInterrupt):
        await signal.asend_robust(None)
    # The receiver already started was cancelled and awaited (without eager
    # tasks it is cancelled before its first step, so its body never runs);
    # the one after the interruption was never called.
    assert finished.is_set() == started.is_set()
    assert log == []


async def test_asend_receivers_that_never_suspend_all_complete() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    keep = [signal.connect(make_async(log, f"a{i}")) for i in range(10)]
    responses = await signal.asend(None)
    assert responses == [(r, f"a{i}") for i, r in enumerate(keep)]
    assert sorted(log) == sorted(
        [f"a{i}:start" for i in range(10)] + [f"a{i}:end" for i in range(10)]
    )


async def test_asend_mixed_sync_and_async_receivers_start_in_connection_order(
    anyio_backend: Any,
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    keep = []
    for i in range(5):
        keep.append(signal.connect(make_sync(log, f"s{i}")))
        keep.append(signal.connect(make_async(log, f"a{i}", delay=0)))
    responses = await signal.asend(None)
    assert [r for r, _ in responses] == keep
    assert [response for _, response in responses] == [
        name for i in range(5) for name in (f"s{i}", f"a{i}")
    ]
    # Sync receivers run in order; each async receiver starts in order.
    assert [e for e in log if e.startswith("s")] == [f"s{i}" for i in range(5)]
    starts = [e for e in log if e.endswith(":start")]
    if anyio_backend[0] == "asyncio":
        assert starts == [f"a{i}:start" for i in range(5)]
    else:
        # Tasks are spawned in order, but trio deliberately randomizes the
        # order in which new tasks first run.
        assert sorted(starts) == [f"a{i}:start" for i in range(5)]


async def test_asend_skips_receivers_that_died_before_it_started(
    collect: Any,
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    kept = signal.connect(make_async(log, "kept"))
    signal.connect(make_async(log, "dead"))
    collect()
    assert await signal.asend(None) == [(kept, "kept")]
    assert log == ["kept:start", "kept:end"]


async def test_asend_cancels_and_awaits_receivers_when_caller_is_cancelled() -> None:
    signal = AsyncSignal()
    cleaned: list[str] = []
    running = anyio.Event()

    async def receiver(**kwargs: Any) -> None:
        running.set()
        try:
            await anyio.sleep(10)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.sleep(0.01)
            cleaned.append("cleaned")

    clone = signal.connect(_clone(receiver))
    signal.connect(receiver)
    with anyio.move_on_after(0.05) as scope:
        await signal.asend(None)
    assert scope.cancelled_caught
    assert cleaned == ["cleaned", "cleaned"]
    assert len(signal.receivers) == 2, clone


async def test_asend_fail_after_raises_timeout_error_after_cleanup() -> None:
    signal = AsyncSignal()
    cleaned: list[str] = []

    async def receiver(**kwargs: Any) -> None:
        try:
            await anyio.sleep(10)
        finally:
            cleaned.append("cleaned")

    signal.connect(receiver)
    with pytest.raises(TimeoutError), anyio.fail_after(0.02):
        await signal.asend(None)
    assert cleaned == ["cleaned"]


async def test_asend_cancelled_single_async_receiver_is_cleaned_up() -> None:
    signal = AsyncSignal()
    cleaned: list[str] = []

    async def receiver(**kwargs: Any) -> None:
        try:
            await anyio.sleep(10)
        finally:
            cleaned.append("cleaned")

    def sync_receiver(**kwargs: Any) -> str:
        return "sync"

    signal.connect(sync_receiver)
    signal.connect(receiver)
    with anyio.move_on_after(0.02):
        await signal.asend(None)
    assert cleaned == ["cleaned"]


async def test_asend_logs_errors_raised_by_receivers_while_being_cancelled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    signal = AsyncSignal()

    async def stubborn(**kwargs: Any) -> None:
        try:
            await anyio.sleep(10)
        finally:
            raise ValueError("raised during cancellation")

    signal.connect(stubborn)
    with caplog.at_level(logging.ERROR, logger="asyncsignal"):
        with anyio.move_on_after(0.02) as scope:
            await signal.asend(None)
    assert scope.cancelled_caught
    records = [r for r in caplog.records if r.name == "asyncsignal"]
    assert len(records) == 1
    assert "stubborn" in records[0].getMessage()
    assert "aborted" in records[0].getMessage()
    assert records[0].exc_info is not None
    assert str(records[0].exc_info[1]) == "raised during cancellation"


async def test_asend_receiver_may_resend_and_reconnect_during_dispatch() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    late = make_sync(log, "late")

    async def reentrant(depth: int = 0, **kwargs: Any) -> str:
        log.append(f"reentrant:{depth}")
        if depth == 0:
            signal.disconnect(reentrant)
            signal.connect(late)
            # The nested send sees the changes already.
            nested = await signal.asend(None, depth=1)
            assert [r for r, _ in nested] == [late]
        return "done"

    signal.connect(reentrant)
    first = await signal.asend(None)
    assert first == [(reentrant, "done")]
    second = await signal.asend(None)
    assert second == [(late, "late")]
    assert log == ["reentrant:0", "late", "late"]


async def test_asend_returns_awaitable_from_sync_receiver_unawaited() -> None:
    """A sync receiver's return value is its response, even an awaitable."""
    signal = AsyncSignal()
    future_like = object()

    class Awaitable:
        def __await__(self) -> Any:
            yield from ()
            return future_like

    value = Awaitable()

    def sync(**kwargs: Any) -> Awaitable:
        return value

    signal.connect(sync)
    assert await signal.asend(None) == [(sync, value)]


class Fatal(BaseException):
    """A BaseException that is neither cancellation nor an Exception."""


async def test_asend_raises_a_receivers_base_exception_as_itself() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    fatal = Fatal("stop")

    async def raises_fatal(**kwargs: Any) -> None:
        raise fatal

    keep = [signal.connect(raises_fatal), signal.connect(make_async(log, "ok"))]
    with pytest.raises(Fatal) as caught:
        await signal.asend_robust(None)
    assert caught.value is fatal
    assert len(keep) == 2


async def test_asend_cancels_other_receivers_when_one_raises_a_base_exception() -> None:
    signal = AsyncSignal()
    fatal = Fatal("stop")
    cancelled: list[str] = []

    async def raises_later(**kwargs: Any) -> None:
        await anyio.sleep(0.01)
        raise fatal

    async def slow(**kwargs: Any) -> None:
        try:
            await anyio.sleep(10)
        except anyio.get_cancelled_exc_class():
            cancelled.append("slow")
            raise

    signal.connect(raises_later)
    signal.connect(slow)
    with anyio.fail_after(5), pytest.raises(Fatal) as caught:
        await signal.asend(None)
    assert caught.value is fatal
    assert cancelled == ["slow"]


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_asend_groups_base_exceptions_from_several_receivers_on_trio() -> None:
    """trio has spawned every receiver before any runs; two that raise before
    their first checkpoint both raise. On asyncio the first aborts the rest."""
    signal = AsyncSignal()
    first, second = Fatal("first"), Fatal("second")

    async def raises_first(**kwargs: Any) -> None:
        raise first

    async def raises_second(**kwargs: Any) -> None:
        raise second

    signal.connect(raises_first)
    signal.connect(raises_second)
    with pytest.raises(BaseExceptionGroup) as caught:
        await signal.asend(None)
    assert sorted(caught.value.exceptions, key=str) == [first, second]


async def test_asend_stops_starting_receivers_after_a_base_exception() -> None:
    signal = AsyncSignal()
    log: list[str] = []

    def fatal_sync(**kwargs: Any) -> None:
        raise Fatal("stop")

    later = make_async(log, "later")
    signal.connect(fatal_sync)
    signal.connect(later)
    with pytest.raises(Fatal):
        await signal.asend(None)
    assert log == []


def test_asend_outside_an_async_task_is_a_runtime_error() -> None:
    signal = AsyncSignal()

    async def receiver(**kwargs: Any) -> None:
        """Never called."""

    signal.connect(receiver)
    coroutine = signal.asend(None)
    with pytest.raises(RuntimeError, match="asyncio or trio task"):
        coroutine.send(None)
