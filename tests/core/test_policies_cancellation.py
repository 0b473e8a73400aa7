"""Cancellation with execution policies, on every backend.

First, anyio cancel scopes inside receivers: on asyncio they behave as they
would under an anyio task group (a shield holds against the caller's
cancellation and against the receiver's own ``timeout=``, and the cancellation
is delivered once the shield exits), as they do on trio.

Then the cancellation matrix extended to policies: the caller cancelled while
a ``thread=True`` receiver blocks, while a receiver with a timeout runs or is
timing out, while a ``once`` receiver runs; and a scope cancelled before
``asend`` starts. After each case nothing is left running and nothing that a
receiver raised is lost.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest
import trio
from receivers import GENEROUS, Arrivals, Blocker, records_of, sleeper

from asyncsignal import AsyncSignal, ReceiverTimeout

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable


#: How the caller of ``asend`` is cancelled: an anyio deadline, an anyio
#: ``scope.cancel()``, or the backend's own way (``Task.cancel()`` on asyncio,
#: a trio cancel scope on trio).
MECHANISMS = ["deadline", "scope.cancel", "native"]

#: A short receiver timeout that still lets the receiver start before it
#: fires (before 3.12, asyncio starts receiver tasks only once asend waits).
SHORT_TIMEOUT = 0.03
#: Longer than SHORT_TIMEOUT: shielded work that must outlast it.
SHIELDED_WORK = 0.06
#: A receiver timeout no run reaches: a test that must not wait for it fails
#: at GENEROUS (fail_after) long before.
LONG = 60.0


# -- helpers ------------------------------------------------------------------


async def cancel_caller(
    mechanism: str,
    backend: str,
    call: Callable[[], Awaitable[Any]],
    ready: Callable[[], Awaitable[Any]],
    then: Callable[[], object] = lambda: None,
) -> None:
    """Run ``call`` and cancel it with ``mechanism`` once ``ready`` returns,
    then call ``then``; assert the caller sees exactly that cancellation."""
    with anyio.fail_after(GENEROUS):
        if mechanism == "native" and backend == "asyncio":
            task: asyncio.Future[Any] = asyncio.ensure_future(call())
            await ready()
            task.cancel()
            then()
            with pytest.raises(asyncio.CancelledError):
                await task
        elif mechanism == "native":
            with trio.CancelScope() as trio_scope:
                async with trio.open_nursery() as nursery:

                    async def cancel_trio_scope() -> None:
                        await ready()
                        trio_scope.cancel()
                        then()

                    nursery.start_soon(cancel_trio_scope)
                    await call()
            assert trio_scope.cancelled_caught
        else:
            async with anyio.create_task_group() as group:
                with anyio.move_on_after(GENEROUS) as scope:

                    async def cancel_scope() -> None:
                        await ready()
                        if mechanism == "deadline":
                            scope.deadline = anyio.current_time()
                        else:
                            scope.cancel()
                        then()

                    group.start_soon(cancel_scope)
                    await call()
            assert scope.cancelled_caught


def shielded(
    log: list[str],
    name: str,
    running: Arrivals | None = None,
    until: anyio.Event | None = None,
) -> Any:
    """An async receiver whose shielded work (``SHIELDED_WORK`` seconds, or
    until ``until`` is set) outlasts the cancellation; after the shield it
    reaches a checkpoint and must not get past it."""

    async def receiver(**kwargs: Any) -> str:
        with anyio.CancelScope(shield=True):
            if running is not None:
                running.arrive()
            if until is None:
                await anyio.sleep(SHIELDED_WORK)
            else:
                await until.wait()
            log.append(f"{name}:shielded work done")
        await anyio.lowlevel.checkpoint()
        log.append(f"{name}:after the shield")
        return "never"

    receiver.__qualname__ = name
    return receiver


# -- anyio cancel scopes inside receivers ---------------------------------------


def receiver_with_scopes(
    behaviour: str, log: list[str], running: Arrivals, until: anyio.Event | None
) -> Any:
    """A receiver that uses anyio cancel scopes as ``behaviour`` says; its
    shielded work takes ``SHIELDED_WORK`` seconds, or lasts until ``until``
    is set."""

    async def work() -> None:
        if until is None:
            await anyio.sleep(SHIELDED_WORK)
        else:
            await until.wait()

    async def shielded_child() -> None:
        with anyio.CancelScope(shield=True):
            running.arrive()
            await work()
            log.append("child:shielded work done")
        await anyio.lowlevel.checkpoint()
        log.append("child:after the shield")

    async def plain_child() -> None:
        running.arrive()
        try:
            await anyio.sleep(10)
        finally:
            log.append("child:cancelled")

    async def receiver(**kwargs: Any) -> str:
        if behaviour == "shield":
            with anyio.CancelScope(shield=True):
                running.arrive()
                await work()
                log.append("shielded work done")
            await anyio.lowlevel.checkpoint()
            log.append("after the shield")
        elif behaviour == "shield-in-scope":
            with anyio.CancelScope():
                with anyio.CancelScope(shield=True):
                    running.arrive()
                    await work()
                    log.append("shielded work done")
                await anyio.lowlevel.checkpoint()
                log.append("after the shield")
            log.append("after the outer scope")
        else:
            async with anyio.create_task_group() as group:
                group.start_soon(plain_child)
                group.start_soon(shielded_child)
                running.arrive()
                await anyio.sleep(10)
            log.append("after the task group")
        return "never"

    return receiver


EXPECTED_LOGS = {
    "shield": ["shielded work done"],
    "shield-in-scope": ["shielded work done"],
    "task-group": ["child:cancelled", "child:shielded work done"],
}


@pytest.mark.parametrize("mechanism", [*MECHANISMS, "timeout"])
@pytest.mark.parametrize("behaviour", list(EXPECTED_LOGS))
async def test_anyio_scopes_in_receivers_hold_and_then_deliver_the_cancellation(
    anyio_backend: Any, behaviour: str, mechanism: str
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    running = Arrivals(3 if behaviour == "task-group" else 1)
    # Against a caller's cancellation, the shielded work ends only once the
    # caller has been cancelled; against a timeout, it outlasts the limit.
    caller_cancelled = None if mechanism == "timeout" else anyio.Event()
    receiver = receiver_with_scopes(behaviour, log, running, caller_cancelled)

    if mechanism == "timeout":
        signal.connect(receiver, timeout=SHORT_TIMEOUT)
        with anyio.fail_after(GENEROUS):
            responses = await signal.asend_robust(None)
        ((_, outcome),) = responses
        assert isinstance(outcome, ReceiverTimeout)
        assert outcome.receiver is receiver
    else:
        assert caller_cancelled is not None
        signal.connect(receiver)
        await cancel_caller(
            mechanism,
            anyio_backend[0],
            lambda: signal.asend(None),
            running.all_arrived.wait,
            then=caller_cancelled.set,
        )

    # The shielded work finished before asend returned; the cancellation was
    # delivered after it, at the next checkpoint.
    assert sorted(log) == EXPECTED_LOGS[behaviour]


@pytest.mark.parametrize("mechanism", MECHANISMS)
async def test_timeout_fires_inside_a_shield_after_the_caller_was_cancelled(
    anyio_backend: Any, mechanism: str
) -> None:
    """Both cancellations reach a shielded receiver; neither cuts its work."""
    signal = AsyncSignal()
    log: list[str] = []
    running = Arrivals(1)
    receiver = shielded(log, "receiver", running)
    signal.connect(receiver, timeout=SHIELDED_WORK / 2)

    await cancel_caller(
        mechanism,
        anyio_backend[0],
        lambda: signal.asend(None),
        running.all_arrived.wait,
    )

    assert log == ["receiver:shielded work done"]


async def run_stubborn_receiver(
    mechanism: str, backend: str, scoped: bool, second_wait: float
) -> list[str]:
    """Cancel a receiver (by ``mechanism``) that absorbs the cancellation and
    waits again; return what it logged."""
    signal = AsyncSignal()
    log: list[str] = []
    running = Arrivals(1)

    async def absorb_then_wait() -> str:
        running.arrive()
        try:
            await anyio.sleep(10)
        except anyio.get_cancelled_exc_class():
            log.append("absorbed")
        await anyio.sleep(second_wait)
        log.append("ran on")
        return "ran on"

    async def stubborn(**kwargs: Any) -> str:
        if scoped:
            with anyio.CancelScope():
                return await absorb_then_wait()
        return await absorb_then_wait()

    if mechanism == "timeout":
        signal.connect(stubborn, timeout=SHORT_TIMEOUT)
        ((_, outcome),) = await signal.asend_robust(None)
        # Its outcome is its value if it ran on, else the timeout.
        if log == ["absorbed", "ran on"]:
            assert outcome == "ran on"
        else:
            assert isinstance(outcome, ReceiverTimeout)
    else:
        signal.connect(stubborn)
        await cancel_caller(
            mechanism, backend, lambda: signal.asend(None), running.all_arrived.wait
        )
    return log


@pytest.mark.parametrize("mechanism", ["timeout", "scope.cancel"])
async def test_receiver_in_an_anyio_scope_absorbing_the_cancellation_gets_it_again(
    anyio_backend: Any, mechanism: str
) -> None:
    """Inside an anyio scope, cancellation is level-triggered on every backend,
    as in an anyio task group: a receiver that absorbs it and waits again is
    cancelled again, so it neither outlives its timeout nor keeps a cancelled
    asend waiting."""
    log = await run_stubborn_receiver(
        mechanism, anyio_backend[0], scoped=True, second_wait=0.3
    )

    assert log == ["absorbed"]


@pytest.mark.parametrize("mechanism", ["timeout", "scope.cancel"])
async def test_receiver_outside_anyio_scopes_gets_its_backends_own_cancellation(
    anyio_backend: Any, mechanism: str
) -> None:
    """Outside anyio scopes a receiver gets its backend's semantics: on trio
    cancellation is level-triggered (cancelled again at its next wait); on
    asyncio it is delivered once, as asyncio code expects (an
    ``asyncio.shield``-ed cleanup is not interrupted again), so a receiver that
    absorbs it runs on, past its timeout, and its value is its outcome."""
    log = await run_stubborn_receiver(
        mechanism, anyio_backend[0], scoped=False, second_wait=0.02
    )

    if anyio_backend[0] == "asyncio":
        assert log == ["absorbed", "ran on"]
    else:
        assert log == ["absorbed"]


# -- the caller cancelled while a thread receiver blocks --------------------------


@pytest.mark.parametrize("robust", [False, True], ids=["asend", "asend_robust"])
@pytest.mark.parametrize("mechanism", MECHANISMS)
async def test_caller_cancelled_while_a_thread_receiver_blocks(
    anyio_backend: Any,
    mechanism: str,
    robust: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    blocker = Blocker()
    running = Arrivals(2)

    async def ready() -> None:
        await running.all_arrived.wait()
        await blocker.wait_entered()

    def inline(**kwargs: Any) -> str:
        log.append("inline")
        return "inline"

    # The shielded work ends only once the caller has been cancelled.
    caller_cancelled = anyio.Event()
    plain = sleeper(log, "plain", running)
    shield = shielded(log, "shield", running, until=caller_cancelled)
    signal.connect(inline)
    signal.connect(blocker, thread=True)
    signal.connect(plain)
    signal.connect(shield)
    send = signal.asend_robust if robust else signal.asend

    try:
        with caplog.at_level(logging.ERROR, logger="asyncsignal"):
            await cancel_caller(
                mechanism,
                anyio_backend[0],
                lambda: send(None),
                ready,
                then=caller_cancelled.set,
            )
        # asend stopped waiting for the thread, which is still blocked...
        assert not blocker.finished.is_set()
        # ...and nothing else was lost: the others were cancelled as usual.
        assert sorted(log) == [
            "inline",
            "plain:cancelled",
            "plain:start",
            "shield:shielded work done",
        ]
        assert records_of(caplog) == []
    finally:
        await blocker.release_and_join()


# -- the caller cancelled while a receiver has a timeout ----------------------------


@pytest.mark.parametrize("robust", [False, True], ids=["asend", "asend_robust"])
@pytest.mark.parametrize("mechanism", MECHANISMS)
async def test_caller_cancelled_before_a_receivers_timeout_fires(
    anyio_backend: Any,
    mechanism: str,
    robust: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The caller's cancellation is what propagates: no ReceiverTimeout is
    raised, returned or logged for a timeout that never fired."""
    signal = AsyncSignal()
    log: list[str] = []
    running = Arrivals(2)
    signal.connect(sleeper(log, "timed", running), timeout=GENEROUS, weak=False)
    signal.connect(sleeper(log, "other", running), weak=False)
    send = signal.asend_robust if robust else signal.asend

    with caplog.at_level(logging.ERROR, logger="asyncsignal"):
        await cancel_caller(
            mechanism, anyio_backend[0], lambda: send(None), running.all_arrived.wait
        )

    assert sorted(log) == [
        "other:cancelled",
        "other:start",
        "timed:cancelled",
        "timed:start",
    ]
    assert records_of(caplog) == []


