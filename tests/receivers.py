"""Receivers, senders and helpers shared by the tests: the only place that
defines them."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import anyio
import anyio.lowlevel
import anyio.to_thread
import trio

if TYPE_CHECKING:
    import logging
    from collections.abc import Callable

    import pytest

    from asyncsignal import AsyncSignal, Event, Subscription

#: Long enough for a worker thread to start on a loaded machine; an upper bound
#: for anything that must not hang. A passing test never waits for it.
GENEROUS = 5.0
#: A short receiver timeout that still lets the receiver start before it
#: fires (before 3.12, asyncio starts receiver tasks only once asend waits).
TIMEOUT = 0.05


class Waitable(Protocol):
    async def wait(self) -> None:
        """Return once the awaited condition holds."""


#: What a recording receiver raises: this very exception each time, or a new
#: instance of this class (constructed with the receiver's name) on each call.
Raises = BaseException | type[BaseException] | None


def _raise(raises: BaseException | type[BaseException], name: str) -> None:
    raise raises(name) if isinstance(raises, type) else raises


def make_sync(log: list[str], name: str, raises: Raises = None) -> Callable[..., str]:
    """A sync receiver that records ``name`` and returns it (or raises)."""

    def receiver(**kwargs: Any) -> str:
        log.append(name)
        if raises is not None:
            _raise(raises, name)
        return name

    receiver.__qualname__ = name
    return receiver


def make_async(
    log: list[str],
    name: str,
    *,
    suspend: bool = False,
    wait_for: Waitable | None = None,
    sets: anyio.Event | None = None,
    raises: Raises = None,
    delay: float | None = None,
) -> Callable[..., Any]:
    """An async receiver that records ``name:start`` and ``name:end`` and returns
    ``name`` (or raises). In between it suspends once if ``suspend``, waits for
    ``wait_for`` if given and sleeps ``delay`` seconds if given (prefer events:
    a test that needs a receiver to take a while is waiting for something); it
    sets ``sets`` as it finishes."""

    async def receiver(**kwargs: Any) -> str:
        log.append(f"{name}:start")
        if suspend:
            await anyio.lowlevel.checkpoint()
        if delay is not None:
            await anyio.sleep(delay)
        if wait_for is not None:
            await wait_for.wait()
        log.append(f"{name}:end")
        if sets is not None:
            sets.set()
        if raises is not None:
            _raise(raises, name)
        return name

    receiver.__qualname__ = name
    return receiver


class Rendezvous:
    """Lets ``count`` waiters through once all of them have arrived: receivers
    that wait for it only return if they run concurrently. It needs no event
    loop until the first arrives, so it also serves ``send`` from sync code."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.arrived = 0
        self._all_arrived: anyio.Event | None = None

    async def wait(self) -> None:
        if self._all_arrived is None:
            self._all_arrived = anyio.Event()
        self.arrived += 1
        if self.arrived == self.count:
            self._all_arrived.set()
        # Run one after the other, the first would wait forever.
        with anyio.fail_after(10):
            await self._all_arrived.wait()


class Sender:
    """A weakly referenceable sender."""

    def __init__(self, label: str = "sender") -> None:
        self.label = label


class Target:
    """A weakly referenceable object whose methods are receivers."""

    def __init__(self, name: str = "target") -> None:
        self.name = name

    def method(self, **kwargs: Any) -> str:
        return f"{self.name}.method"

    async def amethod(self, **kwargs: Any) -> str:
        return f"{self.name}.amethod"

    @classmethod
    async def aclassmethod(cls, **kwargs: Any) -> str:
        return "aclassmethod"


def sync_function(**kwargs: Any) -> str:
    """A sync receiver that lives as long as the tests."""
    return "sync function"


async def async_function(**kwargs: Any) -> str:
    """An async receiver that lives as long as the tests."""
    return "async function"


def called(signal: AsyncSignal, sender: object = None) -> list[Any]:
    """The responses of ``signal.send(sender)``, in order."""
    return [response for _, response in signal.send(sender)]


#: The four send methods, for tests that must hold for each.
METHODS = ("send", "send_robust", "asend", "asend_robust")


