"""The receivers and senders every contender is measured with.

Each receiver returns its index, so a call's responses show which receivers ran.
Probe receivers also record ``(index, x)`` into a list: the correctness check
uses them; the timed runs use the plain ones, whose bodies do nothing else.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

__all__ = (
    "Kind",
    "Listener",
    "Model",
    "Probe",
    "ProbeListener",
    "Sender",
    "Sleep",
    "kinds",
    "make_receivers",
)

#: ``sync``: a plain function; ``async``: a coroutine function that never
#: suspends; ``sleep``: a coroutine function that sleeps 1 ms (simulated I/O);
#: ``block``: a plain function that blocks its thread 10 ms (``time.sleep``:
#: blocking I/O); ``append``: a plain function that appends its payload to a
#: list (the sink), as an in-process collector of events would.
Kind = Literal["sync", "async", "sleep", "block", "append"]

#: ``(receiver index, payload x)`` per call, in call order.
Probe = list[tuple[int, object]]

Sleep = Callable[[float], Awaitable[Any]]

#: How long a ``sleep`` receiver waits, in seconds.
IO_SECONDS = 0.001
#: How long a ``block`` receiver blocks its thread, in seconds.
BLOCK_SECONDS = 0.01


class Model:
    """The sender of W1-W5: a class, as Django's model signals send the model."""


class Sender:
    """A sender of W7: one instance per sender, weakly referenceable."""

    __slots__ = ("__weakref__", "index")

    def __init__(self, index: int) -> None:
        self.index = index


class Listener:
    """A receiver object for W8 and memory: its bound methods are the receivers."""

    __slots__ = ("__weakref__", "index")

    def __init__(self, index: int) -> None:
        self.index = index

    def on(self, sender: object, **kwargs: object) -> int:
        return self.index

    def on_positional(self, sender: object, x: object) -> int:
        return self.index


class ProbeListener(Listener):
    """A :class:`Listener` that records each call."""

    __slots__ = ("probe",)

    def __init__(self, index: int, probe: Probe) -> None:
        super().__init__(index)
        self.probe = probe

    def on(self, sender: object, **kwargs: object) -> int:
        self.probe.append((self.index, kwargs.get("x")))
        return self.index

    def on_positional(self, sender: object, x: object) -> int:
        self.probe.append((self.index, x))
        return self.index


def kinds(*pattern: Kind, times: int = 1) -> tuple[Kind, ...]:
    """Receiver kinds: ``pattern`` repeated ``times``, e.g. sync, async x 5."""
    return pattern * times


def make_receivers(
    kinds: tuple[Kind, ...],
    *,
    positional: bool = False,
    sleep: Sleep | None = None,
    probe: Probe | None = None,
    sink: list[object] | None = None,
) -> list[Callable[..., Any]]:
    """One receiver per kind, receiver ``i`` returning ``i``.

    Keyword style (the default) is ``receiver(sender, **kwargs)``: it takes
    ``signal=, sender=, x=`` (Django, asyncsignal, aiosignal, the raw floors)
    and ``sender`` positionally (blinker). ``positional`` is
    ``receiver(sender, x)``, as psygnal calls its slots. ``append`` receivers
    append to ``sink`` (probe receivers record into the probe instead).
    """
    return [
        _make(index, kind, positional, sleep, probe, sink)
        for index, kind in enumerate(kinds)
    ]


def _make(
    index: int,
    kind: Kind,
    positional: bool,
    sleep: Sleep | None,
    probe: Probe | None,
    sink: list[object] | None,
) -> Callable[..., Any]:
    if kind == "sync":
        return _sync(index, positional, probe)
    if positional:
        raise ValueError("positional receivers are sync only (psygnal)")
    if kind == "async":
        return _async(index, probe)
    if kind == "block":
        return _blocking(index, probe)
    if kind == "append":
        return _appending(index, sink, probe)
    if sleep is None:
        raise ValueError("sleep receivers need the backend's sleep function")
    return _sleeping(index, sleep, probe)


def _sync(index: int, positional: bool, probe: Probe | None) -> Callable[..., Any]:
    if positional:
        if probe is None:

            def receiver_p(sender: object, x: object) -> int:
                return index

            return receiver_p

        def probe_receiver_p(sender: object, x: object) -> int:
            probe.append((index, x))
            return index

        return probe_receiver_p
    if probe is None:

        def receiver(sender: object, **kwargs: object) -> int:
            return index

        return receiver

    def probe_receiver(sender: object, **kwargs: object) -> int:
        probe.append((index, kwargs.get("x")))
        return index

    return probe_receiver


def _async(index: int, probe: Probe | None) -> Callable[..., Any]:
    if probe is None:

        async def receiver(sender: object, **kwargs: object) -> int:
            return index

        return receiver

    async def probe_receiver(sender: object, **kwargs: object) -> int:
        probe.append((index, kwargs.get("x")))
        return index

    return probe_receiver


def _sleeping(index: int, sleep: Sleep, probe: Probe | None) -> Callable[..., Any]:
    if probe is None:

        async def receiver(sender: object, **kwargs: object) -> int:
            await sleep(IO_SECONDS)
            return index

        return receiver

    async def probe_receiver(sender: object, **kwargs: object) -> int:
        await sleep(IO_SECONDS)
        probe.append((index, kwargs.get("x")))
        return index

    return probe_receiver


def _blocking(index: int, probe: Probe | None) -> Callable[..., Any]:
    if probe is None:

        def receiver(sender: object, **kwargs: object) -> int:
            time.sleep(BLOCK_SECONDS)
            return index

        return receiver

    def probe_receiver(sender: object, **kwargs: object) -> int:
        time.sleep(BLOCK_SECONDS)
        probe.append((index, kwargs.get("x")))
        return index

    return probe_receiver


def _appending(
    index: int, sink: list[object] | None, probe: Probe | None
) -> Callable[..., Any]:
    if probe is not None:

        def probe_receiver(sender: object, **kwargs: object) -> int:
            probe.append((index, kwargs.get("x")))
            return index

        return probe_receiver
    if sink is None:
        raise ValueError("append receivers need a list to append to")

    def receiver(sender: object, **kwargs: object) -> int:
        sink.append(kwargs["x"])
        return index

    return receiver
