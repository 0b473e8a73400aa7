"""The bridge's plumbing: buffers between the application and the broker, the
session loop that (re)connects, and where that loop runs.

The broker side is an asyncio program (redis.asyncio and nats-py run only on
asyncio). On asyncio it runs as a plain task on the application's loop; on trio
it runs on an asyncio loop in a helper thread (:class:`Runner`). Either way
the two sides meet only in two thread-safe buffers, each with one consumer
woken by :class:`~._tasks.Wakeup`:

- the :class:`Outbox`: encoded events, filled by sends in any thread without
  ever waiting, drained by the publisher;
- the :class:`Inbox`: messages from the broker and connection changes, drained
  by the bridge's dispatcher task, which runs the receivers.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import random
import sys
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, NamedTuple, Protocol

import anyio

from ._tasks import Wakeup, asyncio_running

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Iterator
    from typing import Any

__all__ = (
    "BATCH",
    "Broker",
    "Down",
    "Inbox",
    "LoopTask",
    "Outbox",
    "Runner",
    "Session",
    "Up",
    "logger",
    "serve",
)

logger = logging.getLogger("asyncsignal.bridge")

#: Most events handed to the broker (or to the dispatcher) at once.
BATCH = 256

#: Reconnection: the first retry after 50 ms, then doubling up to 2 s, jittered.
_FIRST_DELAY, _MAX_DELAY = 0.05, 2.0

#: At most one "buffer full" warning per this many seconds (counts stay exact).
_WARN_EVERY = 5.0


class Session(Protocol):
    """One live connection to the broker, subscribed to the bridge's channel."""

    async def publish(self, batch: list[bytes]) -> None:
        """Hand ``batch`` to the broker, in order; raise if the connection
        failed (the batch then counts as lost)."""

    async def receive(self) -> None:
        """Deliver incoming messages until the connection fails: raise then."""

    async def ping(self) -> None:
        """A round trip to the broker; raise if the connection failed."""

    async def aclose(self) -> None:
        """Close the connection and release everything it holds."""


class Broker(Protocol):
    """Makes sessions: one per (re)connection."""

    async def connect(self, deliver: Callable[[bytes], None]) -> Session:
        """Connect and subscribe; the session calls ``deliver`` (in the
        broker's thread) with each incoming message."""


class Down(NamedTuple):
    """The bridge lost the broker (or could not reach it at the start)."""

    error: BaseException


class Up(NamedTuple):
    """The bridge is connected again after a :class:`Down`."""

    lost: int
    downtime: float


