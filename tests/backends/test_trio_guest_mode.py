"""trio in guest mode on an asyncio loop (``trio.lowlevel.start_guest_run``).

A guest trio runs its tasks inside callbacks of the host asyncio loop: in that
thread asyncio's running loop is set, but there is no current asyncio task.
asend must recognise trio there (and not start asyncio tasks), send must see
an event loop running in the thread, and a worker thread of the guest must
send through it. Each test runs on every asyncio host loop.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest
import trio
import trio.lowlevel
from receivers import make_async, make_sync
from support.backends import ASYNCIO_BACKENDS

from asyncsignal import AsyncSignal

if sys.version_info < (3, 11):
    from exceptiongroup import ExceptionGroup

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

pytestmark = pytest.mark.parametrize("anyio_backend", ASYNCIO_BACKENDS)


async def run_as_guest(async_fn: Callable[[], Awaitable[Any]]) -> Any:
    """Run ``async_fn`` in trio, as a guest of the running asyncio loop."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Any] = loop.create_future()
    trio.lowlevel.start_guest_run(
        async_fn,
        run_sync_soon_threadsafe=loop.call_soon_threadsafe,
        done_callback=done.set_result,
        # asyncio and uvloop use signal.set_wakeup_fd; trio must leave it alone.
        host_uses_signal_set_wakeup_fd=True,
    )
    return (await done).unwrap()


class Where:
    """Records where a receiver ran: thread, trio task, asyncio task."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, int, bool, bool]] = []

    def record(self, name: str) -> None:
        self.seen.append(
            (
                name,
                threading.get_ident(),
                trio.lowlevel.in_trio_task(),
                asyncio.current_task() is not None,
            )
        )


async def test_asend_from_a_guest_runs_async_receivers_as_trio_tasks() -> None:
    signal = AsyncSignal()
    where = Where()
    host_thread = threading.get_ident()

    def sync_receiver(**kwargs: Any) -> str:
        where.record("sync")
        return "sync"

    async def trio_receiver(**kwargs: Any) -> str:
        await trio.lowlevel.checkpoint()  # trio's own API: only in a trio task
        where.record("trio")
        return "trio"

    async def anyio_receiver(**kwargs: Any) -> str:
        await anyio.lowlevel.checkpoint()
        where.record("anyio")
        return "anyio"

    signal.connect(trio_receiver)
    signal.connect(sync_receiver)
    signal.connect(anyio_receiver)

    async def in_guest() -> Any:
        assert asyncio.current_task() is None
        return await signal.asend(None), await signal.asend_robust(None)

    responses, robust_responses = await run_as_guest(in_guest)
    expected = [
        (trio_receiver, "trio"),
        (sync_receiver, "sync"),
        (anyio_receiver, "anyio"),
    ]
    assert responses == robust_responses == expected
    # Everything ran in the host's thread, in trio tasks, never in asyncio ones.
    assert sorted(where.seen) == sorted(
        [(name, host_thread, True, False) for name in ("sync", "trio", "anyio")] * 2
    )


async def test_asend_from_a_guest_isolates_errors() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    first, second = ValueError("first"), KeyError("second")
    keep = [
        signal.connect(make_async(log, "a", suspend=True, raises=first)),
        signal.connect(make_sync(log, "fine")),
        signal.connect(make_async(log, "b", raises=second)),
    ]

    async def in_guest() -> list[tuple[Any, Any]]:
        with pytest.raises(ExceptionGroup) as caught:
            await signal.asend(None)
        assert list(caught.value.exceptions) == [first, second]
        return await signal.asend_robust(None)

    assert await run_as_guest(in_guest) == list(
        zip(keep, [first, "fine", second], strict=True)
    )
    assert sorted(log) == sorted(["a:start", "a:end", "fine", "b:start", "b:end"] * 2)


async def test_cancelling_asend_in_a_guest_cancels_and_awaits_its_receivers() -> None:
    signal = AsyncSignal()
    cleaned: list[str] = []
    running = trio.Event()

    async def receiver(**kwargs: Any) -> None:
        running.set()
        try:
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True):
                await trio.lowlevel.checkpoint()  # cleanup that awaits
            cleaned.append("cleaned")

    signal.connect(receiver)

    async def in_guest() -> bool:
        with trio.CancelScope() as scope:
            async with trio.open_nursery() as nursery:

                async def cancel_when_running() -> None:
                    await running.wait()
                    scope.cancel()

                nursery.start_soon(cancel_when_running)
                await signal.asend(None)
        return scope.cancelled_caught

    assert await run_as_guest(in_guest) is True
    assert cleaned == ["cleaned"]


async def test_send_from_a_guest_calls_sync_receivers_in_the_hosts_thread() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    first = signal.connect(make_sync(log, "first"))
    second = signal.connect(make_sync(log, "second"))

    async def in_guest() -> tuple[Any, Any]:
        return signal.send(None), signal.send_robust(None)

    responses, robust_responses = await run_as_guest(in_guest)
    assert responses == robust_responses == [(first, "first"), (second, "second")]
    assert log == ["first", "second"] * 2


@pytest.mark.parametrize("method", ["send", "send_robust"])
async def test_send_from_a_guest_with_async_receivers_refuses_as_in_any_loop(
    method: str,
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    signal.connect(receiver := make_async(log, "async"))

    async def in_guest() -> Any:
        with pytest.raises(RuntimeError, match="running event loop"):
            getattr(signal, method)(None)
        return await signal.asend(None)

    assert await run_as_guest(in_guest) == [(receiver, "async")]
    assert log == ["async:start", "async:end"]


async def test_send_from_a_guests_worker_thread_runs_async_receivers_on_the_guest() -> (
    None
):
    signal = AsyncSignal()
    where = Where()
    host_thread = threading.get_ident()

    async def trio_receiver(**kwargs: Any) -> str:
        await trio.lowlevel.checkpoint()
        where.record("trio")
        return "trio"

    signal.connect(trio_receiver)

    async def in_guest() -> tuple[Any, Any]:
        return (
            await anyio.to_thread.run_sync(signal.send, None),
            await anyio.to_thread.run_sync(signal.send_robust, None),
        )

    responses, robust_responses = await run_as_guest(in_guest)
    assert responses == robust_responses == [(trio_receiver, "trio")]
    assert where.seen == [("trio", host_thread, True, False)] * 2
