"""Receivers, senders and helpers shared by the tests: the only place that
defines them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import anyio
import anyio.lowlevel

if TYPE_CHECKING:
    from collections.abc import Callable

    from asyncsignal import AsyncSignal


class Waitable(Protocol):
    async def wait(self) -> None:
        """Return once the awaited condition holds."""


#: What a recording receiver raises: this very exception each time, or a new
#: instance of this class (constructed with the receiver's name) on each call.
Raises = BaseException | type[BaseException] | None


def _raise(raises: BaseException | type[BaseException], name: str) -> None:
    raise raises(name) if isinstance(raises, type) else raises


def make_sync(log: list[str], name: str, raises: Raises = None) -> Callable[..., str]:
    """A sync receiver that records ``name`` and returns it (or raises)."""

    def receiver(**kwargs: Any) -> str:
        log.append(name)
        if raises is not None:
            _raise(raises, name)
        return name

    receiver.__qualname__ = name
    return receiver


def make_async(
    log: list[str],
    name: str,
    *,
    suspend: bool = False,
    wait_for: Waitable | None = None,
    sets: anyio.Event | None = None,
    raises: Raises = None,
    delay: float | None = None,
) -> Callable[..., Any]:
    """An async receiver that records ``name:start`` and ``name:end`` and returns
    ``name`` (or raises). In between it suspends once if ``suspend``, waits for
    ``wait_for`` if given and sleeps ``delay`` seconds if given (prefer events:
    a test that needs a receiver to take a while is waiting for something); it
    sets ``sets`` as it finishes."""

    async def receiver(**kwargs: Any) -> str:
        log.append(f"{name}:start")
        if suspend:
            await anyio.lowlevel.checkpoint()
        if delay is not None:
            await anyio.sleep(delay)
        if wait_for is not None:
            await wait_for.wait()
        log.append(f"{name}:end")
        if sets is not None:
            sets.set()
        if raises is not None:
            _raise(raises, name)
        return name

    receiver.__qualname__ = name
    return receiver


class Rendezvous:
    """Lets ``count`` waiters through once all of them have arrived: receivers
    that wait for it only return if they run concurrently. It needs no event
    loop until the first arrives, so it also serves ``send`` from sync code."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.arrived = 0
        self._all_arrived: anyio.Event | None = None

    async def wait(self) -> None:
        if self._all_arrived is None:
            self._all_arrived = anyio.Event()
        self.arrived += 1
        if self.arrived == self.count:
            self._all_arrived.set()
        # Run one after the other, the first would wait forever.
        with anyio.fail_after(10):
            await self._all_arrived.wait()


class Sender:
    """A weakly referenceable sender."""

    def __init__(self, label: str = "sender") -> None:
        self.label = label


class Target:
    """A weakly referenceable object whose methods are receivers."""

    def __init__(self, name: str = "target") -> None:
        self.name = name

    def method(self, **kwargs: Any) -> str:
        return f"{self.name}.method"

    async def amethod(self, **kwargs: Any) -> str:
        return f"{self.name}.amethod"

    @classmethod
    async def aclassmethod(cls, **kwargs: Any) -> str:
        return "aclassmethod"


def sync_function(**kwargs: Any) -> str:
    """A sync receiver that lives as long as the tests."""
    return "sync function"


async def async_function(**kwargs: Any) -> str:
    """An async receiver that lives as long as the tests."""
    return "async function"


def called(signal: AsyncSignal, sender: object = None) -> list[Any]:
    """The responses of ``signal.send(sender)``, in order."""
    return [response for _, response in signal.send(sender)]


#: The four send methods, for tests that must hold for each.
METHODS = ("send", "send_robust", "asend", "asend_robust")


async def send_by(method: str, signal: Any, /, *args: Any, **named: Any) -> Any:
    """Send with ``method``, one of :data:`METHODS`; ``args`` is the sender
    (or give ``sender=``)."""
    if method == "send":
        return signal.send(*args, **named)
    if method == "send_robust":
        return signal.send_robust(*args, **named)
    if method == "asend":
        return await signal.asend(*args, **named)
    return await signal.asend_robust(*args, **named)
