"""One-shot workloads: connect and disconnect many receivers, and memory.

Receivers and receiver objects are made in the untimed set-up; what is
measured is only the library's ``connect`` (and ``disconnect``) calls.
"""

from __future__ import annotations

import gc
import operator
import time
import tracemalloc
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

from .calls import Unsupported
from .harness import WrongResult, check_probe
from .libraries import SUBSCRIPTION_BUFFER, enter, leave
from .receivers import Listener, ProbeListener, kinds, make_receivers

if TYPE_CHECKING:
    from collections.abc import Callable

    from asyncsignal import Subscription

    from .harness import Contender, Sampler
    from .libraries import Library
    from .receivers import Probe

__all__ = (
    "connect_disconnect",
    "connect_methods",
    "memory_meter",
    "one_shot",
    "subscriptions",
    "time_meter",
)

#: Receivers in the correctness check that precedes the timed runs.
_VERIFY = 20

#: Measures one run: milliseconds, bytes per receiver, ...
Meter: TypeAlias = "Callable[[Callable[[], None]], float]"


@dataclass(frozen=True)
class Trial:
    """One sample, set up (untimed): ``run`` is measured, then ``check`` (raises
    if ``run`` did not do its job) and ``close`` run untimed."""

    run: Callable[[], None]
    check: Callable[[], None]
    close: Callable[[], None] = lambda: None


@dataclass(frozen=True)
class TotalEntry:
    """A contender: ``verify`` checks it on a small size before any timing."""

    verify: Callable[[], None]
    trial: Callable[[], Trial]


def time_meter(run: Callable[[], None]) -> float:
    """Wall time of ``run()`` in milliseconds."""
    gc.collect()
    start = time.perf_counter_ns()
    run()
    return (time.perf_counter_ns() - start) / 1e6


def memory_meter(receivers: int) -> Meter:
    """Bytes allocated by ``run()`` and still held afterwards, per receiver.

    Everything made before ``run`` (the receiver objects) is not traced.
    """

    def meter(run: Callable[[], None]) -> float:
        gc.collect()
        tracemalloc.start()
        try:
            before, _ = tracemalloc.get_traced_memory()
            run()
            gc.collect()
            after, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        return (after - before) / receivers

    return meter


def one_shot(make: Callable[[], TotalEntry], meter: Meter) -> Contender:
    """A contender of a one-shot workload, measured by ``meter``.

    Its sampler never suspends: it needs no event loop (``run_on("sync")``).
    """

    async def prepare() -> Sampler:
        entry = make()
        entry.verify()

        async def sample() -> float:
            trial = entry.trial()
            try:
                value = meter(trial.run)
                trial.check()
            finally:
                trial.close()
            return value

        return sample

    return prepare


def _expect_registrations(lib: Library, sig: object, count: int) -> None:
    actual = lib.registrations(sig)
    if actual != count:
        raise WrongResult(f"{actual} receivers connected, expected {count}")


def _fire_expect(lib: Library, sig: object, probe: Probe, called: list[int]) -> None:
    probe.clear()
    lib.fire(sig)
    check_probe(probe, called)


def _supported(lib: Library) -> None:
    if lib.name == "aiosignal":
        raise Unsupported("aiosignal is a plain list of callbacks")


def connect_disconnect(lib: Library, count: int) -> TotalEntry:
    """Connect ``count`` function receivers, then disconnect them all."""
    _supported(lib)

    def verify() -> None:
        probe: Probe = []
        receivers = make_receivers(
            kinds("sync", times=_VERIFY), positional=lib.positional, probe=probe
        )
        sig = lib.new_signal()
        for receiver in receivers:
            sig.connect(receiver)
        _expect_registrations(lib, sig, _VERIFY)
        _fire_expect(lib, sig, probe, list(range(_VERIFY)))
        for receiver in receivers:
            sig.disconnect(receiver)
        _expect_registrations(lib, sig, 0)
        _fire_expect(lib, sig, probe, [])

    def trial() -> Trial:
        receivers = make_receivers(
            kinds("sync", times=count), positional=lib.positional
        )
        sig = lib.new_signal()
        connect, disconnect = sig.connect, sig.disconnect

        def run() -> None:
            for receiver in receivers:
                connect(receiver)
            # In connection order, as code tearing down its receivers would.
            for receiver in receivers:
                disconnect(receiver)

        return Trial(run, lambda: _expect_registrations(lib, sig, 0))

    return TotalEntry(verify, trial)


