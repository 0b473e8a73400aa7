"""asyncsignal._backends' interface on every backend: which backend runs, the
one wake-up primitive, system tasks."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import sys
import threading
from typing import Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest
from support.backends import RecordingSelectorLoop, loop_errors

from asyncsignal import AsyncSignal, _backends
from asyncsignal._backends import SystemTask, _asyncio, _detect, _stepping, wakeup


def test_asyncios_loop_lookup_is_where_detection_expects_it() -> None:
    """The fast lookup detection relies on (asyncio._get_running_loop): if a
    Python release removes it, detection falls back to get_running_loop, and
    this fails so that someone measures the cost."""
    assert _detect.running_loop is asyncio._get_running_loop


def test_receivers_are_stepped_exactly_where_asyncio_has_no_eager_start() -> None:
    """The guard on the asyncio internals stepping uses (asyncio.tasks'
    _enter_task/_leave_task, Task._log_destroy_pending and, on 3.10,
    Task._must_cancel): if a 3.10/3.11 release lacked one, receivers would
    fall back to plain tasks and this fails. 3.12+ never steps."""
    assert (sys.version_info < (3, 12)) == _asyncio._STEPPING
    if _asyncio._STEPPING:
        assert _stepping.enter_task is asyncio.tasks._enter_task
        assert _stepping.leave_task is asyncio.tasks._leave_task
        assert _stepping.stepping_supported()


def test_a_loop_closed_right_after_a_send_reports_no_pending_task() -> None:
    """On 3.10/3.11 a send makes a spare task that ends at its first step; a
    loop stopped in the send's iteration and closed never runs that step.
    conftest.py fails the test if asyncio reports the task destroyed pending."""
    signal = AsyncSignal()

    async def immediate(**kwargs: Any) -> int:
        return 1

    signal.connect(immediate)

    async def stop_and_send() -> Any:
        asyncio.get_running_loop().stop()
        return await signal.asend(None)

    loop = RecordingSelectorLoop()
    try:
        task = loop.create_task(stop_and_send())
        loop.run_forever()
        assert task.result() == [(immediate, 1)]
    finally:
        loop.close()
    del task
    gc.collect()
    assert not loop_errors


async def test_the_public_fallback_finds_the_same_loop(anyio_backend: Any) -> None:
    assert _detect._running_loop_or_none() is _detect.running_loop()
    assert _backends.asyncio_running() == (anyio_backend[0] == "asyncio")


def test_no_loop_no_backend() -> None:
    assert _detect._running_loop_or_none() is None
    assert not _backends.asyncio_running()
    assert not _backends.running_in_event_loop_thread()
    with pytest.raises(RuntimeError, match="must be awaited in an asyncio or trio"):
        _backends.open_runner([], [], contextvars.copy_context())


async def test_a_wakeup_set_before_its_wait_returns_at_once() -> None:
    done = wakeup()
    done.set()
    done.set()  # twice: harmless
    with anyio.fail_after(5):
        await done.wait()
        await done.wait()  # stays set


async def test_a_wakeup_is_set_from_another_thread() -> None:
    done = wakeup()
    threading.Timer(0.01, done.set).start()
    with anyio.fail_after(5):
        await done.wait()


async def test_a_wakeup_waited_again_after_a_cancelled_wait_still_wakes() -> None:
    done = wakeup()
    with anyio.move_on_after(0.01):
        await done.wait()
    await anyio.to_thread.run_sync(done.set)
    with anyio.fail_after(5):
        await done.wait()


async def test_a_wakeup_of_a_finished_run_is_set_without_error() -> None:
    made: list[_backends.Wakeup] = []

    async def make() -> None:
        made.append(wakeup())

    thread = threading.Thread(target=anyio.run, args=(make,))
    thread.start()
    thread.join()
    made[0].set()  # its loop (or trio run) is gone: nobody waits any more


async def test_a_system_task_runs_outside_the_callers_scopes_until_stopped() -> None:
    started, log = anyio.Event(), []

    async def serve() -> None:
        started.set()
        try:
            await anyio.sleep_forever()
        finally:
            log.append("stopped")

    with anyio.CancelScope() as scope:
        task = SystemTask(serve, name="test")
        scope.cancel()  # the caller's scope: the task is no child of it
        await anyio.lowlevel.checkpoint()
    with anyio.fail_after(5):
        await started.wait()
    assert log == []
    with anyio.CancelScope(shield=True):
        await task.stop()
    assert log == ["stopped"]


async def test_a_system_task_stopped_before_it_ran_ends() -> None:
    log: list[str] = []

    async def serve() -> None:
        log.append("ran")

    task = SystemTask(serve, name="test")
    with anyio.fail_after(5):
        await task.stop()
    assert log in ([], ["ran"])  # asyncio may run it first (eager factory)
