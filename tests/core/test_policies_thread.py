"""``thread=True``: sync receivers in worker threads under ``asend``."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread
import pytest
from receivers import (
    GENEROUS,
    TIMEOUT,
    Blocker,
    Place,
    make_async,
    make_sync,
    place,
    sleeper,
)

from asyncsignal import AsyncSignal, ReceiverTimeout

if TYPE_CHECKING:
    from collections.abc import Callable


# -- thread= ------------------------------------------------------------------


@pytest.mark.parametrize("method", ["asend", "asend_robust"])
async def test_thread_receivers_run_concurrently_in_worker_threads(
    anyio_backend: Any, method: str
) -> None:
    signal = AsyncSignal()
    loop_thread = threading.current_thread()
    # Each of three receivers waits for the other two: only concurrent
    # receivers get through.
    barrier = threading.Barrier(3)
    places: dict[str, Place] = {}

    def in_thread(name: str) -> Callable[..., Any]:
        def receiver(**kwargs: Any) -> str:
            barrier.wait(GENEROUS)
            places[name] = place()
            return name

        receiver.__qualname__ = name
        return receiver

    def inline(**kwargs: Any) -> str:
        places["inline"] = place()
        return "inline"

    async def coroutine(**kwargs: Any) -> str:
        await anyio.lowlevel.checkpoint()
        places["coroutine"] = place()
        return "coroutine"

    t1, t2, t3 = in_thread("t1"), in_thread("t2"), in_thread("t3")
    signal.connect(t1, thread=True)
    signal.connect(inline)
    signal.connect(t2, thread=True)
    signal.connect(coroutine)
    signal.connect(t3, thread=True)

    responses = await getattr(signal, method)(None)

    assert responses == [
        (t1, "t1"),
        (inline, "inline"),
        (t2, "t2"),
        (coroutine, "coroutine"),
        (t3, "t3"),
    ]
    workers = {places[name].thread for name in ("t1", "t2", "t3")}
    assert len(workers) == 3
    assert loop_thread not in workers
    assert not any(places[name].loop_running for name in ("t1", "t2", "t3"))
    assert places["inline"] == Place(loop_thread, loop_running=True)
    assert places["coroutine"] == Place(loop_thread, loop_running=True)


async def test_signal_thread_default_applies_to_sync_receivers_unless_overridden(
    anyio_backend: Any,
) -> None:
    signal = AsyncSignal(thread=True)
    loop_thread = threading.current_thread()
    barrier = threading.Barrier(2)
    places: dict[str, Place] = {}

    def pooled(**kwargs: Any) -> str:
        barrier.wait(GENEROUS)
        places["pooled"] = place()
        return "pooled"

    def also_pooled(**kwargs: Any) -> str:
        barrier.wait(GENEROUS)
        places["also_pooled"] = place()
        return "also_pooled"

    def inline(**kwargs: Any) -> str:
        places["inline"] = place()
        return "inline"

    async def coroutine(**kwargs: Any) -> str:
        await anyio.lowlevel.checkpoint()
        places["coroutine"] = place()
        return "coroutine"

    signal.connect(pooled)
    signal.connect(inline, thread=False)
    signal.connect(coroutine)  # thread applies to sync receivers only
    signal.connect(also_pooled, thread=None)

    responses = await signal.asend(None)

    assert [response for _, response in responses] == [
        "pooled",
        "inline",
        "coroutine",
        "also_pooled",
    ]
    assert places["pooled"].thread is not loop_thread
    assert places["also_pooled"].thread is not loop_thread
    assert places["inline"].thread is loop_thread
    assert places["coroutine"].thread is loop_thread


@pytest.mark.parametrize("method", ["send", "send_robust"])
def test_send_calls_thread_receivers_in_the_callers_thread(method: str) -> None:
    signal = AsyncSignal(thread=True)
    places: list[Place] = []

    def default(**kwargs: Any) -> None:
        places.append(place())

    def explicit(**kwargs: Any) -> None:
        places.append(place())

    signal.connect(default)
    signal.connect(explicit, thread=True, timeout=0.05)

    getattr(signal, method)(None)

    assert places == [Place(threading.current_thread(), loop_running=False)] * 2


def test_thread_true_for_an_async_receiver_is_a_type_error_at_connect() -> None:
    signal = AsyncSignal()

    async def coroutine(**kwargs: Any) -> None:
        pass

    with pytest.raises(TypeError, match=r"thread=True.*coroutine.*async"):
        signal.connect(coroutine, thread=True)
    assert len(signal.receivers) == 0

    # The signal's default is for sync receivers: no error for async ones.
    threaded = AsyncSignal(thread=True)
    threaded.connect(coroutine)
    assert list(threaded.receivers) == [coroutine]


async def test_cancelled_asend_stops_waiting_for_a_blocked_thread_receiver(
    anyio_backend: Any,
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    blocker = Blocker()
    signal.connect(make_sync(log, "inline"), weak=False)
    signal.connect(blocker, thread=True)
    signal.connect(make_async(log, "quick"), weak=False)
    signal.connect(sleeper(log, "slow"), weak=False)

    async with anyio.create_task_group() as group:
        with anyio.CancelScope() as scope:

            async def cancel_once_blocked() -> None:
                await blocker.wait_entered()
                scope.cancel()

            group.start_soon(cancel_once_blocked)
            started = anyio.current_time()
            await signal.asend(None)
    elapsed = anyio.current_time() - started

    try:
        assert scope.cancelled_caught
        assert elapsed < 1.0
        assert not blocker.finished.is_set()
        assert sorted(log) == [
            "inline",
            "quick:end",
            "quick:start",
            "slow:cancelled",
            "slow:start",
        ]
    finally:
        await blocker.release_and_join()
    assert blocker.calls == 1


class HungReceiver:
    """A sync receiver that blocks its thread until the test releases it,
    counting the calls running at once (under a lock: no timing involved)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._ended = threading.Condition(self._lock)
        self.running = 0
        self.most_at_once = 0
        self.calls = 0
        self.__qualname__ = "hung"

    def __call__(self, **kwargs: Any) -> None:
        with self._lock:
            self.calls += 1
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            self.release.wait(GENEROUS)
        finally:
            with self._lock:
                self.running -= 1
                self._ended.notify_all()

    async def release_and_join(self) -> None:
        def join() -> bool:
            with self._lock:
                return self._ended.wait_for(lambda: self.running == 0, GENEROUS)

        self.release.set()
        # Its own limiter: the default one may be full of hung receivers.
        assert await anyio.to_thread.run_sync(join, limiter=anyio.CapacityLimiter(1))


