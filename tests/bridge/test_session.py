"""The session loop's asyncio seams that the end-to-end tests cannot steer:
its tasks' cancellation (``_session.py``) and closing a client uninterrupted
(``_transports/base.py``)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging

import pytest
from support.backends import ASYNCIO_BACKENDS

from asyncsignal.bridge._session import _cancel_and_wait
from asyncsignal.bridge._transports.base import uninterrupted


@pytest.mark.parametrize("anyio_backend", ASYNCIO_BACKENDS)
async def test_a_cleanup_runs_to_its_end_when_its_task_is_cancelled() -> None:
    # The broker clients' close() leaks its socket when cut short, and a
    # bridge may be stopped while it closes a failed connection.
    release = asyncio.Event()
    finished: list[str] = []

    async def close() -> None:
        await release.wait()
        finished.append("closed")

    closing = asyncio.ensure_future(uninterrupted(close()))
    await asyncio.sleep(0)
    closing.cancel()
    await asyncio.sleep(0)
    closing.cancel()  # twice: it keeps waiting
    await asyncio.sleep(0)
    assert not closing.done()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await closing
    assert finished == ["closed"]


@pytest.mark.parametrize("anyio_backend", ASYNCIO_BACKENDS)
async def test_a_cleanup_failing_after_its_task_was_cancelled_is_retrieved(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The cancellation propagates; the cleanup's error is logged (debug), and
    retrieved: asyncio would report it as never retrieved (seen: closing a
    Redis connection broken by a bridge stopped mid-burst)."""
    release = asyncio.Event()

    async def close() -> None:
        await release.wait()
        raise ConnectionError("the connection was already broken")

    closing = asyncio.ensure_future(uninterrupted(close()))
    await asyncio.sleep(0)
    closing.cancel()
    await asyncio.sleep(0)
    release.set()
    with caplog.at_level(logging.DEBUG, "asyncsignal.bridge"):
        with pytest.raises(asyncio.CancelledError):
            await closing
        del closing
        gc.collect()  # an unretrieved exception is reported when collected
    assert "a cleanup failed while cancelled: ConnectionError" in caplog.text


@pytest.mark.parametrize("anyio_backend", ASYNCIO_BACKENDS)
async def test_a_cleanup_that_fails_raises_its_error() -> None:
    async def close() -> None:
        await asyncio.sleep(0)
        raise OSError("reset")

    with pytest.raises(OSError, match="reset"):
        await uninterrupted(close())


async def _swallows_one_cancellation() -> None:
    # As redis-py does on Python 3.10, inside a pipeline.
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.sleep(3600)
    await asyncio.sleep(3600)


@pytest.mark.parametrize("anyio_backend", ASYNCIO_BACKENDS)
async def test_tasks_that_swallow_a_cancellation_are_cancelled_again() -> None:
    tasks = [asyncio.ensure_future(_swallows_one_cancellation()) for _ in range(2)]
    await asyncio.sleep(0)
    await _cancel_and_wait(tasks)
    assert all(task.cancelled() for task in tasks)


@pytest.mark.parametrize("anyio_backend", ASYNCIO_BACKENDS)
async def test_session_tasks_failing_after_their_wait_was_cancelled_are_retrieved() -> (
    None
):
    """The bridge stopping re-cancels the session loop while it waits for its
    tasks; one that fails afterwards (seen: a Redis ConnectionError while the
    bridge stopped mid-burst) must not be reported as never retrieved."""
    release = asyncio.Event()

    async def fails_once_released() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            await release.wait()  # a client's teardown, still going on
            raise ConnectionError("the connection was already broken") from None

    task = asyncio.ensure_future(fails_once_released())
    await asyncio.sleep(0)
    waiting = asyncio.ensure_future(_cancel_and_wait([task]))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    release.set()
    await asyncio.wait((task,))  # it ends with its error, which nobody awaits:
    assert not task.cancelled()
    del task
    gc.collect()  # asyncio reports it when collected, unless it was retrieved