class Outbox:
    """Encoded events waiting to be published, in send order.

    :meth:`put` runs in the sender's thread and never waits: it appends the
    event (numbering it: the ``seq`` of the envelope) unless the bridge is
    disconnected, in which case the event is lost at once. Bounded by
    ``max_bytes``: when full, the **oldest** events are dropped, so what is
    finally published is the most recent. Every loss is counted in
    :attr:`lost` and logged.
    """

    __slots__ = (
        "_bytes",
        "_down_warned",
        "_idle_waiters",
        "_in_flight",
        "_items",
        "_lock",
        "_overflow_unwarned",
        "_overflow_warned_at",
        "_seq",
        "_waiter",
        "is_open",
        "lost",
        "max_bytes",
        "published",
    )

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: deque[bytes] = deque()
        self._bytes = 0
        self._seq = 0
        self._lock = threading.Lock()
        self._waiter: Wakeup | None = None
        self._idle_waiters: list[Wakeup] = []
        self._in_flight = 0
        self._down_warned = False
        self._overflow_unwarned = 0
        self._overflow_warned_at = -_WARN_EVERY
        self.is_open = False
        self.lost = 0
        self.published = 0

    def put(self, body: bytes) -> None:
        """Queue one event (``body`` ends with ``"seq":``); any thread."""
        with self._lock:
            self._seq += 1
            if not self.is_open:
                self.lost += 1
                waiter = None
                dropped = -1
            else:
                data = body + b"%d}" % self._seq
                self._items.append(data)
                self._bytes += len(data)
                dropped = 0
                while self._bytes > self.max_bytes:
                    self._bytes -= len(self._items.popleft())
                    dropped += 1
                self.lost += dropped
                waiter, self._waiter = self._waiter, None
        if waiter is not None:
            waiter.set()
        if dropped > 0:
            self._warn_overflow(dropped)
        elif dropped < 0:
            self._warn_down()

    def _warn_down(self) -> None:
        # One warning per outage; the count at reconnection is logged too.
        if not self._down_warned:
            self._down_warned = True
            logger.warning(
                "the broker is unreachable: sends of shared signals run their "
                "local receivers only, and their events are lost (counted in "
                "Bridge.lost) until the bridge reconnects"
            )

    def _warn_overflow(self, dropped: int) -> None:
        self._overflow_unwarned += dropped
        now = time.monotonic()
        if now - self._overflow_warned_at >= _WARN_EVERY:
            self._overflow_warned_at = now
            count, self._overflow_unwarned = self._overflow_unwarned, 0
            logger.warning(
                "the outgoing buffer is full (max_buffer_bytes=%d): dropped the "
                "%d oldest events not yet published (%d lost in all)",
                self.max_bytes,
                count,
                self.lost,
            )

    async def take(self) -> list[bytes]:
        """The next events to publish (at most :data:`BATCH`), waiting for one."""
        while True:
            with self._lock:
                items = self._items
                if items:
                    if len(items) <= BATCH:
                        batch = list(items)
                        items.clear()
                        self._bytes = 0
                    else:
                        batch = [items.popleft() for _ in range(BATCH)]
                        self._bytes -= sum(map(len, batch))
                    self._in_flight = len(batch)
                    return batch
                waiter = self._waiter = Wakeup()
            try:
                await waiter.wait()
            finally:
                with self._lock:
                    if self._waiter is waiter:
                        self._waiter = None

    def done(self) -> None:
        """The batch from :meth:`take` was handed to the broker."""
        with self._lock:
            self.published += self._in_flight
            self._in_flight = 0
            idle = self._release_idle() if not self._items else []
        for each in idle:
            each.set()

    def open(self) -> None:
        """Connected: events are queued from now on."""
        with self._lock:
            self.is_open = True
            self._down_warned = False

    def close(self) -> int:
        """Disconnected: the events buffered or being published are lost, and
        so is every event until :meth:`open`. Returns how many were lost now."""
        with self._lock:
            count = len(self._items) + self._in_flight
            self.lost += count
            self._items.clear()
            self._bytes = self._in_flight = 0
            self.is_open = False
            idle = self._release_idle()
        for each in idle:
            each.set()
        return count

    def _release_idle(self) -> list[Wakeup]:
        idle, self._idle_waiters = self._idle_waiters, []
        return idle

    async def wait_idle(self) -> None:
        """Wait until everything queued is handed to the broker, or lost."""
        while True:
            with self._lock:
                if not (self.is_open and (self._items or self._in_flight)):
                    return
                waiter = Wakeup()
                self._idle_waiters.append(waiter)
            await waiter.wait()


class Inbox:
    """Messages from the broker, and connection changes, for the dispatcher.

    Bounded by ``max_bytes`` of messages: when the receivers cannot keep up,
    the oldest messages are dropped (logged; receivers see them as missed).
    Connection changes are never dropped.
    """

    __slots__ = (
        "_bytes",
        "_items",
        "_lock",
        "_unwarned",
        "_waiter",
        "_warned_at",
        "max_bytes",
    )

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: deque[bytes | Down | Up] = deque()
        self._bytes = 0
        self._lock = threading.Lock()
        self._waiter: Wakeup | None = None
        self._unwarned = 0
        self._warned_at = -_WARN_EVERY

    def put(self, item: bytes | Down | Up) -> None:
        """Queue a message or a connection change; any thread, never waits."""
        dropped = 0
        with self._lock:
            self._items.append(item)
            if type(item) is bytes:
                self._bytes += len(item)
                while self._bytes > self.max_bytes:
                    dropped += self._drop_oldest_message()
            waiter, self._waiter = self._waiter, None
        if waiter is not None:
            waiter.set()
        if dropped:
            self._warn(dropped)

    def _drop_oldest_message(self) -> int:
        items = self._items
        index = next(i for i, item in enumerate(items) if type(item) is bytes)
        message = items[index]
        del items[index]
        assert type(message) is bytes
        self._bytes -= len(message)
        return 1

    def _warn(self, dropped: int) -> None:
        self._unwarned += dropped
        now = time.monotonic()
        if now - self._warned_at >= _WARN_EVERY:
            self._warned_at = now
            count, self._unwarned = self._unwarned, 0
            logger.warning(
                "the incoming buffer is full (max_buffer_bytes=%d): receivers "
                "do not keep up, dropped the %d oldest incoming events",
                self.max_bytes,
                count,
            )

    async def take(self) -> list[bytes | Down | Up]:
        """The next items (at most :data:`BATCH`), waiting for one."""
        while True:
            with self._lock:
                items = self._items
                if items:
                    if len(items) <= BATCH:
                        batch = list(items)
                        items.clear()
                        self._bytes = 0
                    else:
                        batch = [items.popleft() for _ in range(BATCH)]
                        self._bytes -= sum(
                            len(item) for item in batch if type(item) is bytes
                        )
                    return batch
                waiter = self._waiter = Wakeup()
            try:
                await waiter.wait()
            finally:
                with self._lock:
                    if self._waiter is waiter:
                        self._waiter = None