@pytest.mark.parametrize("ending", ["timeout", "cancelled asend"])
async def test_hung_thread_receivers_never_run_more_threads_than_the_limiter_allows(
    anyio_backend: Any, ending: str
) -> None:
    """A thread receiver that timed out, or whose asend was cancelled, keeps
    its limiter token until its thread ends: rounds of sends to hung receivers
    start no more threads than the limiter has tokens."""
    limit, rounds, per_round = 3, 3, 5
    limiter = anyio.to_thread.current_default_thread_limiter()
    default_tokens = limiter.total_tokens
    limiter.total_tokens = limit
    hung = HungReceiver()
    signal = AsyncSignal()
    timeout = TIMEOUT * 4 if ending == "timeout" else None
    for uid in range(per_round):
        signal.connect(hung, weak=False, dispatch_uid=uid, thread=True, timeout=timeout)
    try:
        for _ in range(rounds):
            if ending == "timeout":
                responses = await signal.asend_robust(None)
                assert all(isinstance(r, ReceiverTimeout) for _, r in responses)
            else:
                with anyio.move_on_after(TIMEOUT * 4) as scope:
                    await signal.asend(None)
                assert scope.cancelled_caught
    finally:
        await hung.release_and_join()
        limiter.total_tokens = default_tokens
    # Hung until released, the first round's threads kept every token.
    assert 1 <= hung.most_at_once <= limit
    assert hung.calls <= limit
