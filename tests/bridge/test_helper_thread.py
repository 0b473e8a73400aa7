"""Where the session loop runs (``_helper_thread.py``): stopping it is bounded
even when it swallows a cancellation, on the application's loop and in the
helper thread."""

from __future__ import annotations

import asyncio
import contextlib

import anyio

from asyncsignal._backends import asyncio_running
from asyncsignal.bridge._helper_thread import Runner


async def _swallows_one_cancellation() -> None:
    # As redis-py does on Python 3.10, inside a pipeline.
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.sleep(3600)
    await asyncio.sleep(3600)


async def test_a_session_loop_that_swallows_a_cancellation_is_stopped_anyway() -> None:
    # On asyncio it runs on this loop, on trio in the helper thread.
    runner = Runner(_swallows_one_cancellation, in_thread=not asyncio_running())
    runner.start()
    await anyio.sleep(0.01)
    with anyio.fail_after(10):
        assert await runner.stop(5.0)
