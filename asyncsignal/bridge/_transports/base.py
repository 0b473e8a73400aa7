"""What every transport builds on: the :class:`Broker` and :class:`Session`
protocols the session loop drives, and :func:`uninterrupted`, for closing a
client that must not be cut short."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine
    from typing import Any

__all__ = ("Broker", "Session", "uninterrupted")

logger = logging.getLogger("asyncsignal.bridge")


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

    async def connect(self, deliver: Callable[[list[bytes]], bool]) -> Session:
        """Connect and subscribe; the session calls ``deliver`` (in the
        broker's thread) with the incoming messages, in order, as many at once
        as it read, and yields once to the event loop when it returns true."""


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
