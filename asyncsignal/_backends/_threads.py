"""Where ``thread=True`` receivers run under ``asend``: anyio's worker
threads, within its default thread limiter."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
import anyio.to_thread

from ._detect import asyncio_running

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ("run_in_worker_thread",)


async def run_in_worker_thread(call: Callable[[], Any]) -> Any:
    """Run a sync receiver's call in one of anyio's worker threads, taking a
    token of anyio's default thread limiter for as long as the call runs.

    If the waiting task is cancelled (a timeout, a cancelled ``asend``), this
    stops waiting at once; the thread cannot be interrupted: it runs to its end
    unobserved and keeps its token until then, so hung receivers never run more
    threads at once than the limiter has tokens. A call cancelled before its
    thread took it up is never made.
    """
    if asyncio_running():
        return await _run_in_worker_thread_on_asyncio(call)
    # trio's own to_thread keeps an abandoned thread's token until it ends.
    return await anyio.to_thread.run_sync(call, abandon_on_cancel=True)


#: Per event loop, the limiter handed to anyio's ``to_thread.run_sync`` by
#: :func:`_run_in_worker_thread_on_asyncio`: it never makes anyone wait.
_UNLIMITED: anyio.lowlevel.RunVar[anyio.CapacityLimiter] = anyio.lowlevel.RunVar(
    "asyncsignal_unlimited"
)


async def _run_in_worker_thread_on_asyncio(call: Callable[[], Any]) -> Any:
    # anyio's asyncio backend returns the limiter token of an abandoned call
    # at once, while its thread runs on: hung receivers would pile up threads
    # without bound. So the token of the default limiter is taken here, and
    # returned when the thread ends (or when the call is known never to run).
    limiter = anyio.to_thread.current_default_thread_limiter()
    borrower = object()
    try:
        limiter.acquire_on_behalf_of_nowait(borrower)
    except anyio.WouldBlock:
        await limiter.acquire_on_behalf_of(borrower)
    tokened = _TokenedCall(
        call,
        functools.partial(limiter.release_on_behalf_of, borrower),
        asyncio.get_running_loop(),
    )
    unlimited = _UNLIMITED.get(None)
    if unlimited is None:
        unlimited = anyio.CapacityLimiter(math.inf)
        _UNLIMITED.set(unlimited)
    try:
        return await anyio.to_thread.run_sync(
            tokened, abandon_on_cancel=True, limiter=unlimited
        )
    finally:
        tokened.stop_waiting()


class _TokenedCall:
    """A call for a worker thread holding a limiter token, returned by
    ``release`` (in the loop's thread) once the call has ended or is known
    never to start: by the waiting task if it is still waiting then, else by
    the thread through ``loop``.

    Two claims decide who does what, each taken by whichever side pops it
    first (``list.pop`` is atomic): "start" by the thread as it starts the
    call, or by the waiting task if it stops waiting before that (the call is
    then skipped); "finish" by the thread as the call ends, or by the waiting
    task if it stops waiting while the call runs.
    """

    __slots__ = ("_call", "_finish", "_loop", "_release", "_start")

    def __init__(
        self,
        call: Callable[[], Any],
        release: Callable[[], None],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._call = call
        self._release = release
        self._loop = loop
        self._start = [True]
        self._finish = [True]

    def __call__(self) -> Any:
        """Make the call, in the worker thread."""
        if not _claim(self._start):
            return None
        try:
            return self._call()
        finally:
            if not _claim(self._finish):
                # RuntimeError: the loop has closed; its limiter went with it.
                with contextlib.suppress(RuntimeError):
                    self._loop.call_soon_threadsafe(self._release)

    def stop_waiting(self) -> None:
        """The waiting task is done waiting: the call ended, or it was
        cancelled."""
        if _claim(self._start) or not _claim(self._finish):
            self._release()


def _claim(claims: list[bool]) -> bool:
    try:
        return claims.pop()
    except IndexError:
        return False