@pytest.mark.parametrize("mechanism", MECHANISMS)
async def test_caller_cancelled_while_a_timed_out_receiver_is_in_its_shielded_part(
    anyio_backend: Any, mechanism: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The receiver's cleanup finishes and the caller sees its own
    cancellation. The receiver had not finished when the caller was cancelled,
    so its end is that cancellation (as trio decides: a cancelled enclosing
    scope takes precedence): nothing is raised, returned or logged for it."""
    signal = AsyncSignal()
    log: list[str] = []
    in_cleanup = anyio.Event()
    caller_cancelled = anyio.Event()

    async def timed(**kwargs: Any) -> str:
        try:
            await anyio.sleep(10)
        finally:
            with anyio.CancelScope(shield=True):
                in_cleanup.set()
                await caller_cancelled.wait()
                log.append("timed:cleanup done")
        return "never"

    other = sleeper(log, "other")
    signal.connect(timed, timeout=SHORT_TIMEOUT)
    signal.connect(other)

    with caplog.at_level(logging.ERROR, logger="asyncsignal"):
        await cancel_caller(
            mechanism,
            anyio_backend[0],
            lambda: signal.asend(None),
            in_cleanup.wait,
            then=caller_cancelled.set,
        )

    assert sorted(log) == ["other:cancelled", "other:start", "timed:cleanup done"]
    assert records_of(caplog) == []


async def test_receiver_timeout_displaced_by_the_callers_cancellation_is_logged(
    anyio_backend: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A receiver that timed out, and one that failed, before the caller was
    cancelled: both outcomes are logged as aborted, like any displaced error."""
    signal = AsyncSignal()
    log: list[str] = []
    timed_out = anyio.Event()

    async def timed(**kwargs: Any) -> str:
        try:
            await anyio.sleep(10)
        finally:
            timed_out.set()
        return "never"

    async def failing(**kwargs: Any) -> str:
        await timed_out.wait()
        raise ValueError("failing")

    async def ready() -> None:
        await timed_out.wait()
        # Let both finish before the caller is cancelled.
        for _ in range(3):
            await anyio.lowlevel.checkpoint()

    signal.connect(timed, timeout=SHORT_TIMEOUT)
    signal.connect(failing)
    signal.connect(sleeper(log, "other"), weak=False)

    with caplog.at_level(logging.ERROR, logger="asyncsignal"):
        await cancel_caller(
            "scope.cancel", anyio_backend[0], lambda: signal.asend(None), ready
        )

    assert sorted(log) == ["other:cancelled", "other:start"]
    records = records_of(caplog)
    logged = {
        type(r.exc_info[1]): r.exc_info[1] for r in records if r.exc_info is not None
    }
    assert set(logged) == {ReceiverTimeout, ValueError}, [
        r.getMessage() for r in records
    ]
    assert all("aborted" in r.getMessage() for r in records)
    assert len(records) == 2


async def test_errors_logged_for_an_aborted_dispatch_name_the_method_called(
    anyio_backend: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """As every log line does: "... in asend_robust() (aborted)" or similar."""
    signal = AsyncSignal()
    failed = anyio.Event()

    async def failing(**kwargs: Any) -> str:
        failed.set()
        raise ValueError("failing")

    signal.connect(failing)
    signal.connect(sleeper([], "other"), weak=False)

    with caplog.at_level(logging.ERROR, logger="asyncsignal"):
        await cancel_caller(
            "scope.cancel",
            anyio_backend[0],
            lambda: signal.asend_robust(None),
            failed.wait,
        )

    (record,) = records_of(caplog)
    message = record.getMessage()
    assert "asend_robust()" in message
    assert "aborted" in message


# -- the caller cancelled while a once receiver runs --------------------------------


@pytest.mark.parametrize("kind", ["async", "thread"])
@pytest.mark.parametrize("mechanism", MECHANISMS)
async def test_once_receiver_running_when_the_caller_is_cancelled_is_consumed(
    anyio_backend: Any, mechanism: str, kind: str
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    running = Arrivals(1)
    blocker = Blocker("once")
    once: Any
    if kind == "async":
        once = sleeper(log, "once", running)
        signal.connect(once, once=True)
        ready = running.all_arrived.wait
    else:
        once = blocker
        signal.connect(once, once=True, thread=True)
        ready = blocker.wait_entered

    try:
        await cancel_caller(
            mechanism, anyio_backend[0], lambda: signal.asend(None), ready
        )
    finally:
        blocker.release.set()

    assert len(signal.receivers) == 0
    assert not signal.has_listeners()
    assert await signal.asend(None) == []
    if kind == "async":
        assert log == ["once:start", "once:cancelled"]
    else:
        await blocker.release_and_join()


# -- a scope cancelled before asend starts -----------------------------------------


@pytest.mark.parametrize("robust", [False, True], ids=["asend", "asend_robust"])
async def test_pre_cancelled_scope_with_thread_and_timeout_receivers_does_not_hang(
    anyio_backend: Any, robust: bool, caplog: pytest.LogCaptureFixture
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    started: list[str] = []
    finished: list[threading.Event] = []

    def in_thread(name: str) -> Any:
        done = threading.Event()
        finished.append(done)

        def receiver(**kwargs: Any) -> str:
            started.append(name)
            done.set()
            return name

        receiver.__qualname__ = name
        return receiver

    def inline(**kwargs: Any) -> str:
        log.append("inline")
        return "inline"

    receivers: list[tuple[Callable[..., Any], dict[str, Any]]] = [
        (in_thread("pooled"), {"thread": True}),
        (in_thread("pooled_timed"), {"thread": True, "timeout": LONG}),
        (in_thread("pooled_once"), {"thread": True, "once": True}),
        (sleeper(log, "timed"), {"timeout": LONG}),
        (shielded(log, "shield_timed"), {"timeout": LONG}),
        (inline, {"once": True}),
    ]
    for receiver, policy in receivers:
        signal.connect(receiver, **policy)
    tasks_before = asyncio.all_tasks() if anyio_backend[0] == "asyncio" else set()
    send = signal.asend_robust if robust else signal.asend

    with caplog.at_level(logging.ERROR, logger="asyncsignal"):
        begin = anyio.current_time()
        with anyio.fail_after(GENEROUS), anyio.CancelScope() as scope:
            scope.cancel()
            await send(None)
        elapsed = anyio.current_time() - begin

    assert scope.cancelled_caught
    # The timeouts were never waited for (LONG is far beyond any slow run).
    assert elapsed < LONG / 2
    # Sync receivers ran; async ones were cancelled at their first wait, and
    # every one that started has finished.
    assert log.count("inline") == 1
    assert log.count("timed:start") == log.count("timed:cancelled")
    assert "shield_timed:after the shield" not in log
    # A worker thread that started runs to its end.
    for name, done in zip(
        ["pooled", "pooled_timed", "pooled_once"], finished, strict=True
    ):
        if name in started:
            assert await anyio.to_thread.run_sync(done.wait, GENEROUS)
    # once registrations were consumed: each was claimed before its call.
    assert len(signal.receivers) == 4
    assert records_of(caplog) == []
    if anyio_backend[0] == "asyncio":
        await anyio.lowlevel.checkpoint()
        assert asyncio.all_tasks() == tasks_before
    # A task destroyed while pending, or a coroutine never awaited, would be
    # reported now (and fail the test through conftest / filterwarnings).
    gc.collect()
