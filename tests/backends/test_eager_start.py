"""Eager start of async receivers on asyncio, the same on every Python.

With the loop's default task factory a receiver runs at its turn in ``asend``
up to its first suspension: asyncio's ``eager_start`` on 3.12+, asyncsignal's
own stepping on 3.10 and 3.11 (``asyncsignal/_backends/_stepping.py``), where
a receiver that finishes without suspending costs no task of its own. What a
receiver sees must not tell the two apart: the current task inside its first
step is the one that continues it, so ``asyncio.timeout``, ``TaskGroup`` and
anyio's cancel scopes entered before the first suspension act on it; the
context rule holds; cancellation reaches a receiver continued in a task, even
before that task's first step.
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from support.backends import ASYNCIO_BACKENDS

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup, ExceptionGroup

from asyncsignal import AsyncSignal, ReceiverTimeout

pytestmark = pytest.mark.parametrize("anyio_backend", ASYNCIO_BACKENDS)

NEEDS_311 = pytest.mark.skipif(
    sys.version_info < (3, 11), reason="asyncio.timeout and TaskGroup are 3.11+"
)


class Fatal(BaseException):
    pass


async def test_the_current_task_in_the_first_step_is_the_one_that_continues() -> None:
    signal = AsyncSignal()
    caller = asyncio.current_task()
    seen: dict[str, Any] = {}

    async def suspends(**kwargs: Any) -> str:
        first = asyncio.current_task()
        seen["first"] = first
        seen["registered"] = first in asyncio.all_tasks()
        seen["anyio_first"] = anyio.get_current_task().id
        await anyio.lowlevel.checkpoint()
        seen["after"] = asyncio.current_task()
        seen["anyio_after"] = anyio.get_current_task().id
        return "done"

    async def immediate(**kwargs: Any) -> str:
        seen["immediate"] = asyncio.current_task()
        return "immediate"

    signal.connect(immediate)
    signal.connect(suspends)
    assert [r for _, r in await signal.asend(None)] == ["immediate", "done"]
    assert seen["first"] is not None
    assert seen["first"] is not caller
    assert seen["first"] is seen["after"]
    assert seen["registered"]
    assert seen["anyio_first"] == seen["anyio_after"]
    assert seen["immediate"] not in (None, caller)
    # The sending task is current again once asend is back.
    assert asyncio.current_task() is caller


async def test_a_never_suspending_receiver_leaves_no_task_behind() -> None:
    signal = AsyncSignal()
    before = asyncio.all_tasks()

    async def immediate(**kwargs: Any) -> int:
        return 1

    async def immediate_too(**kwargs: Any) -> int:
        return 2

    signal.connect(immediate)
    signal.connect(immediate_too)
    await signal.asend(None)
    await anyio.lowlevel.checkpoint()
    assert asyncio.all_tasks() == before


@NEEDS_311
async def test_asyncio_timeout_entered_before_suspending_times_out_the_receiver() -> (
    None
):
    signal = AsyncSignal()
    never = asyncio.Event()

    async def bounded(**kwargs: Any) -> str:
        try:
            async with asyncio.timeout(0.01):  # type: ignore[attr-defined,unused-ignore]
                await never.wait()
        except TimeoutError:
            return "timed out"
        return "not reached"

    signal.connect(bounded)
    assert await signal.asend(None) == [(bounded, "timed out")]
    caller = asyncio.current_task()
    assert caller is not None
    assert caller.cancelling() == 0  # type: ignore[attr-defined,unused-ignore]


@NEEDS_311
async def test_a_task_group_entered_before_suspending_cancels_the_receiver() -> None:
    signal = AsyncSignal()
    never = asyncio.Event()
    log: list[str] = []

    async def child_fails() -> None:
        raise ValueError("child")

    async def child_waits() -> None:
        try:
            await never.wait()
        except asyncio.CancelledError:
            log.append("sibling cancelled")
            raise

    async def grouped(**kwargs: Any) -> None:
        async with asyncio.TaskGroup() as group:  # type: ignore[attr-defined,unused-ignore]
            group.create_task(child_waits())
            group.create_task(child_fails())

    signal.connect(grouped)
    with pytest.raises(ExceptionGroup) as caught:
        await signal.asend(None)
    assert [type(e) for e in caught.value.exceptions] == [ValueError]
    assert log == ["sibling cancelled"]
    caller = asyncio.current_task()
    assert caller is not None
    assert caller.cancelling() == 0  # type: ignore[attr-defined,unused-ignore]


async def test_anyio_scopes_entered_before_suspending_act_on_the_receiver() -> None:
    signal = AsyncSignal()
    never = anyio.Event()
    log: list[str] = []

    async def deadline(**kwargs: Any) -> str:
        with anyio.move_on_after(0.01) as scope:
            await never.wait()
        return "moved on" if scope.cancelled_caught else "not reached"

    async def group(**kwargs: Any) -> str:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(never.wait)
            await anyio.lowlevel.checkpoint()
            tasks.cancel_scope.cancel()
        log.append("group cancelled")
        return "group"

    signal.connect(deadline)
    signal.connect(group)
    assert [r for _, r in await signal.asend(None)] == ["moved on", "group"]
    assert log == ["group cancelled"]


async def test_a_receivers_timeout_reaches_it_once_continued() -> None:
    signal = AsyncSignal()
    never = anyio.Event()
    log: list[str] = []

    async def waits(**kwargs: Any) -> None:
        try:
            await never.wait()
        finally:
            log.append("cleaned up")

    signal.connect(waits, timeout=0.01)
    (response,) = await signal.asend_robust(None)
    assert isinstance(response[1], ReceiverTimeout)
    assert log == ["cleaned up"]


async def test_each_send_has_its_own_context_and_a_receiver_keeps_its_own_changes() -> (
    None
):
    signal = AsyncSignal()
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")

    async def sets_then_suspends(**kwargs: Any) -> tuple[str, str]:
        before = var.get()
        var.set(kwargs["value"])
        await anyio.lowlevel.checkpoint()
        return before, var.get()

    signal.connect(sets_then_suspends)
    async with anyio.create_task_group() as tasks:
        results: dict[str, Any] = {}

        async def send(value: str) -> None:
            results[value] = await signal.asend(None, value=value)

        tasks.start_soon(send, "a")
        tasks.start_soon(send, "b")
    assert results["a"] == [(sets_then_suspends, ("unset", "a"))]
    assert results["b"] == [(sets_then_suspends, ("unset", "b"))]
    # The changes reach the sender, not the other send's task.
    assert var.get() == "unset"
    await signal.asend(None, value="c")
    assert var.get() == "c"


@pytest.mark.parametrize(
    "awaits", ["future", "bare yield", "done future", "bare yield, swallowed"]
)
async def test_a_receiver_cancelled_before_its_task_first_ran_gets_the_cancellation(
    awaits: str,
) -> None:
    """A later receiver's BaseException aborts the send while the first
    receiver's task has not run yet: as asyncio's task, the cancellation
    cancels the future the receiver awaits (or is thrown in if there is
    none, or it is already done)."""
    signal = AsyncSignal()
    loop = asyncio.get_running_loop()
    future: asyncio.Future[None] = loop.create_future()
    log: list[str] = []

    async def waits(**kwargs: Any) -> None:
        try:
            if awaits.startswith("bare yield"):
                await asyncio.sleep(0)
            else:
                await future
            log.append("resumed")
        except asyncio.CancelledError:
            log.append("cancelled")
            if awaits == "bare yield, swallowed":
                return
            raise

    def aborts(**kwargs: Any) -> None:
        if awaits == "done future":
            future.set_result(None)
        raise Fatal

    signal.connect(waits)
    signal.connect(aborts)
    with pytest.raises(Fatal):
        await signal.asend(None)
    assert log == ["cancelled"]
    assert future.cancelled() == (awaits == "future")


async def test_cancelling_asend_reaches_the_continued_receiver() -> None:
    signal = AsyncSignal()
    started = anyio.Event()
    log: list[str] = []

    async def waits(**kwargs: Any) -> None:
        started.set()
        try:
            await anyio.sleep_forever()
        except asyncio.CancelledError:
            log.append("cancelled")
            raise

    signal.connect(waits)
    async with anyio.create_task_group() as tasks:

        async def send() -> None:
            await signal.asend(None)

        tasks.start_soon(send)
        await started.wait()
        tasks.cancel_scope.cancel()
    assert log == ["cancelled"]


async def test_errors_in_and_after_the_first_step() -> None:
    signal = AsyncSignal()

    async def fails_at_once(**kwargs: Any) -> None:
        raise ValueError("at once")

    async def fails_later(**kwargs: Any) -> None:
        await anyio.lowlevel.checkpoint()
        raise KeyError("later")

    signal.connect(fails_at_once)
    signal.connect(fails_later)
    responses = await signal.asend_robust(None)
    assert [type(r) for _, r in responses] == [ValueError, KeyError]


async def test_a_receiver_that_cancels_itself_and_returns_ends_cancelled() -> None:
    """As an asyncio task does (3.12's eager ones too); the next receiver
    and the next send are not affected."""
    signal = AsyncSignal()

    async def cancels_itself(**kwargs: Any) -> str:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        return "returned"

    async def suspends(**kwargs: Any) -> str:
        await anyio.lowlevel.checkpoint()
        return "suspends"

    signal.connect(suspends)
    connected = signal.connect(cancels_itself)
    with pytest.raises(asyncio.CancelledError):
        await signal.asend(None)
    signal.disconnect(connected)

    async def suspends_too(**kwargs: Any) -> str:
        await anyio.lowlevel.checkpoint()
        return "suspends too"

    signal.connect(suspends_too)
    assert [r for _, r in await signal.asend(None)] == ["suspends", "suspends too"]


async def test_a_receiver_that_cancels_itself_and_fails_raises_its_error() -> None:
    signal = AsyncSignal()

    async def cancels_and_fails(**kwargs: Any) -> None:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        raise ValueError("failed")

    async def suspends(**kwargs: Any) -> str:
        await anyio.lowlevel.checkpoint()
        return "suspends"

    signal.connect(cancels_and_fails)
    signal.connect(suspends)
    responses = await signal.asend_robust(None)
    assert isinstance(responses[0][1], ValueError)
    assert responses[1][1] == "suspends"


async def test_a_receiver_sending_in_its_first_step_nests() -> None:
    """The inner send's receivers are stepped as tasks of their own, then the
    outer receiver's task is current again."""
    outer, inner = AsyncSignal(), AsyncSignal()
    seen: dict[str, Any] = {}

    async def inner_suspends(**kwargs: Any) -> str:
        seen["inner"] = asyncio.current_task()
        await anyio.lowlevel.checkpoint()
        return "inner"

    async def outer_sends(**kwargs: Any) -> Any:
        seen["outer before"] = asyncio.current_task()
        responses = await inner.asend(None)
        seen["outer after"] = asyncio.current_task()
        return [response for _, response in responses]

    inner.connect(inner_suspends)
    outer.connect(outer_sends)
    assert await outer.asend(None) == [(outer_sends, ["inner"])]
    assert seen["outer before"] is seen["outer after"]
    assert seen["inner"] not in (None, seen["outer before"], asyncio.current_task())


async def test_receivers_raising_base_exceptions_after_suspending_raise_them_all() -> (
    None
):
    """Each ends its task with a BaseException in one loop iteration: the
    first cancels what is still running (nothing), the second finds the
    receivers already being cancelled; asend raises both."""
    signal = AsyncSignal()

    async def first(**kwargs: Any) -> None:
        await anyio.lowlevel.checkpoint()
        raise Fatal("first")

    async def second(**kwargs: Any) -> None:
        await anyio.lowlevel.checkpoint()
        raise Fatal("second")

    signal.connect(first)
    signal.connect(second)
    with pytest.raises(BaseExceptionGroup) as caught:
        await signal.asend(None)
    assert sorted(str(error) for error in caught.value.exceptions) == [
        "first",
        "second",
    ]
