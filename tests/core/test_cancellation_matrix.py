"""The cancellation matrix: every way of cancelling the caller, by every way a
receiver can behave while being cancelled, on every backend.

After each case: the caller sees the cancellation the mechanism promises (a
caught scope, ``TimeoutError``, ``CancelledError``), every receiver that
started has finished, no task is left behind, and receivers' errors raised
while being cancelled are logged rather than lost.

Nothing here waits for the clock: the caller is cancelled once every receiver
runs (deadlines are moved to "now" at that point), and shielded receivers are
released once the cancellation has been requested.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
import pytest
from support.backends import ASYNCIO_BACKENDS

from asyncsignal import AsyncSignal

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

MECHANISMS = ["move_on_after", "fail_after", "scope.cancel", "outer_scope", "native"]
BEHAVIOURS = ["plain", "cleanup", "raises", "shielded", "swallows"]

#: A deadline that never passes by itself.
HOUR = 3600


@dataclass
class Probe:
    """Receivers that record their life, and the events tests wait for."""

    behaviour: str
    started: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    #: Set once all three receivers run.
    running: anyio.Event = field(default_factory=anyio.Event)
    #: Set once the caller's cancellation was requested: "shielded" receivers
    #: finish their work then.
    release: anyio.Event = field(default_factory=anyio.Event)

    def receivers(self) -> list[Callable[..., Any]]:
        return [self._make(f"r{i}") for i in range(3)]

    def _make(self, name: str) -> Callable[..., Any]:
        behaviour = self.behaviour

        async def receiver(**kwargs: Any) -> Any:
            self.started.append(name)
            if len(self.started) == 3:
                self.running.set()
            try:
                if behaviour == "shielded":
                    with anyio.CancelScope(shield=True):
                        await self.release.wait()
                    return "shielded work done"
                if behaviour == "swallows":
                    try:
                        await anyio.sleep_forever()
                    except anyio.get_cancelled_exc_class():
                        return "swallowed"
                await anyio.sleep_forever()
            finally:
                if behaviour == "cleanup":
                    with anyio.CancelScope(shield=True):
                        await anyio.lowlevel.checkpoint()
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
    if mechanism in ("move_on_after", "fail_after"):

        async def expire_when_running(scope: anyio.CancelScope) -> None:
            await probe.running.wait()
            scope.deadline = anyio.current_time()
            await anyio.lowlevel.checkpoint()  # the deadline has been processed
            probe.release.set()

        async with anyio.create_task_group() as group:
            if mechanism == "move_on_after":
                with anyio.move_on_after(HOUR) as scope:
                    group.start_soon(expire_when_running, scope)
                    await call()
                assert scope.cancelled_caught
            else:

                async def call_expiring(scope: anyio.CancelScope) -> None:
                    group.start_soon(expire_when_running, scope)
                    await call()

                with pytest.raises(TimeoutError), anyio.fail_after(HOUR) as scope:
                    await call_expiring(scope)
    elif mechanism in ("scope.cancel", "outer_scope"):
        async with anyio.create_task_group() as group:
            with anyio.CancelScope() as outer:
                with anyio.CancelScope() as inner:
                    target = outer if mechanism == "outer_scope" else inner

                    async def cancel_when_running() -> None:
                        await probe.running.wait()
                        target.cancel()
                        probe.release.set()

                    group.start_soon(cancel_when_running)
                    await call()
            assert target.cancelled_caught
            assert not (mechanism == "outer_scope" and inner.cancelled_caught)
    elif backend == "asyncio":
        task: asyncio.Task[Any] = asyncio.ensure_future(call())
        await probe.running.wait()
        task.cancel()
        probe.release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
    else:
        import trio

        with trio.CancelScope() as trio_scope:
            async with trio.open_nursery() as nursery:

                async def cancel_natively_when_running() -> None:
                    await probe.running.wait()
                    trio_scope.cancel()
                    probe.release.set()

                nursery.start_soon(cancel_natively_when_running)
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
        messages = sorted(r.getMessage() for r in records)
        assert len(messages) == 3
        for index, message in enumerate(messages):
            assert f".r{index} " in message
            assert "aborted" in message
        assert sorted(str(r.exc_info[1]) for r in records if r.exc_info) == [
            f"r{i} failed while cancelled" for i in range(3)
        ]
    else:
        assert records == []
    assert list(signal.receivers) == receivers


async def test_cancelled_before_asend_starts_receivers_then_cancels_them() -> None:
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


async def test_shielded_receiver_finishes_its_work_on_every_backend() -> None:
    """A shield active in a receiver holds when the caller is cancelled: on
    trio natively, on asyncio because receivers inside anyio scopes are
    cancelled through those scopes."""
    signal = AsyncSignal()
    done: list[str] = []
    running = anyio.Event()
    release = anyio.Event()

    async def shielded(**kwargs: Any) -> None:
        with anyio.CancelScope(shield=True):
            running.set()
            await release.wait()
            done.append("shielded work done")

    signal.connect(shielded)

    async def cancel_when_running(scope: anyio.CancelScope) -> None:
        await running.wait()
        scope.cancel()
        release.set()

    async with anyio.create_task_group() as group:
        with anyio.CancelScope() as scope:
            group.start_soon(cancel_when_running, scope)
            await signal.asend(None)
    assert scope.cancelled_caught
    assert done == ["shielded work done"]


@pytest.mark.parametrize("anyio_backend", ASYNCIO_BACKENDS)
async def test_repeated_native_cancellation_does_not_interrupt_receivers_cleanup() -> (
    None
):
    signal = AsyncSignal()
    running = asyncio.Event()
    cleaning = asyncio.Event()
    cleanup_may_end = asyncio.Event()
    cleaned: list[str] = []

    async def receiver(**kwargs: Any) -> None:
        running.set()
        try:
            await asyncio.get_running_loop().create_future()
        finally:
            cleaning.set()
            # A cleanup that takes a while, protected against being cancelled.
            await asyncio.shield(cleanup_may_end.wait())
            cleaned.append("cleaned")

    signal.connect(receiver)
    task = asyncio.get_running_loop().create_task(signal.asend(None))
    await running.wait()
    task.cancel()
    await cleaning.wait()
    task.cancel()  # again, while the receiver cleans up
    await asyncio.sleep(0)  # asend takes the second cancellation
    cleanup_may_end.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned == ["cleaned"]


@pytest.mark.parametrize("anyio_backend", ASYNCIO_BACKENDS)
async def test_caller_cancelled_after_its_last_receiver_finished_loses_no_outcome(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The last receiver is done (asend's waiter already has its result) but the
    caller has not woken yet when it is cancelled: the cancellation
    propagates, there is nothing left to cancel or wait for, and the
    receivers' errors are logged, not lost."""
    signal = AsyncSignal()
    caller: asyncio.Task[Any] | None = None
    finished: list[str] = []

    async def receiver(**kwargs: Any) -> None:
        await asyncio.sleep(0)
        # Runs after asend's own done callback: the caller's cancellation
        # arrives once nothing is pending.
        task = asyncio.current_task()
        assert task is not None
        sending = caller
        assert sending is not None
        task.add_done_callback(lambda _: sending.cancel())
        finished.append("receiver")

    async def failing(**kwargs: Any) -> None:
        await asyncio.sleep(0)
        raise ValueError("failed before the caller was cancelled")

    signal.connect(failing)
    signal.connect(receiver)
    caller = asyncio.get_running_loop().create_task(signal.asend(None))
    with (
        caplog.at_level(logging.ERROR, logger="asyncsignal"),
        pytest.raises(asyncio.CancelledError),
    ):
        await caller
    assert finished == ["receiver"]
    [record] = [r for r in caplog.records if r.name == "asyncsignal"]
    assert "aborted" in record.getMessage()
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], ValueError)
