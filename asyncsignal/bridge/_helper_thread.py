"""Where the session loop runs: :class:`Runner`.

The broker side is an asyncio program (redis.asyncio and nats-py run only on
asyncio). On asyncio it runs as a plain task on the application's loop; on trio
it runs on an asyncio loop of its own in a helper thread. Either way it meets
the application only in the buffers (``_buffers.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from typing import TYPE_CHECKING

import anyio

from .._backends import wakeup
from ._session import RECANCEL

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine
    from typing import Any

__all__ = ("Runner",)

logger = logging.getLogger("asyncsignal.bridge")

#: How long starting the helper thread (and its event loop) may take.
_THREAD_START = 10.0


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
        # waited for repeatedly (stop() waits in short, cancelled rounds).
        self._finished = wakeup()

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
                with anyio.move_on_after(RECANCEL):
                    await self._finished.wait()
                    if self._thread is not None:
                        self._thread.join()
                    return True
        return False  # pragma: no cover - the session loop ignored cancellation
