"""trio: receivers run in a nursery, opened by :meth:`TrioRunner.wait` (trio
runs no new task before its parent waits anyway); a timeout is a cancel scope.
trio is looked up in ``sys.modules``, never imported: if it is not imported,
it is not running."""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sys
import threading
from typing import TYPE_CHECKING, Any

from .._context import enter_shared, leave_shared
from .._errors import ReceiverTimeout
from ._common import RunnerState, leaves, one_or_group, task_name

if sys.version_info < (3, 11):  # pragma: no cover - covered by the Python 3.10 run
    from exceptiongroup import BaseExceptionGroup

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

__all__ = ("TrioRunner", "TrioWakeup", "start_system_task")


class TrioRunner(RunnerState):
    __slots__ = ("_coros", "_limits", "_trio", "coroutines_share")

    def __init__(
        self,
        outcomes: list[Any],
        receivers: list[Any],
        trio: Any,
        context: contextvars.Context,
    ) -> None:
        super().__init__(outcomes, receivers, context)
        self._trio = trio
        #: Never: each task takes the send's context in _run.
        self.coroutines_share = False
        self._coros: list[tuple[Coroutine[Any, Any, Any], int, float | None]] = []
        #: index -> a receiver's timeout scope and limit, made on first use.
        self._limits: dict[int, tuple[Any, float]] | None = None

    @property
    def waiting(self) -> bool:
        return bool(self._coros)

    def start(
        self, coro: Coroutine[Any, Any, Any], index: int, timeout: float | None = None
    ) -> None:
        self._coros.append((coro, index, timeout))

    async def _run(self, coro: Coroutine[Any, Any, Any], index: int) -> None:
        # run_sharing's steps, inline: one coroutine less per receiver (W3 on
        # trio measures it).
        shared = self._context
        started = enter_shared(shared)
        try:
            self.outcomes[index] = await coro
        except Exception as error:
            self.errors[index] = error
        finally:
            leave_shared(shared, started)

    async def _run_with_limit(
        self, coro: Coroutine[Any, Any, Any], index: int, limit: float
    ) -> None:
        with self._trio.move_on_after(limit) as scope:
            if self._limits is None:
                self._limits = {}
            self._limits[index] = (scope, limit)
            await self._run(coro, index)
        if scope.cancelled_caught:
            self.errors[index] = ReceiverTimeout(self.receivers[index], limit)

    def limit_hit(self, index: int) -> float | None:
        if self._limits is None or index not in self._limits:
            return None
        scope, limit = self._limits[index]
        return limit if scope.cancel_called else None

    async def wait(self) -> None:
        trio = self._trio
        try:
            async with trio.open_nursery() as nursery:
                for coro, index, timeout in self._coros:
                    name = task_name(self.receivers[index])
                    if timeout is None:
                        nursery.start_soon(self._run, coro, index, name=name)
                    else:
                        nursery.start_soon(
                            self._run_with_limit, coro, index, timeout, name=name
                        )
            # trio's cancellation is level-triggered: if every receiver
            # absorbed its Cancelled, the nursery exits normally inside a
            # cancelled scope. Raise the cancellation here, as asyncio does,
            # instead of reporting what receivers did while being cancelled.
            await trio.lowlevel.checkpoint_if_cancelled()
        except BaseExceptionGroup as group:
            self.aborted_errors.extend(self.errors.items())
            # trio's nursery wraps even a single BaseException; raise it as
            # asyncio does.
            fatal = [
                leaf for leaf in leaves(group) if not isinstance(leaf, trio.Cancelled)
            ]
            if not fatal:
                raise
            raise one_or_group(fatal) from None
        except BaseException:
            self.aborted_errors.extend(self.errors.items())
            raise

    async def abort(self) -> None:
        # Nothing has run yet: trio runs a task only once the nursery waits.
        for coro, _, _ in self._coros:
            coro.close()
        self.aborted_errors.extend(self.errors.items())


class TrioWakeup:
    """:class:`~asyncsignal._backends.Wakeup` on trio: a ``trio.Event``, set
    through the run's token from other threads."""

    __slots__ = ("_event", "_thread", "_token")

    def __init__(self, trio: Any) -> None:
        self._event = trio.Event()
        self._token = trio.lowlevel.current_trio_token()
        self._thread = threading.get_ident()

    def set(self) -> None:
        if threading.get_ident() == self._thread:
            self._event.set()
            return
        # RuntimeError: that run has finished, so nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            self._token.run_sync_soon(self._event.set)

    async def wait(self) -> None:
        await self._event.wait()


def start_system_task(
    trio: Any,
    func: Callable[[], Coroutine[Any, Any, None]],
    done: Callable[[], None],
    name: str,
) -> Any:
    """Run ``func()`` as a trio system task (a copy of the caller's context,
    as an asyncio task gets), calling ``done()`` when it ends; return the
    cancel scope that stops it, made here so that it can be cancelled before
    the task runs. ``func`` must not raise: trio would crash the whole run."""
    scope = trio.CancelScope()

    async def run() -> None:
        try:
            with scope:
                await func()
        except BaseException:  # pragma: no cover - a bug in func
            # A system task must never raise: trio would crash the whole run.
            logging.getLogger("asyncsignal").exception("%s failed", name)
        finally:
            done()

    trio.lowlevel.spawn_system_task(run, name=name, context=contextvars.copy_context())
    return scope
