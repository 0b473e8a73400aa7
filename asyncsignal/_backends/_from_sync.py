"""From synchronous code to async receivers: how ``send`` runs them, and
where it must refuse to."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import anyio.from_thread

from ._detect import running_in_event_loop_thread

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

__all__ = ("check_can_block", "run_from_sync")

T = TypeVar("T")


def check_can_block(method: str) -> None:
    """Refuse to wait for async receivers from an event loop's own thread.

    :raises RuntimeError: in the event loop's own thread, where waiting would
        deadlock the loop.
    """
    if running_in_event_loop_thread():
        raise RuntimeError(
            f"{method}() was called from a running event loop while async receivers "
            f"are connected; use 'await signal.a{method}(...)' instead"
        )


def run_from_sync(func: Callable[..., Awaitable[T]], *args: Any) -> T:
    """Run ``func(*args)`` to completion from synchronous code; return its result.

    - In a worker thread of a running event loop (``anyio.to_thread.run_sync``),
      it runs in that loop and this thread waits.
    - In a thread with no event loop, it runs on a new asyncio event loop, which
      is closed before this returns.

    The caller has checked :func:`check_can_block`.
    """
    entered = False

    async def entered_run() -> T:
        nonlocal entered
        entered = True
        return await func(*args)

    try:
        return anyio.from_thread.run(entered_run)
    except anyio.NoEventLoopError:
        # Raised before entering: no loop owns this thread. Once entered, func
        # isolates receivers' errors (send_with_policies' _run_later), so a
        # receiver's own NoEventLoopError never gets here; should a future func
        # let one through, it must not be taken for "no loop here".
        if entered:  # pragma: no cover - unreachable with today's callers
            raise
    # A loop factory keeps anyio from installing (and, on exit, clearing) the
    # thread's current event loop, which belongs to the caller.
    return anyio.run(
        entered_run,
        backend="asyncio",
        backend_options={"loop_factory": asyncio.new_event_loop},
    )
