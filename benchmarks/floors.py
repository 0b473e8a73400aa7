"""Raw floors: the same receiver calls with no signal library in between.

Each makes exactly the calls a signal would, ``r(signal=..., sender=..., x=1)``
for every receiver, with the least machinery of its kind. They show what a
design could cost at best (sequential await) and what plain concurrency costs
(tasks, task groups, nurseries).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import sys
from collections.abc import Callable, Coroutine
from typing import Any, ClassVar

from .backends import sleep_for
from .calls import Call, Dispatch, Unsupported
from .receivers import Model, Probe, make_receivers

__all__ = ("FLOORS", "Floor")

#: What the floors pass as ``signal=``.
_SIGNAL = object()

FloorFn = Callable[[], Coroutine[Any, Any, Any]]


class Floor:
    """Base: receivers connected for any sender, called by ``expr``."""

    name: ClassVar[str]
    mode: ClassVar[str] = "asend"
    backends: ClassVar[tuple[str, ...]] = ("asyncio", "uvloop")
    #: ``floor()`` in ``expr`` is built by :meth:`make_floor`.
    expr: ClassVar[str] = "await floor()"
    #: Whether it calls sync receivers under ``asend`` too.
    takes_sync: ClassVar[bool] = False

    def build(self, dispatch: Dispatch, probe: Probe | None) -> Call:
        if dispatch.mode != self.mode or dispatch.senders:
            raise Unsupported(f"{self.name} only covers {self.mode} to any sender")
        if dispatch.backend not in self.backends:
            raise Unsupported(f"{self.name} does not run on {dispatch.backend}")
        if "sync" in dispatch.kinds and self.mode == "asend" and not self.takes_sync:
            raise Unsupported(f"{self.name} awaits every receiver: async only")
        self.check_python()
        receivers = make_receivers(
            dispatch.kinds, sleep=sleep_for(dispatch.backend), probe=probe
        )
        namespace: dict[str, Any] = {"rs": receivers, "sig": _SIGNAL, "sender": Model}
        namespace["floor"] = self.make_floor(receivers)
        return Call(self.expr, namespace, is_async=self.mode == "asend")

    def check_python(self) -> None:
        """Raise :class:`Unsupported` on a Python without the needed feature."""

    def make_floor(self, receivers: list[Callable[..., Any]]) -> FloorFn | None:
        return None


class ListComp(Floor):
    """W2's floor: a list comprehension calling each sync receiver."""

    name = "raw: list comp"
    mode = "send"
    backends = ("sync",)
    expr = "[r(signal=sig, sender=sender, x=1) for r in rs]"


class AwaitInTurn(Floor):
    """The sequential floor: await each receiver in turn, no concurrency."""

    name = "raw: await in turn"
    backends = ("asyncio", "uvloop", "trio")
    expr = "[await r(signal=sig, sender=sender, x=1) for r in rs]"


class EagerTasks(Floor):
    """One ``asyncio.Task`` per receiver with ``eager_start=True`` (3.12+)."""

    name = "raw: eager tasks"

    def check_python(self) -> None:
        if sys.version_info < (3, 12):
            raise Unsupported("eager_start needs Python 3.12+")

    def make_floor(self, receivers: list[Callable[..., Any]]) -> FloorFn | None:
        loop = asyncio.get_running_loop()

        async def floor() -> list[Any]:
            if sys.version_info >= (3, 12):
                tasks = [
                    asyncio.Task(
                        r(signal=_SIGNAL, sender=Model, x=1),
                        loop=loop,
                        eager_start=True,
                    )
                    for r in receivers
                ]
                # Finished tasks (the receiver never suspended) don't yield here.
                return [await task for task in tasks]
            raise AssertionError("unreachable: checked by check_python")

        return floor


class TaskGroupFloor(Floor):
    """``asyncio.TaskGroup`` with one task per receiver (3.11+), as Django."""

    name = "raw: asyncio.TaskGroup"

    def check_python(self) -> None:
        if sys.version_info < (3, 11):
            raise Unsupported("asyncio.TaskGroup needs Python 3.11+")

    def make_floor(self, receivers: list[Callable[..., Any]]) -> FloorFn | None:
        async def floor() -> list[Any]:
            if sys.version_info >= (3, 11):
                async with asyncio.TaskGroup() as group:
                    tasks = [
                        group.create_task(r(signal=_SIGNAL, sender=Model, x=1))
                        for r in receivers
                    ]
                return [task.result() for task in tasks]
            raise AssertionError("unreachable: checked by check_python")

        return floor


class AnyioTaskGroup(Floor):
    """An anyio task group, ``start_soon`` per receiver (results not kept)."""

    name = "raw: anyio task group"
    backends = ("asyncio", "uvloop", "trio")

    def make_floor(self, receivers: list[Callable[..., Any]]) -> FloorFn | None:
        import anyio

        async def floor() -> None:
            async with anyio.create_task_group() as group:
                for r in receivers:
                    group.start_soon(
                        functools.partial(r, signal=_SIGNAL, sender=Model, x=1)
                    )

        return floor


class TrioNursery(Floor):
    """A raw trio nursery, ``start_soon`` per receiver (results not kept)."""

    name = "raw: trio nursery"
    backends = ("trio",)

    def make_floor(self, receivers: list[Callable[..., Any]]) -> FloorFn | None:
        import trio

        async def floor() -> None:
            async with trio.open_nursery() as nursery:
                # start_soon takes no keywords: bind them per send, as the
                # sender and payload would differ from one send to the next.
                for r in receivers:
                    nursery.start_soon(
                        functools.partial(r, signal=_SIGNAL, sender=Model, x=1)
                    )

        return floor


class ThreadSensitiveHop(Floor):
    """Django's thread rule at its cheapest: the sync receivers in one
    ``sync_to_async(thread_sensitive=True)`` call, then each async receiver
    awaited in turn (no concurrency, no task). What ``asyncsignal.django``
    can cost at best under ``asend`` with sync receivers (W4)."""

    name = "raw: one thread-sensitive hop"
    takes_sync = True

    def make_floor(self, receivers: list[Callable[..., Any]]) -> FloorFn | None:
        from asgiref.sync import sync_to_async

        sync = [r for r in receivers if not inspect.iscoroutinefunction(r)]
        async_ = [r for r in receivers if inspect.iscoroutinefunction(r)]

        def call_sync() -> list[Any]:
            return [r(signal=_SIGNAL, sender=Model, x=1) for r in sync]

        hop = sync_to_async(call_sync, thread_sensitive=True)

        async def floor() -> list[Any]:
            responses = await hop()
            return responses + [
                await r(signal=_SIGNAL, sender=Model, x=1) for r in async_
            ]

        return floor


#: Floors by name.
FLOORS: dict[str, Floor] = {
    floor.name: floor
    for floor in (
        ListComp(),
        AwaitInTurn(),
        EagerTasks(),
        TaskGroupFloor(),
        AnyioTaskGroup(),
        TrioNursery(),
        ThreadSensitiveHop(),
    )
}
