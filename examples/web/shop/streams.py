"""Event streams that end when the server is asked to stop.

An SSE stream reads a subscription that never ends on its own, and neither
uvicorn nor hypercorn tells a running request that the server is stopping:
each waits for open responses to finish (uvicorn forever by default,
hypercorn ``--graceful-timeout`` seconds, 3 by default, before cancelling
them), and sends the lifespan ``shutdown`` only after that. The signal
itself is what arrives first, so :meth:`OpenStreams.ending_on_stop` hooks
the server's SIGINT/SIGTERM handlers: the streams are closed, then the
server's handler runs. Each stream's ``async for`` ends once it has sent
what was already buffered, its response completes, and the server can exit.

hypercorn's workers are child processes: the parent gets the signal and
tells them through a pipe the app cannot see, and they ignore SIGINT and
die on SIGTERM. There, hypercorn's own ``--graceful-timeout`` ends the
streams (by cancelling them, which leaves their subscriptions).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import TYPE_CHECKING

import anyio.from_thread
import anyio.lowlevel

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator
    from types import FrameType

    from asyncsignal import AsyncSignal, Subscription

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class OpenStreams:
    """The subscriptions of this process's open streams; all of them are
    closed when the server is asked to stop."""

    def __init__(self) -> None:
        self._open: set[Subscription] = set()
        self.stopping = False

    @contextlib.asynccontextmanager
    async def subscribe(
        self, signal: AsyncSignal, *, max_buffer: int = 100
    ) -> AsyncIterator[Subscription]:
        """``signal.subscribe(max_buffer=...)``, closed when the server stops
        (at once if it is stopping already)."""
        async with signal.subscribe(max_buffer=max_buffer) as events:
            self._open.add(events)
            if self.stopping:
                events.close()
            try:
                yield events
            finally:
                self._open.discard(events)

    def close_all(self) -> None:
        """End every stream: each ends after the events already buffered."""
        self.stopping = True
        for events in list(self._open):
            events.close()

    @contextlib.contextmanager
    def ending_on_stop(self) -> Iterator[None]:
        """While inside (the app's lifespan, in the event loop's thread, which
        must be the main thread): on SIGINT or SIGTERM, close every stream,
        then run the server's handler. Signals the server does not handle in
        this process (ignored, or left to their default) are left alone."""
        token = anyio.lowlevel.current_token()
        previous: dict[int, Callable[[int, FrameType | None], object]] = {}

        def on_stop(signum: int, frame: FrameType | None) -> None:
            # A signal handler may interrupt a send that holds a subscription's
            # lock: the streams are closed from the event loop, by a thread.
            threading.Thread(target=self._close_all_from_thread, args=(token,)).start()
            previous[signum](signum, frame)

        for signum in _STOP_SIGNALS:
            handler = signal.getsignal(signum)
            if callable(handler):
                previous[signum] = handler
                signal.signal(signum, on_stop)
        try:
            yield
        finally:
            for stop_signal, server_handler in previous.items():
                if signal.getsignal(stop_signal) is on_stop:
                    signal.signal(stop_signal, server_handler)

    def _close_all_from_thread(self, token: anyio.lowlevel.EventLoopToken) -> None:
        with contextlib.suppress(anyio.RunFinishedError):
            anyio.from_thread.run_sync(self.close_all, token=token)