async def send_by(method: str, signal: Any, /, *args: Any, **named: Any) -> Any:
    """Send with ``method``, one of :data:`METHODS`; ``args`` is the sender
    (or give ``sender=``)."""
    if method == "send":
        return signal.send(*args, **named)
    if method == "send_robust":
        return signal.send_robust(*args, **named)
    if method == "asend":
        return await signal.asend(*args, **named)
    return await signal.asend_robust(*args, **named)


class Blocker:
    """A sync receiver that blocks its thread until the test releases it."""

    def __init__(self, name: str = "blocker") -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.finished = threading.Event()
        self.calls = 0
        self.__qualname__ = name

    def __call__(self, **kwargs: Any) -> str:
        self.calls += 1
        self.entered.set()
        try:
            self.release.wait(GENEROUS)
        finally:
            self.finished.set()
        return "unblocked"

    async def wait_entered(self) -> None:
        assert await anyio.to_thread.run_sync(self.entered.wait, GENEROUS)

    async def release_and_join(self) -> None:
        """Release the thread and wait for its end, if it started: a thread
        receiver that timed out before a worker took it up is never called."""
        self.release.set()
        if self.entered.is_set():
            assert await anyio.to_thread.run_sync(self.finished.wait, GENEROUS)


class Arrivals:
    """Sets ``all_arrived`` once ``count`` parties have arrived."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.all_arrived = anyio.Event()

    def arrive(self) -> None:
        self.count -= 1
        if self.count == 0:
            self.all_arrived.set()


def sleeper(
    log: list[str], name: str, running: Arrivals | None = None
) -> Callable[..., Any]:
    """An async receiver that sleeps for ever and records its cancellation;
    it arrives at ``running`` once started."""

    async def receiver(**kwargs: Any) -> str:
        log.append(f"{name}:start")
        if running is not None:
            running.arrive()
        try:
            await anyio.sleep(10)
        finally:
            log.append(f"{name}:cancelled")
        return "never"

    receiver.__qualname__ = name
    return receiver


def records_of(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """What was logged on the ``asyncsignal`` logger."""
    return [r for r in caplog.records if r.name == "asyncsignal"]


def numbers(events: list[Event]) -> list[int]:
    """The payload ``n`` of each event."""
    return [event.kwargs["n"] for event in events]


def errors_of(record: logging.LogRecord) -> BaseException | None:
    """The exception a log record carries."""
    return record.exc_info[1] if record.exc_info else None


class Place(NamedTuple):
    """Where a receiver ran."""

    thread: threading.Thread
    loop_running: bool


def place() -> Place:
    """The current thread, and whether an asyncio or trio loop runs in it."""
    loop_running = (
        asyncio._get_running_loop() is not None or trio.lowlevel.in_trio_run()
    )
    return Place(threading.current_thread(), loop_running)


def run_in_thread(func: Callable[[], Any]) -> Any:
    """Run ``func`` in a new plain thread (no event loop) and return its result
    (or raise its exception)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(func).result(timeout=30)


class Thread(threading.Thread):
    """A plain thread (no event loop) that hands its exception to the test."""

    def __init__(self, call: Callable[[], object]) -> None:
        super().__init__(daemon=True)
        self._call = call
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._call()
        except BaseException as error:  # handed back to the test's thread
            self.error = error

    async def blocks_after(self, sending: threading.Event) -> bool:
        """Whether the thread blocks in the send it starts once it has set
        ``sending``: it is still running shortly after (a send that does not
        block takes microseconds)."""
        with anyio.fail_after(10):
            await anyio.to_thread.run_sync(sending.wait)
        await anyio.to_thread.run_sync(self.join, 0.05)
        return self.is_alive()

    async def finish(self) -> None:
        await anyio.to_thread.run_sync(self.join, 10)
        assert not self.is_alive()
        if self.error is not None:
            raise self.error


def started(call: Callable[[], object]) -> Thread:
    """A :class:`Thread` running ``call``, started."""
    thread = Thread(call)
    thread.start()
    return thread


async def take(events: Subscription, count: int) -> list[Event]:
    """The next ``count`` events, waiting for each (boundedly)."""
    with anyio.fail_after(10):
        return [await anext(events) for _ in range(count)]


async def remaining(events: Subscription) -> list[Event]:
    """Once the block has exited: the events still buffered (iteration then
    ends)."""
    with anyio.fail_after(5):
        return [event async for event in events]
