"""One context per send: receivers share context variables with each other and
with the sender (Django 6.1's rule), on every backend and receiver kind."""

from __future__ import annotations

import contextvars
import sys
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from support.backends import ASYNCIO_BACKENDS

from asyncsignal import AsyncSignal

counter: contextvars.ContextVar[int] = contextvars.ContextVar("counter")


def sync_increment(**kwargs: Any) -> int:
    counter.set(counter.get() + 1)
    return counter.get()


async def async_increment(**kwargs: Any) -> int:
    counter.set(counter.get() + 1)
    return counter.get()


async def async_increment_after_yield(**kwargs: Any) -> int:
    await anyio.lowlevel.checkpoint()
    counter.set(counter.get() + 1)
    return counter.get()


#: Receivers share one context as they run: asyncio tasks given the context
#: (3.11+).
SHARING_AS_THEY_RUN = pytest.mark.parametrize(
    "anyio_backend",
    ASYNCIO_BACKENDS if sys.version_info >= (3, 11) else [],
)
#: Each receiver's task takes the send's context when it starts and hands back
#: what it set when it ends: trio, and asyncio 3.10 (no task context).
SYNCING_AT_START_AND_END = pytest.mark.parametrize(
    "anyio_backend",
    ["trio"] if sys.version_info >= (3, 11) else ["trio", *ASYNCIO_BACKENDS],
)


@SHARING_AS_THEY_RUN
async def test_async_receivers_see_each_others_changes_and_the_caller_gets_them() -> (
    None
):
    signal = AsyncSignal()
    first, second = async_increment, async_increment_after_yield
    signal.connect(first)
    signal.connect(second)
    counter.set(1)
    responses = await signal.asend(None)
    assert responses == [(first, 2), (second, 3)]
    assert counter.get() == 3


async def test_sync_async_and_thread_receivers_share_one_context() -> None:
    signal = AsyncSignal()
    seen: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("seen")
    names: dict[str, contextvars.ContextVar[str]] = {
        kind: contextvars.ContextVar(kind) for kind in ("sync", "async", "thread")
    }

    def in_line(**kwargs: Any) -> None:
        names["sync"].set("set")

    async def in_task(**kwargs: Any) -> None:
        await anyio.lowlevel.checkpoint()
        names["async"].set("set")

    def in_thread(**kwargs: Any) -> tuple[str, ...]:
        names["thread"].set("set")
        return seen.get()

    signal.connect(in_line)
    signal.connect(in_task)
    signal.connect(in_thread, thread=True)
    seen.set(("caller",))
    responses = await signal.asend(None)
    assert responses[2] == (in_thread, ("caller",))
    assert {kind: var.get(None) for kind, var in names.items()} == dict.fromkeys(
        names, "set"
    )


@SHARING_AS_THEY_RUN
async def test_changes_reach_the_caller_when_receivers_fail() -> None:
    signal = AsyncSignal()

    async def fails(**kwargs: Any) -> None:
        counter.set(10)
        raise ValueError("no")

    signal.connect(async_increment_after_yield)
    signal.connect(fails)
    counter.set(1)
    with pytest.raises(ValueError, match="no"):
        await signal.asend(None)
    assert counter.get() in (10, 11)


async def test_a_send_changes_nothing_when_receivers_set_nothing() -> None:
    signal = AsyncSignal()

    async def reads(**kwargs: Any) -> int:
        return counter.get()

    signal.connect(reads)
    counter.set(5)
    token_context = contextvars.copy_context()
    assert await signal.asend(None) == [(reads, 5)]
    assert contextvars.copy_context() == token_context


def test_send_from_sync_code_copies_async_receivers_changes_back() -> None:
    signal = AsyncSignal()
    signal.connect(sync_increment)
    signal.connect(async_increment)
    signal.connect(async_increment_after_yield)

    def caller() -> tuple[Any, int]:
        counter.set(1)
        return signal.send(None), counter.get()

    responses, seen = contextvars.copy_context().run(caller)
    assert [response for _, response in responses] == [2, 3, 4]
    assert seen == 4


@pytest.mark.skipif(
    sys.version_info < (3, 11), reason="asyncio 3.10 has no Task context"
)
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_custom_task_factory_gets_the_shared_context() -> None:
    import asyncio

    loop = asyncio.get_running_loop()
    contexts: list[Any] = []

    def factory(loop: Any, coro: Any, **kwargs: Any) -> Any:
        contexts.append(kwargs.get("context"))
        return asyncio.Task(coro, loop=loop, **kwargs)

    loop.set_task_factory(factory)
    try:
        signal = AsyncSignal()
        signal.connect(async_increment)
        counter.set(1)
        assert await signal.asend(None) == [(async_increment, 2)]
        assert counter.get() == 2
        assert contexts
        assert contexts[0] is not None
    finally:
        loop.set_task_factory(None)


# -- trio: a receiver's task takes the shared context when it starts running and
# hands back what it set when it ends (see asyncsignal/_context.py)


@SYNCING_AT_START_AND_END
async def test_on_trio_each_receiver_hands_back_what_it_set() -> None:
    signal = AsyncSignal()
    first: contextvars.ContextVar[str] = contextvars.ContextVar("first")
    second: contextvars.ContextVar[str] = contextvars.ContextVar("second")

    def in_line(**kwargs: Any) -> None:
        counter.set(counter.get() + 1)

    async def sets_first(**kwargs: Any) -> int:
        await anyio.lowlevel.checkpoint()
        first.set("set")
        return counter.get()  # the sync receiver's change, taken at its start

    async def sets_second_and_fails(**kwargs: Any) -> None:
        second.set("set")
        raise ValueError("no")

    signal.connect(in_line)
    signal.connect(sets_first)
    signal.connect(sets_second_and_fails)
    counter.set(1)
    responses = await signal.asend_robust(None)
    assert responses[1] == (sets_first, 2)
    assert (counter.get(), first.get(None), second.get(None)) == (2, "set", "set")


@SYNCING_AT_START_AND_END
async def test_on_trio_a_receiver_sees_what_ended_before_it_started() -> None:
    signal = AsyncSignal()
    counter.set(1)
    signal.connect(async_increment)
    assert await signal.asend(None) == [(async_increment, 2)]
    assert await signal.asend(None) == [(async_increment, 3)]
    assert counter.get() == 3
