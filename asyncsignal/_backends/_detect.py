"""Which backend runs the current task: decided here, and only here.

asyncio is told apart from trio by its *task*, not its loop: a trio run hosted
as a guest on an asyncio loop has the loop but no asyncio task. trio is looked
up in ``sys.modules``, never imported: if it is not imported, it is not running.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

__all__ = (
    "asyncio_loop",
    "asyncio_running",
    "running_in_event_loop_thread",
    "running_trio",
)

#: ``None`` or the running loop, without raising: ``asyncio.get_running_loop``
#: raises when there is none, which costs a microsecond on every trio send.
#: ``_get_running_loop`` has been asyncio's public-in-effect helper since 3.7
#: (libraries use it); the fallback keeps working if it ever goes, and
#: tests/backends/test_detect.py notices if it does.
_get_running_loop = getattr(asyncio, "_get_running_loop", None)


def _running_loop_or_none() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


running_loop = _get_running_loop or _running_loop_or_none


def asyncio_loop() -> asyncio.AbstractEventLoop | None:
    """The asyncio loop running the current asyncio task, or ``None`` (no
    loop, or a trio task, even one hosted as a guest on an asyncio loop)."""
    loop = running_loop()
    if loop is not None and asyncio.current_task(loop) is not None:
        return loop
    return None


def asyncio_running() -> bool:
    """Whether this is an asyncio task (not trio, even as a guest on asyncio)."""
    return asyncio_loop() is not None


def running_trio() -> Any:
    """The ``trio`` module if a trio task runs here, else ``None``."""
    trio = sys.modules.get("trio")
    if trio is not None and trio.lowlevel.in_trio_task():
        return trio
    return None


def running_in_event_loop_thread() -> bool:
    """True if an asyncio or trio event loop is running in this thread."""
    if running_loop() is not None:
        return True
    trio = sys.modules.get("trio")
    return trio is not None and bool(trio.lowlevel.in_trio_run())
