"""Where a workload runs: no event loop, asyncio, uvloop or trio."""

from __future__ import annotations

import asyncio
import importlib.util
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from .receivers import Sleep

__all__ = ("Backend", "run_on", "sleep_for", "unavailable")

#: ``sync``: plain calls in the main thread, no event loop running.
Backend = Literal["sync", "asyncio", "uvloop", "trio"]

T = TypeVar("T")


def unavailable(backend: Backend) -> str | None:
    """Why ``backend`` cannot run here, or ``None`` if it can."""
    if backend in ("uvloop", "trio") and importlib.util.find_spec(backend) is None:
        return f"{backend} is not installed"
    return None


def run_on(backend: Backend, main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``main()`` to completion on ``backend``."""
    if backend == "sync":
        return _run_without_loop(main())
    if backend == "asyncio":
        return asyncio.run(main())
    if backend == "uvloop":
        import uvloop

        loop = uvloop.new_event_loop()
        try:
            return loop.run_until_complete(main())
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
    import trio

    return trio.run(main)


def _run_without_loop(coro: Coroutine[Any, Any, T]) -> T:
    # Sync workloads share the async driver; their coroutine never suspends
    # (every awaited call is plain synchronous code), so one send() finishes it.
    try:
        coro.send(None)
    except StopIteration as done:
        return cast("T", done.value)
    coro.close()
    raise RuntimeError("a workload on the 'sync' backend tried to suspend")


def sleep_for(backend: Backend) -> Sleep | None:
    """The backend's ``sleep`` for I/O-simulating receivers (``None``: no loop)."""
    if backend in ("asyncio", "uvloop"):
        return asyncio.sleep
    if backend == "trio":
        import trio

        return trio.sleep
    return None