class State:
    """What the session loop tells the bridge (read from any thread)."""

    __slots__ = ("connected",)

    def __init__(self) -> None:
        self.connected = False


def _delays() -> Iterator[float]:
    delay = _FIRST_DELAY
    while True:
        yield delay * random.uniform(0.8, 1.2)
        delay = min(delay * 2, _MAX_DELAY)


async def serve(
    broker: Broker,
    outbox: Outbox,
    inbox: Inbox,
    state: State,
    limit: float,
    name: str,
    first_attempt: Callable[[], None],
) -> None:
    """Connect, run the session until it fails, reconnect; forever (until
    cancelled). ``limit`` bounds a connection attempt and a round trip, in
    seconds. ``first_attempt`` is called once the first connection succeeded
    or failed."""
    delays = _delays()
    # When the bridge went down (None while connected, and before the first
    # attempt), and how many events had been lost before that.
    down_since: float | None = None
    lost_before = 0
    first = True
    while True:
        try:
            session = await asyncio.wait_for(broker.connect(inbox.put), limit)
        except Exception as error:
            if down_since is None:
                down_since, lost_before = time.monotonic(), outbox.lost
                inbox.put(Down(error))
                logger.warning(
                    "bridge %s cannot reach the broker (%s); retrying",
                    name,
                    _describe_error(error),
                )
            if first:
                first = False
                first_attempt()
            await asyncio.sleep(next(delays))
            continue
        delays = _delays()
        outbox.open()
        state.connected = True
        if down_since is not None:
            lost = outbox.lost - lost_before
            downtime = time.monotonic() - down_since
            inbox.put(Up(lost, downtime))
            logger.warning(
                "bridge %s reconnected after %.2f s; %d events sent meanwhile "
                "were lost",
                name,
                downtime,
                lost,
            )
        if first:
            first = False
            first_attempt()
        try:
            await _run_session(session, outbox, limit)
        except Exception as error:
            failure = error
        finally:
            # Also when cancelled (the bridge is closing).
            state.connected = False
            down_since, lost_before = time.monotonic(), outbox.lost
            dropped = outbox.close()
            await _close_session(session, limit, name)
        inbox.put(Down(failure))
        logger.warning(
            "bridge %s lost the broker (%s); %d events not yet published were "
            "lost; reconnecting",
            name,
            _describe_error(failure),
            dropped,
        )


async def _run_session(session: Session, outbox: Outbox, limit: float) -> None:
    """Receive, publish and check the connection until one of them fails."""
    loop = asyncio.get_running_loop()
    tasks = [
        loop.create_task(session.receive()),
        loop.create_task(_publish(session, outbox)),
        loop.create_task(_heartbeat(session, limit)),
    ]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    # Each of them runs until it fails.
    error = next(iter(done)).exception()
    assert error is not None
    raise error


async def _publish(session: Session, outbox: Outbox) -> None:
    while True:
        await session.publish(await outbox.take())
        outbox.done()


async def _heartbeat(session: Session, limit: float) -> None:
    # A broker that hangs (rather than closing the connection) is noticed here,
    # even by a process that only receives.
    while True:
        await asyncio.sleep(limit)
        await asyncio.wait_for(session.ping(), limit)