def connect_methods(lib: Library, count: int) -> TotalEntry:
    """Connect ``count`` bound methods of distinct objects, held weakly.

    Also what the memory workload measures (with a memory meter).
    """
    _supported(lib)
    method_of = operator.attrgetter(lib.method_name)

    def verify() -> None:
        probe: Probe = []
        listeners = [ProbeListener(i, probe) for i in range(_VERIFY)]
        sig = lib.new_signal()
        for listener in listeners:
            sig.connect(method_of(listener))
        _expect_registrations(lib, sig, _VERIFY)
        _fire_expect(lib, sig, probe, list(range(_VERIFY)))
        # Held weakly: a collected object's receiver is gone.
        del listeners[0]
        gc.collect()
        _fire_expect(lib, sig, probe, list(range(1, _VERIFY)))

    def trial() -> Trial:
        listeners = [Listener(i) for i in range(count)]
        # The only strong reference to the signal, so close() can drop it.
        box = [lib.new_signal()]

        def run() -> None:
            connect: Callable[..., object] = box[0].connect
            for listener in listeners:
                connect(method_of(listener))

        def close() -> None:
            # Drop the signal (signals sit in reference cycles: collect)
            # before the listeners die: with the signal alive, every death
            # runs its weak-reference callback, and a library whose
            # callback scans its receivers (psygnal: 158 s for 100,000)
            # would spend minutes in this untimed teardown.
            box.clear()
            gc.collect()

        return Trial(run, lambda: _expect_registrations(lib, box[0], count), close)

    return TotalEntry(verify, trial)


def _expect_dropped(
    lib: Library, sig: object, subscriptions: list[Subscription], buffer: int
) -> None:
    """Each subscription is entered: one send more than its buffer holds
    drops exactly one event from each."""
    for _ in range(buffer + 1):
        lib.fire(sig)
    dropped = {subscription.dropped for subscription in subscriptions}
    if dropped != {1}:
        raise WrongResult(f"subscriptions dropped {dropped} events, expected 1 each")


def subscriptions(lib: Library, count: int) -> TotalEntry:
    """Enter ``count`` subscriptions, no receivers (W10's memory)."""
    if lib.name != "asyncsignal":
        raise Unsupported(f"{lib.name} has no subscriptions")

    def verify() -> None:
        sig = lib.new_signal()
        entered = [sig.subscribe(max_buffer=1) for _ in range(_VERIFY)]
        for subscription in entered:
            enter(subscription)
        _expect_dropped(lib, sig, entered, 1)
        for subscription in entered:
            leave(subscription)
        # Exited: later sends no longer reach them.
        _expect_dropped(lib, sig, entered, 1)

    def trial() -> Trial:
        sig = lib.new_signal()
        # Sized before tracing: only the subscriptions are measured.
        slots: list[Subscription | None] = [None] * count

        def run() -> None:
            for index in range(count):
                subscription = sig.subscribe(max_buffer=SUBSCRIPTION_BUFFER)
                enter(subscription)
                slots[index] = subscription

        def entered() -> list[Subscription]:
            return [each for each in slots if each is not None]

        def check() -> None:
            if len(entered()) != count:
                raise WrongResult(f"{len(entered())} subscriptions, expected {count}")
            _expect_dropped(lib, sig, entered(), SUBSCRIPTION_BUFFER)

        def close() -> None:
            for subscription in entered():
                leave(subscription)

        return Trial(run, check, close)

    return TotalEntry(verify, trial)
