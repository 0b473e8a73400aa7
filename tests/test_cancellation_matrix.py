"""The cancellation matrix: every way of cancelling the caller, by every way a
receiver can behave while being cancelled, on every backend.

After each case: the caller sees the cancellation the mechanism promises (a
caught scope, ``TimeoutError``, ``CancelledError``), every receiver that
started has finished, no task is left behind, and receivers' errors raised
while being cancelled are logged rather than lost.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from asyncsignal import AsyncSignal

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

pytestmark = pytest.mark.anyio

MECHANISMS = ["move_on_after", "fail_after", "scope.cancel", "outer_scope", "native"]
BEHAVIOURS = ["plain", "cleanup", "raises", "shielded", "swallows"]


@dataclass
class Probe:
    """Receivers that record their life and the events tests wait for."""

    behaviour: str
    started: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    running: anyio.Event = field(default_factory=anyio.Event)

    def receivers(self) -> list[Callable[..., Any]]:
        return [self._make(f"r{i}") for i in range(3)]

    def _make(self, name: str) -> Callable[..., Any]:
        behaviour = self.behaviour

        async def receiver(**kwargs: Any) -> str:
            self.started.append(name)
            if len(self.started) == 3:
                self.running.set()
            try:
                if behaviour == "shielded":
                    with anyio.CancelScope(shield=True):
                        await self.running.wait()
                        # Outlasts the 0.05 s deadlines below.
                        await anyio.sleep(0.2)
                    return "shielded work done"
                if behaviour == "swallows":
                    try:
                        await anyio.sleep(10)
                    except anyio.get_cancelled_exc_class():
                        return "swallowed"
                await anyio.sleep(10)
                return "never"
            finally:
                if behaviour == "cleanup":
                    with anyio.CancelScope(shield=True):
                        await anyio.sleep(0.01)
                self.finished.append(name)
                if behaviour == "raises":
                    raise ValueError(f"{name} failed while cancelled")

        receiver.__qualname__ = name
        return receiver


async def cancel_caller(
    mechanism: str, backend: str, call: Callable[[], Awaitable[Any]], probe: Probe
) -> None:
    """Run ``call`` and cancel it with ``mechanism`` once receivers run; assert
    the caller sees exactly that cancellation."""
    if mechanism == "move_on_after":
        with anyio.move_on_after(0.05) as scope:
            await call()
        assert scope.cancelled_caught
    elif mechanism == "fail_after":
        with pytest.raises(TimeoutError), anyio.fail_after(0.05):
            await call()
    elif mechanism in ("scope.cancel", "outer_scope"):
        async with anyio.create_task_group() as group:
            with anyio.CancelScope() as outer:
                with anyio.CancelScope() as inner:
                    target = outer if mechanism == "outer_scope" else inner

                    async def cancel_when_running() -> None:
                        await probe.running.wait()
                        target.cancel()

                    group.start_soon(cancel_when_running)
                    await call()
            assert target.cancelled_caught
            assert not (mechanism == "outer_scope" and inner.cancelled_caught)
    elif backend == "asyncio":
        task: asyncio.Task[Any] = asyncio.ensure_future(call())
        await probe.running.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    else:
        import trio

        with trio.CancelScope() as trio_scope:
            async with trio.open_nursery() as nursery:

                async def cancel_when_running() -> None:
                    await probe.running.wait()
                    trio_scope.cancel()

                nursery.start_soon(cancel_when_running)
                await call()
        assert trio_scope.cancelled_caught


@pytest.mark.parametrize("robust", [False, True], ids=["asend", "asend_robust"])
@pytest.mark.parametrize("behaviour", BEHAVIOURS)
@pytest.mark.parametrize("mechanism", MECHANISMS)
async def test_cancelled_asend_cancels_and_awaits_every_receiver(
    anyio_backend: Any,
    mechanism: str,
    behaviour: str,
    robust: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    backend = anyio_backend[0]
    signal = AsyncSignal()
    probe = Probe(behaviour)
    receivers = probe.receivers()
    for receiver in receivers:
        signal.connect(receiver)
    tasks_before = asyncio.all_tasks() if backend == "asyncio" else set()

    async def call() -> Any:
        send = signal.asend_robust if robust else signal.asend
        return await send(None)

    with caplog.at_level(logging.ERROR, logger="asyncsignal"):
        await cancel_caller(mechanism, backend, call, probe)

    assert sorted(probe.started) == ["r0", "r1", "r2"]
    assert sorted(probe.finished) == sorted(probe.started)
    if backend == "asyncio":
        assert asyncio.all_tasks() == tasks_before
    records = [r for r in caplog.records if r.name == "asyncsignal"]
    if behaviour == "raises":
        # Not raised in the cancellation's place, and not lost either.
        assert len(records) == 3
        assert all("aborted" in r.getMessage() for r in records)
        assert sorted(str(r.exc_info[1]) for r in records if r.exc_info) == [
            f"r{i} failed while cancelled" for i in range(3)
        ]
    else:
        assert records == []


async def test_cancelled_before_asend_starts_receivers_then_cancels_them(
    anyio_backend: Any,
) -> None:
    """asend is not a checkpoint before it starts receivers: in a scope that
    is already cancelled, sync receivers run and async ones are cancelled at
    their first wait; nothing outlives the call."""
    signal = AsyncSignal()
    probe = Probe("plain")
    receivers = probe.receivers()
    for receiver in receivers:
        signal.connect(receiver)
    with anyio.CancelScope() as scope:
        scope.cancel()
        await signal.asend(None)
    assert scope.cancelled_caught
    assert sorted(probe.finished) == sorted(probe.started)


async def test_shielded_receiver_finishes_its_work_on_trio_only(
    anyio_backend: Any,
) -> None:
    """On trio a receiver's active shield holds; on asyncio receivers are
    cancelled with Task.cancel(), which an active anyio shield cannot stop
    (README: "What it does not promise")."""
    signal = AsyncSignal()
    done: list[str] = []
    running = anyio.Event()

    async def shielded(**kwargs: Any) -> None:
        with anyio.CancelScope(shield=True):
            running.set()
            await anyio.sleep(0.05)
            done.append("shielded work done")

    signal.connect(shielded)

    async def cancel_when_running(scope: anyio.CancelScope) -> None:
        await running.wait()
        scope.cancel()

    async with anyio.create_task_group() as group:
        with anyio.CancelScope() as scope:
            group.start_soon(cancel_when_running, scope)
            await signal.asend(None)
    assert scope.cancelled_caught
    expected = ["shielded work done"] if anyio_backend[0] == "trio" else []
    assert done == expected
