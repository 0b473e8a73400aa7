"""The session loop, :func:`serve`: connect to the broker, publish the outbox,
fill the inbox and check the connection, until the session fails; then tell
the bridge (:class:`Down`, :class:`Up`, :class:`State`) and reconnect, with
backoff, forever (until cancelled). It runs on an asyncio loop (see
``_helper_thread.py``) and drives a transport through ``_transports/base.py``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import sys
import threading
import time
from typing import TYPE_CHECKING, NamedTuple, TypeVar

from .._backends import wakeup
from ._transports.base import uninterrupted

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Iterator
    from typing import Any

    from .._backends import Wakeup
    from ._buffers import Inbox, Outbox
    from ._transports.base import Broker, Session
    from ._urls import PublicUrl

__all__ = ("RECANCEL", "Down", "State", "Up", "bounded", "serve")

logger = logging.getLogger("asyncsignal.bridge")

T = TypeVar("T")

#: Reconnection: the first retry after 50 ms, then doubling up to 2 s, jittered.
_FIRST_DELAY, _MAX_DELAY = 0.05, 2.0

#: How often a task that went on after a cancellation is cancelled again.
RECANCEL = 0.1


class Down(NamedTuple):
    """The bridge lost the broker (or could not reach it at the start):
    ``error`` says why, without credentials, with the client's own error as
    its ``__cause__``."""

    error: ConnectionError


class Up(NamedTuple):
    """The bridge is connected again after a :class:`Down`."""

    lost: int
    downtime: float


class State:
    """What the session loop tells the bridge (read from any thread), and the
    tasks waiting for it to connect."""

    __slots__ = ("_lock", "_waiters", "connected", "running")

    def __init__(self) -> None:
        self.connected = False
        self.running = False
        self._lock = threading.Lock()
        self._waiters: set[Wakeup] = set()

    def set_connected(self, connected: bool) -> None:
        """Any thread."""
        with self._lock:
            self.connected = connected
        self._wake_waiters()

    def set_running(self, running: bool) -> None:
        """Any thread; waiters give up when it is false."""
        with self._lock:
            self.running = running
        self._wake_waiters()

    def _wake_waiters(self) -> None:
        # Each one checks the state again: one that started waiting after the
        # change is woken for nothing, and waits again.
        with self._lock:
            waiters, self._waiters = self._waiters, set()
        for waiter in waiters:
            waiter.set()

    async def wait_connected(self) -> bool:
        """Wait until connected (return true, at once if connected now) or
        not running (return false)."""
        while True:
            with self._lock:
                if self.connected:
                    return True
                if not self.running:
                    return False
                waiter = wakeup()
                self._waiters.add(waiter)
            try:
                await waiter.wait()
            finally:
                # Cancelled: no ring will take it off.
                with self._lock:
                    self._waiters.discard(waiter)


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
            _reconnected(inbox, lost, time.monotonic() - down_since, url)
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


def _reconnected(inbox: Inbox, lost: int, downtime: float, url: PublicUrl) -> None:
    inbox.put(Up(lost, downtime))
    logger.warning(
        "bridge %s reconnected after %.2f s; %d events sent meanwhile were lost",
        url,
        downtime,
        lost,
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
        _, still = await asyncio.wait(pending, timeout=RECANCEL)
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
