"""asend / asend_robust: concurrency, ordering, error isolation, cancellation.

Each shape of receiver list is covered because each takes a different path
through the dispatch engine: no receivers, only sync, one async, receivers that
never suspend, that suspend on their first step, and mixtures.

Every way of cancelling the caller, combined with every way a receiver can
behave meanwhile, is in test_cancellation_matrix.py.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from receivers import Rendezvous, make_async, make_sync
from support.backends import (
    ASYNCIO_BACKENDS,
    TRIO,
    UNRETRIEVED_EAGER_TASK_EXCEPTION,
    starts_receivers_eagerly,
)

from asyncsignal import AsyncSignal

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup, ExceptionGroup


class Fatal(BaseException):
    """A BaseException that is neither cancellation nor an Exception."""


async def cancel_when_set(event: anyio.Event, scope: anyio.CancelScope) -> None:
    await event.wait()
    scope.cancel()


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
    receiver = signal.connect(make_async(log, "a", suspend=True))
    assert await signal.asend(None) == [(receiver, "a")]
    assert log == ["a:start", "a:end"]


async def test_asend_runs_async_receivers_concurrently() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    # Each receiver waits until every receiver has started: this only
    # finishes if they run at the same time.
    all_five = Rendezvous(5)
    keep = [
        signal.connect(make_async(log, f"a{i}", wait_for=all_five)) for i in range(5)
    ]
    responses = await signal.asend(None)
    assert responses == [(r, f"a{i}") for i, r in enumerate(keep)]


async def test_asend_returns_responses_in_connection_order_not_completion_order() -> (
    None
):
    signal = AsyncSignal()
    log: list[str] = []
    # "slow" finishes only once "fast" has.
    fast_done = anyio.Event()
    slow = signal.connect(make_async(log, "slow", wait_for=fast_done))
    sync = signal.connect(make_sync(log, "sync"))
    fast = signal.connect(make_async(log, "fast", suspend=True, sets=fast_done))
    responses = await signal.asend(None)
    assert responses == [(slow, "slow"), (sync, "sync"), (fast, "fast")]


async def test_asend_isolates_one_failing_receiver_and_raises_its_error() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    error = ValueError("boom")
    failed = anyio.Event()
    keep = [
        signal.connect(make_async(log, "first", wait_for=failed)),
        signal.connect(
            make_async(log, "failing", suspend=True, sets=failed, raises=error)
        ),
        signal.connect(make_sync(log, "sync")),
        signal.connect(make_async(log, "last", wait_for=failed)),
    ]
    with pytest.raises(ValueError, match="boom") as caught:
        await signal.asend(None)
    assert caught.value is error
    # "first" and "last" were waiting when "failing" raised: neither was
    # cancelled nor skipped.
    expected = ["first:start", "first:end", "failing:start", "failing:end", "sync"]
    expected += ["last:start", "last:end"]
    assert sorted(log) == sorted(expected)
    assert list(signal.receivers) == keep


async def test_asend_raises_exception_group_in_connection_order() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    late = ValueError("late")
    early = KeyError("early")
    sync_error = RuntimeError("sync")
    # "late" raises only once "early" has.
    early_done = anyio.Event()

    def failing_sync(**kwargs: Any) -> None:
        raise sync_error

    keep = [
        signal.connect(make_async(log, "late", wait_for=early_done, raises=late)),
        signal.connect(failing_sync),
        signal.connect(
            make_async(log, "early", suspend=True, sets=early_done, raises=early)
        ),
        signal.connect(make_async(log, "ok", suspend=True)),
    ]
    with pytest.raises(ExceptionGroup) as caught:
        await signal.asend(None)
    assert caught.value.exceptions == (late, sync_error, early)
    assert str(caught.value).startswith("3 receivers raised in asend()")
    assert "ok:end" in log
    assert list(signal.receivers) == keep


async def test_asend_robust_turns_errors_into_responses_and_logs_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    error = ValueError("robust")

    def failing_sync(**kwargs: Any) -> None:
        raise TypeError("sync robust")

    failing = signal.connect(make_async(log, "failing", suspend=True, raises=error))
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


async def test_asend_robust_propagates_base_exceptions_from_sync_receivers(
    anyio_backend: Any,
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    started = anyio.Event()
    finished = anyio.Event()

    async def slow(**kwargs: Any) -> None:
        started.set()
        try:
            await anyio.sleep_forever()
        finally:
            finished.set()

    def interrupt(**kwargs: Any) -> None:
        raise KeyboardInterrupt

    signal.connect(slow)
    signal.connect(interrupt)
    signal.connect(never_reached := make_async(log, "never_reached"))
    # Raised as itself on every backend, not wrapped in an exception group.
    with pytest.raises(KeyboardInterrupt):
        await signal.asend_robust(None)
    # Where tasks start eagerly, the receiver already started was cancelled
    # and awaited; elsewhere it was closed before its first step, so its body
    # never ran. The receiver after the interruption was never called.
    eager = starts_receivers_eagerly(anyio_backend)
    assert (started.is_set(), finished.is_set()) == (eager, eager)
    assert log == []
    assert never_reached in signal.receivers


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
        keep.append(signal.connect(make_async(log, f"a{i}", suspend=True)))
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


@pytest.mark.parametrize("async_receivers", [1, 2])
async def test_asend_cancels_and_awaits_receivers_when_caller_is_cancelled(
    async_receivers: int,
) -> None:
    signal = AsyncSignal()
    started: list[str] = []
    cleaned: list[str] = []
    all_running = anyio.Event()

    def make_receiver(name: str) -> Any:
        async def receiver(**kwargs: Any) -> None:
            started.append(name)
            if len(started) == async_receivers:
                all_running.set()
            try:
                await anyio.sleep_forever()
            finally:
                with anyio.CancelScope(shield=True):
                    await anyio.lowlevel.checkpoint()  # cleanup that awaits
                cleaned.append(name)

        return receiver

    keep = [signal.connect(make_sync([], "sync"))]
    keep += [signal.connect(make_receiver(f"a{i}")) for i in range(async_receivers)]
    async with anyio.create_task_group() as group:
        with anyio.CancelScope() as scope:
            group.start_soon(cancel_when_set, all_running, scope)
            await signal.asend(None)
    assert scope.cancelled_caught
    assert (
        sorted(cleaned) == sorted(started) == [f"a{i}" for i in range(async_receivers)]
    )
    assert list(signal.receivers) == keep


async def test_receivers_may_resend_disconnect_themselves_and_connect_others() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    late = make_sync(log, "late")
    nested: list[tuple[Any, Any]] = []

    def sync_once(depth: int = 0, **kwargs: Any) -> str:
        log.append(f"sync_once:{depth}")
        signal.disconnect(sync_once)
        return "sync_once"

    async def resender(depth: int = 0, **kwargs: Any) -> str:
        log.append(f"resender:{depth}")
        if depth == 0:
            signal.connect(late)
            nested.extend(await signal.asend_robust(None, depth=1))
        return "resender"

    signal.connect(sync_once)
    signal.connect(resender)
    first = await signal.asend(None)
    # The running dispatch keeps the receivers it started with; the nested
    # one already sees sync_once gone and late connected.
    assert first == [(sync_once, "sync_once"), (resender, "resender")]
    assert nested == [(resender, "resender"), (late, "late")]
    assert log[:2] == ["sync_once:0", "resender:0"]
    # In which order async and sync receivers first run is the backend's.
    assert sorted(log[2:]) == ["late", "resender:1"]
    second = await signal.asend(None, depth=1)
    assert second == [(resender, "resender"), (late, "late")]


async def test_asend_returns_awaitable_from_sync_receiver_unawaited() -> None:
    """A sync receiver's return value is its response, even an awaitable."""
    signal = AsyncSignal()
    result = object()

    class Awaitable:
        def __await__(self) -> Any:
            yield from ()
            return result

    value = Awaitable()

    def sync(**kwargs: Any) -> Awaitable:
        return value

    signal.connect(sync)
    assert await signal.asend(None) == [(sync, value)]
    assert await value is result  # still there to be awaited


