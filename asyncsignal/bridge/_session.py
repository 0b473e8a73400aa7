"""The bridge's plumbing: buffers between the application and the broker, the
session loop that (re)connects, and where that loop runs.

The broker side is an asyncio program (redis.asyncio and nats-py run only on
asyncio). On asyncio it runs as a plain task on the application's loop; on trio
it runs on an asyncio loop in a helper thread (:class:`Runner`). Either way
the two sides meet only in two thread-safe buffers, each with one consumer
woken by a :func:`bell`:

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
from typing import TYPE_CHECKING, Generic, NamedTuple, Protocol, TypeVar

import anyio

from .._tasks import Wakeup, asyncio_running

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Iterator
    from typing import Any

    from ._urls import PublicUrl

__all__ = (
    "BATCH",
    "Broker",
    "Down",
    "DropWarning",
    "Inbox",
    "LoopTask",
    "Outbox",
    "Runner",
    "Session",
    "Up",
    "bell",
    "bounded",
    "logger",
    "serve",
    "uninterrupted",
)

logger = logging.getLogger("asyncsignal.bridge")

T = TypeVar("T")
ItemT = TypeVar("ItemT")

#: Most events handed to the broker (or to the dispatcher) at once.
BATCH = 256

#: Reconnection: the first retry after 50 ms, then doubling up to 2 s, jittered.
_FIRST_DELAY, _MAX_DELAY = 0.05, 2.0

#: At most one "buffer full" warning per this many seconds (counts stay exact).
_WARN_EVERY = 5.0

#: How often a task that went on after a cancellation is cancelled again.
_RECANCEL = 0.1

#: How long starting the helper thread (and its event loop) may take.
_THREAD_START = 10.0


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

    async def connect(self, deliver: Callable[[bytes], bool]) -> Session:
        """Connect and subscribe; the session calls ``deliver`` (in the
        broker's thread) with each incoming message, and yields once to the
        event loop when it returns true."""


class Down(NamedTuple):
    """The bridge lost the broker (or could not reach it at the start):
    ``error`` says why, without credentials, with the client's own error as
    its ``__cause__``."""

    error: ConnectionError


class Up(NamedTuple):
    """The bridge is connected again after a :class:`Down`."""

    lost: int
    downtime: float


class Bell(Protocol):
    """A one-shot wake-up for the task that made it (see :func:`bell`)."""

    def ring(self) -> None: ...

    async def wait(self) -> None: ...


def bell() -> Bell:
    """A one-shot wake-up for the current task: :meth:`~Bell.wait` in it,
    :meth:`~Bell.ring` from anywhere (a thread-safe hop when rung from another
    thread; never blocks). Lighter than ``_tasks.Wakeup``: one is made per
    wait, on the path of every event."""
    loop = asyncio._get_running_loop()
    if loop is not None and asyncio.current_task(loop) is not None:
        return _AsyncioBell(loop)
    return _TrioBell()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():  # a waiter cancelled meanwhile cancelled it
        future.set_result(None)


class _AsyncioBell:
    __slots__ = ("_future", "_loop", "_thread")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._future: asyncio.Future[None] = loop.create_future()
        self._thread = threading.get_ident()

    def ring(self) -> None:
        if threading.get_ident() == self._thread:
            _resolve(self._future)
        else:
            with contextlib.suppress(RuntimeError):  # that loop has closed
                self._loop.call_soon_threadsafe(_resolve, self._future)

    async def wait(self) -> None:
        await self._future


class _TrioBell:
    # On trio, bells are rung by the helper thread (the broker's loop).
    __slots__ = ("_event", "_token")

    def __init__(self) -> None:
        trio = sys.modules["trio"]
        self._event = trio.Event()
        self._token = trio.lowlevel.current_trio_token()

    def ring(self) -> None:
        with contextlib.suppress(RuntimeError):  # that run has finished
            self._token.run_sync_soon(self._event.set)

    async def wait(self) -> None:
        await self._event.wait()


class DropWarning:
    """A warning about dropped or rejected items, logged at most every
    :data:`_WARN_EVERY` seconds, with the count since the last one.
    ``message`` is a %-format with named fields: ``count`` and those given to
    :meth:`add`."""

    __slots__ = ("_message", "_unwarned", "_warned_at")

    def __init__(self, message: str) -> None:
        self._message = message
        self._unwarned = 0
        self._warned_at = -_WARN_EVERY

    def add(self, dropped: int, **fields: object) -> None:
        self._unwarned += dropped
        now = time.monotonic()
        if now - self._warned_at >= _WARN_EVERY:
            self._warned_at = now
            count, self._unwarned = self._unwarned, 0
            logger.warning(self._message, {"count": count, **fields})


class _Batches(Generic[ItemT]):
    """Items queued from any thread (under ``_lock``) and taken in batches by
    one consumer task, which a :func:`bell` in ``_waiter`` wakes; ``_bytes``
    counts the bytes of the queued ``bytes`` items."""

    __slots__ = ("_bytes", "_items", "_lock", "_waiter")

    def __init__(self) -> None:
        self._items: deque[ItemT] = deque()
        self._bytes = 0
        self._lock = threading.Lock()
        self._waiter: Bell | None = None

    def _taken(self, count: int) -> None:
        """Called with the lock held when a batch of ``count`` was taken."""

    async def take(self) -> list[ItemT]:
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
                            len(item) for item in batch if isinstance(item, bytes)
                        )
                    self._taken(len(batch))
                    return batch
                waiter = self._waiter = bell()
            try:
                await waiter.wait()
            finally:
                with self._lock:
                    if self._waiter is waiter:
                        self._waiter = None


class Outbox(_Batches[bytes]):
    """Encoded events waiting to be published, in send order.

    :meth:`put` runs in the sender's thread and never waits: it appends the
    event (numbering it: the ``seq`` of the envelope) unless the bridge is
    disconnected, in which case the event is lost at once. Bounded by
    ``max_bytes``: when full, the **oldest** events are dropped, so what is
    finally published is the most recent. Every loss is counted in
    :attr:`lost` and logged.
    """

    __slots__ = (
        "_down_warned",
        "_finish",
        "_idle_waiters",
        "_in_flight",
        "_overflow",
        "_seq",
        "is_open",
        "lost",
        "max_bytes",
        "published",
    )

    def __init__(self, max_bytes: int, finish: Callable[[bytes, int], bytes]) -> None:
        super().__init__()
        self.max_bytes = max_bytes
        self._finish = finish
        self._seq = 0
        self._idle_waiters: list[Bell] = []
        self._in_flight = 0
        self._down_warned = False
        self._overflow = DropWarning(
            "the outgoing buffer is full (max_buffer_bytes=%(max_bytes)d): "
            "dropped the %(count)d oldest events not yet published "
            "(%(lost)d lost in all)"
        )
        self.is_open = False
        self.lost = 0
        self.published = 0

    def put(self, body: bytes) -> None:
        """Queue one event (``body`` ends with ``"seq":``; ``finish(body, seq)``
        makes the message); any thread."""
        with self._lock:
            self._seq += 1
            if not self.is_open:
                self.lost += 1
                waiter = None
                dropped = -1
            else:
                data = self._finish(body, self._seq)
                self._items.append(data)
                self._bytes += len(data)
                dropped = 0
                while self._bytes > self.max_bytes:
                    self._bytes -= len(self._items.popleft())
                    dropped += 1
                self.lost += dropped
                waiter, self._waiter = self._waiter, None
        if waiter is not None:
            waiter.ring()
        if dropped > 0:
            self._overflow.add(dropped, max_bytes=self.max_bytes, lost=self.lost)
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

    def _taken(self, count: int) -> None:
        # Lost, not published, if the connection closes before done().
        self._in_flight = count

    def done(self) -> None:
        """The batch from :meth:`take` was handed to the broker."""
        with self._lock:
            self.published += self._in_flight
            self._in_flight = 0
            idle = self._release_idle() if not self._items else []
        for each in idle:
            each.ring()

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
            each.ring()
        return count

    def _release_idle(self) -> list[Bell]:
        idle, self._idle_waiters = self._idle_waiters, []
        return idle

    async def wait_idle(self) -> None:
        """Wait until everything queued is handed to the broker, or lost."""
        while True:
            with self._lock:
                if not (self.is_open and (self._items or self._in_flight)):
                    return
                waiter = bell()
                self._idle_waiters.append(waiter)
            await waiter.wait()


class Inbox(_Batches["bytes | Down | Up"]):
    """Messages from the broker, and connection changes, for the dispatcher.

    Bounded by ``max_bytes`` of messages: when the receivers cannot keep up,
    the oldest messages are dropped (logged; receivers see them as missed).
    Connection changes are never dropped. Messages this bridge published
    itself (brokers echo them) are dropped on arrival, by their prefix.
    """

    __slots__ = ("_echo", "_overflow", "max_bytes")

    def __init__(self, max_bytes: int, echo_prefix: bytes) -> None:
        super().__init__()
        self.max_bytes = max_bytes
        self._echo = echo_prefix
        self._overflow = DropWarning(
            "the incoming buffer is full (max_buffer_bytes=%(max_bytes)d): "
            "receivers do not keep up, dropped the %(count)d oldest incoming "
            "events"
        )

    def deliver(self, message: bytes) -> bool:
        """Queue a message from the broker (any thread, never waits); return
        whether it woke the dispatcher. A broker's reader that is on the
        dispatcher's loop then yields once, so that the dispatcher runs
        before the reader goes on reading: that is the latency of the event."""
        if message.startswith(self._echo):
            return False
        return self.put(message)

    def put(self, item: bytes | Down | Up) -> bool:
        """Queue a message or a connection change; any thread, never waits.
        Returns whether it woke the dispatcher."""
        dropped = 0
        with self._lock:
            self._items.append(item)
            if type(item) is bytes:
                self._bytes += len(item)
                while self._bytes > self.max_bytes:
                    dropped += self._drop_oldest_message()
            waiter, self._waiter = self._waiter, None
        if dropped:
            self._overflow.add(dropped, max_bytes=self.max_bytes)
        if waiter is None:
            return False
        waiter.ring()
        return True

    def _drop_oldest_message(self) -> int:
        items = self._items
        index = next(i for i, item in enumerate(items) if type(item) is bytes)
        message = items[index]
        del items[index]
        assert type(message) is bytes
        self._bytes -= len(message)
        return 1


class State:
    """What the session loop tells the bridge (read from any thread), and the
    tasks waiting for it to connect."""

    __slots__ = ("_lock", "_waiters", "connected", "running")

    def __init__(self) -> None:
        self.connected = False
        self.running = False
        self._lock = threading.Lock()
        self._waiters: list[Bell] = []

    def set_connected(self, connected: bool) -> None:
        """Any thread."""
        with self._lock:
            self.connected = connected
            waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.ring()

    def set_running(self, running: bool) -> None:
        """Any thread; waiters give up when it is false."""
        with self._lock:
            self.running = running
            waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.ring()

    async def wait_connected(self) -> bool:
        """Wait until connected (return true, at once if connected now) or
        not running (return false)."""
        while True:
            with self._lock:
                if self.connected:
                    return True
                if not self.running:
                    return False
                waiter = bell()
                self._waiters.append(waiter)
            try:
                await waiter.wait()
            finally:
                # Cancelled: no ring will take it off.
                with self._lock:
                    if waiter in self._waiters:
                        self._waiters.remove(waiter)


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
    url: PublicUrl,
    first_attempt: Callable[[], None],
) -> None:
    """Connect, run the session until it fails, reconnect; forever (until
    cancelled). ``limit`` bounds a connection attempt and a round trip, in
    seconds. ``url`` names the broker in logs and errors. ``first_attempt`` is
    called once the first connection succeeded or failed."""
    delays = _delays()
    # When the bridge went down (None while connected, and before the first
    # attempt), and how many events had been lost before that.
    down_since: float | None = None
    lost_before = 0
    first = True
    while True:
        try:
            session = await bounded(broker.connect(inbox.deliver), limit)
        except Exception as error:
            if down_since is None:
                down_since, lost_before = time.monotonic(), outbox.lost
                down = _down(error, f"bridge {url} cannot reach the broker", url)
                inbox.put(down)
                logger.warning("%s; retrying", down.error)
            if first:
                first = False
                first_attempt()
            await asyncio.sleep(next(delays))
            continue
        delays = _delays()
        outbox.open()
        state.set_connected(True)
        if down_since is not None:
            lost = outbox.lost - lost_before
            downtime = time.monotonic() - down_since
            inbox.put(Up(lost, downtime))
            logger.warning(
                "bridge %s reconnected after %.2f s; %d events sent meanwhile "
                "were lost",
                url,
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
            state.set_connected(False)
            down_since, lost_before = time.monotonic(), outbox.lost
            dropped = outbox.close()
            await _close_session(session, limit, url)
        down = _down(failure, f"bridge {url} lost the broker", url)
        inbox.put(down)
        logger.warning(
            "%s; %d events not yet published were lost; reconnecting",
            down.error,
            dropped,
        )


def _down(error: Exception, what: str, url: PublicUrl) -> Down:
    """A :class:`Down` whose error is a builtin ``ConnectionError`` on every
    broker (redis-py's own is not one), caused by the client's ``error``."""
    announced = ConnectionError(f"{what} ({url.describe(error)})")
    announced.__cause__ = error
    return Down(announced)


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
        await _cancel_and_wait(tasks)
    # Each of them runs until it fails.
    error = next(iter(done)).exception()
    assert error is not None
    raise error


async def _cancel_and_wait(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel ``tasks`` and wait for them to end, cancelling again those that
    go on: a client that swallows a cancellation (redis-py on Python 3.10,
    inside a pipeline) must not keep a session alive. Their errors are
    retrieved whenever they end, also after this was itself cancelled (the
    bridge stopping re-cancels the session loop while it waits here)."""
    for task in tasks:
        task.add_done_callback(_retrieve)
    pending = tasks
    while pending:
        for task in pending:
            task.cancel()
        _, still = await asyncio.wait(pending, timeout=_RECANCEL)
        pending = list(still)


def _retrieve(task: asyncio.Task[None]) -> None:
    # What a session task raised has been reported through the session loop,
    # or does not matter once the session ends; asyncio would log it as never
    # retrieved.
    if not task.cancelled():
        task.exception()


async def _publish(session: Session, outbox: Outbox) -> None:
    while True:
        await session.publish(await outbox.take())
        outbox.done()


async def _heartbeat(session: Session, limit: float) -> None:
    # A broker that hangs (rather than closing the connection) is noticed here,
    # even by a process that only receives.
    while True:
        await asyncio.sleep(limit)
        await bounded(session.ping(), limit)


async def _close_session(session: Session, limit: float, url: PublicUrl) -> None:
    try:
        await uninterrupted(bounded(session.aclose(), limit))
    # Only a hung broker with more unsent data than the socket buffers hold
    # makes the clients' own close wait; their sockets are then released when
    # the broker wakes up or the process exits.
    except Exception as error:  # pragma: no cover
        logger.warning(
            "bridge %s: closing the connection failed (%s)",
            url,
            url.describe(error),
        )


async def bounded(step: Coroutine[Any, Any, T], limit: float) -> T:
    """Await ``step`` in this task, cancelled after ``limit`` seconds with
    ``TimeoutError``. (``asyncio.wait_for`` on Python 3.10 runs it in a task of
    its own, whose error is never retrieved when the caller is cancelled as
    it fails.)"""
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(limit):
            return await step
    else:  # pragma: no cover - covered by the Python 3.10 run
        task = asyncio.current_task()
        assert task is not None
        expired = False

        def expire() -> None:
            nonlocal expired
            expired = True
            task.cancel()

        timer = asyncio.get_running_loop().call_later(limit, expire)
        try:
            return await step
        except asyncio.CancelledError:
            if expired:
                raise TimeoutError from None
            raise
        finally:
            timer.cancel()


async def uninterrupted(cleanup: Coroutine[Any, Any, None]) -> None:
    """Run ``cleanup`` to its end even if this task is cancelled meanwhile, and
    re-raise the cancellation afterwards: a client's close that is cut short
    leaves its socket open. Every cleanup passed here is bounded in time."""
    task = asyncio.get_running_loop().create_task(cleanup)
    cancelled: asyncio.CancelledError | None = None
    while not task.done():
        try:
            # Unlike a shield, waiting never raises the cleanup's error, which
            # would take the place of a cancellation that came first.
            await asyncio.wait((task,))
        except asyncio.CancelledError as error:
            cancelled = error
    if cancelled is not None:
        if not task.cancelled() and (failure := task.exception()) is not None:
            # Retrieved, or asyncio would report it as never retrieved; the
            # cancellation propagates (closing a connection that is already
            # broken may fail, e.g. a bridge stopped mid-burst).
            logger.debug(
                "a cleanup failed while cancelled: %s", _describe_error(failure)
            )
        raise cancelled
    task.result()


def _describe_error(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class Runner:
    """Runs the session loop: as a task on the application's asyncio loop, or,
    on trio, on an asyncio loop of its own in a helper thread."""

    __slots__ = (
        "_finished",
        "_loop",
        "_main",
        "_task",
        "_thread",
        "in_thread",
    )

    def __init__(
        self, main: Callable[[], Coroutine[Any, Any, None]], in_thread: bool
    ) -> None:
        self._main = main
        self.in_thread = in_thread
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None
        # Created here, in the application's task: set from either side, and
        # (unlike a bell) waited for repeatedly.
        self._finished = Wakeup()

    def start(self) -> None:
        if not self.in_thread:
            loop = asyncio.get_running_loop()
            self._loop = loop
            self._task = task = loop.create_task(self._run_here())
            task.add_done_callback(lambda _: self._finished.set())
            return
        registered = threading.Event()
        self._thread = threading.Thread(
            target=self._thread_main,
            args=(registered,),
            name="asyncsignal-bridge",
            daemon=True,
        )
        self._thread.start()
        # A few milliseconds, once per `async with`: then stop() always finds
        # the helper's loop and task.
        registered.wait(_THREAD_START)

    async def _run_here(self) -> None:
        try:
            await self._main()
        except asyncio.CancelledError:
            raise
        except BaseException:  # pragma: no cover - a bug in the session loop
            logger.exception("the bridge's session loop failed")

    def _thread_main(self, registered: threading.Event) -> None:
        try:
            asyncio.run(self._run_in_thread(registered))
        except asyncio.CancelledError:
            pass
        except BaseException:  # pragma: no cover - a bug in the session loop
            logger.exception("the bridge's helper thread failed")
        finally:
            self._finished.set()

    async def _run_in_thread(self, registered: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        registered.set()
        await self._main()

    async def stop(self, limit: float) -> bool:
        """Cancel the session loop and wait (at most ``limit`` seconds) for it
        to end, cancelling it again while it goes on; return whether it ended.
        Call it shielded."""
        loop, task = self._loop, self._task
        assert loop is not None, "stop() before start()"
        assert task is not None
        with anyio.move_on_after(limit):
            while True:
                if self.in_thread:
                    # The helper's loop may have closed already.
                    with contextlib.suppress(RuntimeError):
                        loop.call_soon_threadsafe(task.cancel)
                else:
                    task.cancel()
                with anyio.move_on_after(_RECANCEL):
                    await self._finished.wait()
                    if self._thread is not None:
                        self._thread.join()
                    return True
        return False  # pragma: no cover - the session loop ignored cancellation


class LoopTask:
    """A task on the application's event loop that is no child of the task
    starting it: a plain asyncio task, or a trio *system* task. The body of
    ``async with bridge:`` then runs in no task group or cancel scope of ours,
    so its exceptions reach the caller as they are (a task group would wrap
    them in an ``ExceptionGroup``).

    ``func`` must not raise: what it raises is logged.
    """

    __slots__ = ("_done", "_func", "_scope", "_task")

    def __init__(self, func: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._func = func
        self._done = anyio.Event()
        self._task: asyncio.Task[None] | None = None
        self._scope: Any = None

    def start(self) -> None:
        if asyncio_running():
            self._task = task = asyncio.get_running_loop().create_task(self._run())
            task.add_done_callback(lambda _: self._done.set())
        else:
            trio = sys.modules["trio"]
            # Made here, so that stop() can cancel it before the task runs.
            self._scope = trio.CancelScope()
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
        try:
            with self._scope:
                await self._func()
        except BaseException:  # pragma: no cover - a bug in the dispatcher
            # A system task must never raise: trio would crash the whole run.
            logger.exception("the bridge's dispatcher failed")
        finally:
            self._done.set()

    async def stop(self) -> None:
        """Cancel the task and wait for it to end. Call it shielded."""
        if self._task is not None:
            self._task.cancel()
        else:
            self._scope.cancel()
        await self._done.wait()