async def _close_session(session: Session, limit: float, name: str) -> None:
    try:
        await asyncio.wait_for(session.aclose(), limit)
    except Exception as error:
        logger.warning(
            "bridge %s: closing the connection failed (%s)",
            name,
            _describe_error(error),
        )


def _describe_error(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class Runner:
    """Runs the session loop: as a task on the application's asyncio loop, or,
    on trio, on an asyncio loop of its own in a helper thread."""

    __slots__ = (
        "_finished",
        "_lock",
        "_loop",
        "_main",
        "_stopping",
        "_task",
        "_thread",
        "in_thread",
    )

    def __init__(
        self, main: Callable[[], Coroutine[Any, Any, None]], in_thread: bool
    ) -> None:
        self._main = main
        self.in_thread = in_thread
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        # Created here, in the application's task: set from either side.
        self._finished = Wakeup()

    def start(self) -> None:
        if not self.in_thread:
            loop = asyncio.get_running_loop()
            self._loop = loop
            self._task = task = loop.create_task(self._run_here())
            task.add_done_callback(lambda _: self._finished.set())
            return
        self._thread = threading.Thread(
            target=self._thread_main, name="asyncsignal-bridge", daemon=True
        )
        self._thread.start()

    async def _run_here(self) -> None:
        try:
            await self._main()
        except asyncio.CancelledError:
            raise
        except BaseException:  # pragma: no cover - a bug in the session loop
            logger.exception("the bridge's session loop failed")

    def _thread_main(self) -> None:
        try:
            asyncio.run(self._run_in_thread())
        except asyncio.CancelledError:
            pass
        except BaseException:  # pragma: no cover - a bug in the session loop
            logger.exception("the bridge's helper thread failed")
        finally:
            self._finished.set()

    async def _run_in_thread(self) -> None:
        with self._lock:
            if self._stopping:
                return
            self._loop = asyncio.get_running_loop()
            self._task = asyncio.current_task()
        await self._main()

    async def stop(self, limit: float) -> bool:
        """Cancel the session loop and wait (at most ``limit`` seconds) for it
        to end; return whether it did. Call it shielded."""
        with self._lock:
            self._stopping = True
            loop, task = self._loop, self._task
        if task is not None and loop is not None:
            if self.in_thread:
                # The helper's loop may have closed already.
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(task.cancel)
            else:
                task.cancel()
        with anyio.move_on_after(limit):
            await self._finished.wait()
            if self._thread is not None:
                self._thread.join()
            return True
        return False


class LoopTask:
    """A task on the application's event loop that is no child of the task
    starting it: a plain asyncio task, or a trio *system* task. The body of
    ``async with bridge:`` then runs in no task group or cancel scope of ours,
    so its exceptions reach the caller as they are (a task group would wrap
    them in an ``ExceptionGroup``).

    ``func`` must not raise: what it raises is logged.
    """

    __slots__ = ("_done", "_func", "_scope", "_stopping", "_task")

    def __init__(self, func: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._func = func
        self._done = anyio.Event()
        self._task: asyncio.Task[None] | None = None
        self._scope: Any = None
        self._stopping = False

    def start(self) -> None:
        if asyncio_running():
            self._task = task = asyncio.get_running_loop().create_task(self._run())
            task.add_done_callback(lambda _: self._done.set())
        else:
            trio = sys.modules["trio"]
            # Like an asyncio task, it runs in a copy of the caller's context.
            trio.lowlevel.spawn_system_task(
                self._run_in_trio,
                name="asyncsignal.bridge dispatcher",
                context=contextvars.copy_context(),
            )

    async def _run(self) -> None:
        try:
            await self._func()
        except asyncio.CancelledError:
            raise
        except BaseException:  # pragma: no cover - a bug in the dispatcher
            logger.exception("the bridge's dispatcher failed")

    async def _run_in_trio(self) -> None:
        trio = sys.modules["trio"]
        try:
            with trio.CancelScope() as self._scope:
                if self._stopping:
                    self._scope.cancel()
                await self._func()
        except BaseException:  # pragma: no cover - a bug in the dispatcher
            # A system task must never raise: trio would crash the whole run.
            logger.exception("the bridge's dispatcher failed")
        finally:
            self._done.set()

    async def stop(self) -> None:
        """Cancel the task and wait for it to end. Call it shielded."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
        elif self._scope is not None:
            self._scope.cancel()
        await self._done.wait()