async def test_asend_robust_raises_a_receivers_base_exception_as_itself() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    fatal = Fatal("stop")

    async def raises_fatal(**kwargs: Any) -> None:
        raise fatal

    keep = [signal.connect(raises_fatal), signal.connect(make_async(log, "ok"))]
    with pytest.raises(Fatal) as caught:
        await signal.asend_robust(None)
    assert caught.value is fatal
    # "ok" was cancelled before its first step, or (on trio, which may run
    # it first) had finished without suspending: never half-run.
    assert log in ([], ["ok:start", "ok:end"])
    assert list(signal.receivers) == keep


#: Where an async receiver's KeyboardInterrupt can reach asend: raised in its
#: first step (asyncio starts receivers eagerly), or on trio.
_INTERRUPTIBLE_BACKENDS = [
    pytest.param(*backend.values, id=backend.id, marks=UNRETRIEVED_EAGER_TASK_EXCEPTION)
    for backend in ASYNCIO_BACKENDS
] + [TRIO]


@pytest.mark.parametrize("anyio_backend", _INTERRUPTIBLE_BACKENDS)
@pytest.mark.parametrize(
    "interrupt",
    [KeyboardInterrupt, SystemExit],
    ids=["KeyboardInterrupt", "SystemExit"],
)
async def test_asend_raises_an_async_receivers_interrupt_as_itself(
    anyio_backend: Any, interrupt: type[BaseException]
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    error = interrupt()
    keep = [
        signal.connect(make_async(log, "interrupted", raises=error)),
        signal.connect(make_sync(log, "sync")),
    ]
    with pytest.raises(interrupt) as caught:
        await signal.asend(None)
    assert caught.value is error
    # Started eagerly, it interrupts asend before the sync receiver's turn; on
    # trio it runs once the sync receiver has.
    interrupted = ["interrupted:start", "interrupted:end"]
    assert log == (
        ["sync", *interrupted] if anyio_backend == TRIO.values[0] else interrupted
    )
    assert list(signal.receivers) == keep


async def test_asend_cancels_other_receivers_when_one_raises_a_base_exception() -> None:
    signal = AsyncSignal()
    fatal = Fatal("stop")
    cancelled: list[str] = []
    slow_running = anyio.Event()

    async def raises_when_slow_runs(**kwargs: Any) -> None:
        await slow_running.wait()
        raise fatal

    async def slow(**kwargs: Any) -> None:
        slow_running.set()
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            cancelled.append("slow")
            raise

    signal.connect(raises_when_slow_runs)
    signal.connect(slow)
    with pytest.raises(Fatal) as caught:
        await signal.asend(None)
    assert caught.value is fatal
    assert cancelled == ["slow"]


@pytest.mark.parametrize("anyio_backend", [TRIO])
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
    keep = [
        signal.connect(make_sync(log, "fatal_sync", raises=Fatal("stop"))),
        signal.connect(make_async(log, "later")),
    ]
    with pytest.raises(Fatal):
        await signal.asend(None)
    assert log == ["fatal_sync"]
    assert list(signal.receivers) == keep


def test_asend_outside_an_async_task_is_a_runtime_error() -> None:
    signal = AsyncSignal()

    async def receiver(**kwargs: Any) -> None:
        """Never called."""

    signal.connect(receiver)
    coroutine = signal.asend(None)
    with pytest.raises(RuntimeError, match="asyncio or trio task"):
        coroutine.send(None)


@pytest.mark.parametrize("limit", [None, 5.0])
async def test_receiver_tasks_are_named_after_their_receiver(
    limit: float | None,
) -> None:
    signal = AsyncSignal()
    names: list[str] = []

    async def named_receiver(**kwargs: Any) -> None:
        await anyio.lowlevel.checkpoint()
        name = anyio.get_current_task().name
        assert name is not None
        names.append(name)

    signal.connect(named_receiver, timeout=limit)
    await signal.asend(None)
    (name,) = names
    assert named_receiver.__qualname__ in name


async def test_asend_skips_a_receiver_that_dies_during_the_dispatch() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    later = [make_sync(log, "later")]  # the only strong reference

    def drop_later(**kwargs: Any) -> str:
        later.clear()
        return "dropped"

    signal.connect(drop_later, weak=False)
    signal.connect(later[0])
    last = signal.connect(make_async(log, "last"), weak=False)
    assert await signal.asend(None) == [(drop_later, "dropped"), (last, "last")]
    assert "later" not in log
