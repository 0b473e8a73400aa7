"""Per-receiver execution policies (``thread=``, ``timeout=``, ``once=``): what
they change about the sync entry points (``send`` calls sync receivers in the
caller's thread before the async ones run on an event loop), and that a
registration keeps one policy. Each policy has its file
(``test_policies_thread.py``, ``test_policies_timeout.py``,
``test_policies_once.py``); cancellation with policies is in
``test_policies_cancellation.py``, task creation on asyncio in
``tests/backends/test_task_factory.py``.
"""

from __future__ import annotations

import asyncio
import functools
import sys
import threading
from typing import TYPE_CHECKING, Any

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread
import pytest
import trio
from receivers import (
    Place,
    Rendezvous,
    make_async,
    make_sync,
    place,
    sleeper,
)

from asyncsignal import AsyncSignal, ReceiverTimeout

if sys.version_info < (3, 11):
    from exceptiongroup import (  # type: ignore[import-not-found, unused-ignore]
        ExceptionGroup,
    )

if TYPE_CHECKING:
    from collections.abc import Callable


def current_loop() -> object:
    """The running event loop: the asyncio loop, or trio's root task."""
    if trio.lowlevel.in_trio_run():
        return trio.lowlevel.current_root_task()
    return asyncio.get_running_loop()


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
