"""How asend creates receiver tasks on asyncio.

A loop's custom task factory (observability tools install one) creates every
receiver task; with the default factory receivers start eagerly (asyncio's
``eager_start`` on Python 3.12+, asyncsignal's own stepping on 3.10 and 3.11),
so a receiver that never suspends has finished when ``asend`` starts it and
asend does not yield to the loop at all. A receiver task that lives on is
named after its receiver.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
import pytest
from support.backends import ASYNCIO_BACKENDS

from asyncsignal import AsyncSignal, _dispatch
from asyncsignal._context import run_sharing

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

pytestmark = pytest.mark.parametrize("anyio_backend", ASYNCIO_BACKENDS)


class RecordingFactory:
    """A task factory that records the coroutines it wraps and delegates to
    the factory it replaces (or creates a plain task)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, delegate: bool = True) -> None:
        self.loop = loop
        self.previous = loop.get_task_factory() if delegate else None
        self.created: list[str] = []

    def __call__(
        self, loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any
    ) -> asyncio.Future[Any]:
        self.created.append(coro.__qualname__)
        if self.previous is not None:
            return self.previous(loop, coro, **kwargs)
        return asyncio.Task(coro, loop=loop, **kwargs)


class installed:
    """Install ``factory`` (``None``: the default) on the running loop for the
    ``with`` block; restore the loop's own afterwards."""

    def __init__(self, factory: Callable[..., Any] | None) -> None:
        self.loop = asyncio.get_running_loop()
        self.factory = factory
        self.previous = self.loop.get_task_factory()

    def __enter__(self) -> None:
        self.loop.set_task_factory(self.factory)

    def __exit__(self, *exc_info: object) -> None:
        self.loop.set_task_factory(self.previous)


async def test_receiver_tasks_are_created_through_the_loops_task_factory(
    anyio_backend: Any,
) -> None:
    signal = AsyncSignal()
    names: dict[str, str] = {}

    async def immediate(**kwargs: Any) -> str:
        return "immediate"

    async def suspending(**kwargs: Any) -> str:
        await anyio.lowlevel.checkpoint()
        task = asyncio.current_task()
        assert task is not None
        names["suspending"] = task.get_name()
        return "suspending"

    def pooled(**kwargs: Any) -> str:
        return "pooled"

    def inline(**kwargs: Any) -> str:
        return "inline"

    signal.connect(immediate)
    signal.connect(inline)
    signal.connect(suspending, timeout=5)
    signal.connect(pooled, thread=True)
    factory = RecordingFactory(asyncio.get_running_loop())

    with installed(factory):
        responses = await signal.asend(None)

    assert [response for _, response in responses] == [
        "immediate",
        "inline",
        "suspending",
        "pooled",
    ]
    # One task per async or thread receiver, in connection order; sync
    # receivers called inline get none.
    expected = [
        immediate.__qualname__,
        suspending.__qualname__,
        # A thread receiver's call, in a copy of the send's context.
        _dispatch._in_thread.__qualname__,
    ]
    if sys.version_info < (3, 11):  # each in the wrapper sharing the context
        expected = [run_sharing.__qualname__] * len(expected)
    assert factory.created == expected
    assert suspending.__qualname__ in names["suspending"]


@pytest.mark.parametrize("factory", ["default", "custom"])
async def test_asend_with_a_never_suspending_receiver_yields_only_without_eager_tasks(
    anyio_backend: Any, factory: str
) -> None:
    """With the default factory, the receiver has run when asend starts it and
    asend does not yield: a sibling task that is ready to run
    does not get to run before asend returns."""
    signal = AsyncSignal()
    ran: list[str] = []

    async def immediate(**kwargs: Any) -> str:
        ran.append("receiver")
        return "immediate"

    async def sibling() -> None:
        ran.append("sibling")

    signal.connect(immediate)
    loop = asyncio.get_running_loop()
    # A plain (lazy) factory, even on a loop with the eager one installed.
    custom = RecordingFactory(loop, delegate=False) if factory == "custom" else None

    with installed(None):
        sibling_task = loop.create_task(sibling())
    with installed(custom):
        responses = await signal.asend(None)
        before_sibling = list(ran)
    await sibling_task

    assert responses == [(immediate, "immediate")]
    if factory == "default":
        assert before_sibling == ["receiver"]
    else:
        assert before_sibling == ["sibling", "receiver"]
    assert sorted(ran) == ["receiver", "sibling"]


class Timers:
    """Records the delays of timers armed on the running loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.delays: list[float] = []
        self._call_later = loop.call_later

    def call_later(self, delay: float, *args: Any, **kwargs: Any) -> Any:
        self.delays.append(delay)
        return self._call_later(delay, *args, **kwargs)


@pytest.fixture
def timers(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], Timers]]:
    def install() -> Timers:
        recorder = Timers(asyncio.get_running_loop())
        monkeypatch.setattr(recorder.loop, "call_later", recorder.call_later)
        return recorder

    yield install
    monkeypatch.undo()


async def test_never_suspending_receiver_with_a_timeout_arms_no_timer(
    anyio_backend: Any, timers: Callable[[], Timers]
) -> None:
    signal = AsyncSignal()
    limit = 4.25  # a delay nothing else in the test arms

    async def immediate(**kwargs: Any) -> str:
        return "immediate"

    async def suspending(**kwargs: Any) -> str:
        await anyio.lowlevel.checkpoint()
        return "suspending"

    signal.connect(immediate, timeout=limit)

    with installed(None):
        recorder = timers()
        assert await signal.asend(None) == [(immediate, "immediate")]
        assert recorder.delays.count(limit) == 0

        # The same limit for a receiver that suspends: that one is armed.
        signal.connect(suspending, timeout=limit)
        await signal.asend(None)
        assert recorder.delays.count(limit) == 1


@pytest.mark.parametrize("policy", ["plain", "timeout", "once"])
async def test_running_receiver_tasks_are_named_after_their_receiver(
    anyio_backend: Any, policy: str
) -> None:
    signal = AsyncSignal()
    names: list[str] = []

    async def named_receiver(**kwargs: Any) -> None:
        await anyio.lowlevel.checkpoint()
        task = asyncio.current_task()
        assert task is not None
        names.append(task.get_name())

    policies: dict[str, dict[str, Any]] = {
        "plain": {},
        "timeout": {"timeout": 5},
        "once": {"once": True},
    }
    signal.connect(named_receiver, **policies[policy])

    await signal.asend(None)

    (name,) = names
    assert named_receiver.__qualname__ in name
