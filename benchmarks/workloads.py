"""The catalogue: PERF.md's workloads W1-W10, memory and the scaling curves,
with their contenders, sizes and targets.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from .calls import NO_FEATURES, Dispatch, Features
from .libraries import SUBSCRIPTION_BUFFER
from .receivers import kinds

if TYPE_CHECKING:
    from .backends import Backend
    from .receivers import Kind

__all__ = ("FULL", "SMOKE", "Mode", "Target", "Workload", "catalogue", "select")

OURS = "asyncsignal"
#: PERF.md's Turn-3 targets differ by Python: asyncio has eager tasks from 3.12.
_NEWER = sys.version_info >= (3, 12)
DJANGO = "django"
#: asyncsignal.django.Signal, held to the same targets against Django.
VARIANT = "asyncsignal.django"
_W2 = 0.45 if _NEWER else 0.5
_W4 = 0.1 if _NEWER else 0.15
#: asyncsignal without the workload's feature (``libraries.py``): its anchor.
NO_TIMEOUT = "asyncsignal, no timeout"
UNTYPED = "asyncsignal, untyped"
RECEIVERS = "asyncsignal, receivers"

#: Contenders of asend on asyncio (W3) in table order.
_ASYNCIO_W3 = (
    OURS,
    DJANGO,
    "blinker",
    "aiosignal",
    "raw: await in turn",
    "raw: eager tasks",
    "raw: asyncio.TaskGroup",
    "raw: anyio task group",
)


@dataclass(frozen=True)
class Target:
    """PERF.md's target: ``subject`` (asyncsignal unless said) ÷ ``anchor`` ≤
    ``ratio`` (same run)."""

    anchor: str
    ratio: float
    label: str = ""
    subject: str = "asyncsignal"


@dataclass(frozen=True)
class Mode:
    """Sizes and repetitions of a full run or a smoke run."""

    name: str
    #: Rounds of per-call workloads, and the time one sample aims at
    #: (0: one call per sample, no calibration).
    call_rounds: int
    batch_seconds: float
    #: Rounds of one-shot workloads (connect many, memory).
    total_rounds: int
    memory_rounds: int
    w6_receivers: int
    w7_senders: int
    w8_receivers: int
    #: Django connects in O(n): many registrations take O(n²), so its
    #: one-shot workloads stop at this size.
    django_cap: int
    memory_receivers: int
    #: Entering and exiting a subscription copies the signal's tuple of them
    #: (O(n) each): more would only slow the untimed teardown.
    memory_subscriptions: int
    curve_receivers: tuple[int, ...]
    curve_registrations: tuple[int, ...]


FULL = Mode(
    name="full",
    call_rounds=20,
    batch_seconds=0.04,
    total_rounds=5,
    memory_rounds=3,
    w6_receivers=10_000,
    w7_senders=1_000,
    w8_receivers=100_000,
    django_cap=10_000,
    memory_receivers=10_000,
    memory_subscriptions=1_000,
    curve_receivers=(1, 10, 100, 1_000),
    curve_registrations=(1_000, 3_000, 10_000, 30_000, 100_000),
)

#: Every workload and contender once, at tiny sizes: does the suite still run?
SMOKE = Mode(
    name="smoke",
    call_rounds=1,
    batch_seconds=0.0,
    total_rounds=1,
    memory_rounds=1,
    w6_receivers=100,
    w7_senders=20,
    w8_receivers=400,
    django_cap=200,
    memory_receivers=100,
    memory_subscriptions=100,
    curve_receivers=(1, 10),
    curve_registrations=(100, 300),
)

#: What a one-shot workload does (see ``totals.py``).
Operation = Literal[
    "connect+disconnect", "connect methods", "memory", "memory of subscriptions"
]


@dataclass(frozen=True)
class Workload:
    """One row of the table (or one point of a scaling curve).

    Per-call workloads have a ``dispatch``; one-shot workloads an ``operation``
    on ``size`` receivers. ``unit`` is per call (µs), per run (ms), per
    receiver (B) or per subscription (B/sub).
    """

    id: str
    title: str
    unit: str
    contenders: tuple[str, ...]
    backend: Backend = "sync"
    dispatch: Dispatch | None = None
    operation: Operation | None = None
    size: int = 0
    targets: tuple[Target, ...] = ()
    #: The scaling curve this is a point of, and its x.
    curve: str | None = None
    x: int = 0
    note: str = ""

    def cap(self, contender: str, mode: Mode) -> str | None:
        """Why ``contender`` is not run at this size, if it is capped."""
        if contender == DJANGO and self.operation and self.size > mode.django_cap:
            return (
                f"Django capped at {mode.django_cap:,} registrations: its connect "
                "scans all of them (O(n²) in total)"
            )
        return None


def _per_call(
    id: str,
    title: str,
    mode: Literal["send", "asend"],
    kinds: tuple[Kind, ...],
    contenders: tuple[str, ...],
    backend: Backend = "sync",
    targets: tuple[Target, ...] = (),
    senders: int = 0,
    features: Features = NO_FEATURES,
    curve: str | None = None,
    x: int = 0,
    note: str = "",
) -> Workload:
    if mode == "asend" and backend == "sync":
        backend = "asyncio"
    return Workload(
        id,
        title,
        "µs",
        contenders,
        backend,
        Dispatch(mode, kinds, backend, senders, features),
        targets=targets,
        curve=curve,
        x=x,
        note=note,
    )


def catalogue(mode: Mode) -> list[Workload]:
    """Every workload, in run order, sized for ``mode``."""
    ten_async = kinds("async", times=10)
    w6, w7, w8 = mode.w6_receivers, mode.w7_senders, mode.w8_receivers
    cap = min(mode.django_cap, w8)
    workloads = [
        _per_call(
            "W1",
            "send, 0 receivers",
            "send",
            (),
            (OURS, DJANGO, VARIANT, "blinker", "psygnal"),
            targets=(Target(DJANGO, 1.0), Target(DJANGO, 1.0, subject=VARIANT)),
        ),
        _per_call(
            "W2",
            "send, 10 sync receivers",
            "send",
            kinds("sync", times=10),
            (
                OURS,
                DJANGO,
                VARIANT,
                "blinker",
                "psygnal",
                "raw: list comp",
            ),
            targets=(
                Target(DJANGO, _W2),
                *((Target("raw: list comp", 2.5),) if _NEWER else ()),
                Target(DJANGO, _W2, subject=VARIANT),
            ),
        ),
        _per_call(
            "W2-strong",
            "W2 with receivers held strongly (weak=False)",
            "send",
            kinds("sync", times=10),
            (OURS, DJANGO, VARIANT),
            targets=(Target(DJANGO, _W2), Target(DJANGO, _W2, subject=VARIANT)),
            features=Features(strong=True),
        ),
        _per_call(
            "W2-typed",
            "W2 on a define()d signal, prototype (sender, *, x: int)",
            "send",
            kinds("sync", times=10),
            (OURS, UNTYPED),
            targets=(Target(UNTYPED, 1.2),),
            features=Features(typed=True),
        ),
        _per_call(
            "W7",
            f"send from 1 of {w7:,} senders, 1 receiver each",
            "send",
            kinds("sync", times=w7),
            (OURS, DJANGO, "blinker"),
            targets=(Target(DJANGO, 0.1),),
            senders=w7,
        ),
        _per_call(
            "W2b",
            "asend, 1 async receiver",
            "asend",
            ("async",),
            (OURS, DJANGO, "blinker", "aiosignal", "raw: await in turn"),
            targets=(Target(DJANGO, 0.25 if _NEWER else 0.3),),
        ),
        _per_call(
            "W3",
            "asend, 10 async receivers, no suspension",
            "asend",
            ten_async,
            _ASYNCIO_W3,
            targets=(
                Target(DJANGO, 0.3 if _NEWER else 0.35),
                Target("raw: await in turn", 4.0, "moonshot"),
            ),
        ),
        _per_call(
            "W3-uvloop",
            "W3 on uvloop",
            "asend",
            ten_async,
            _ASYNCIO_W3,
            backend="uvloop",
        ),
        _per_call(
            "W3-trio",
            "W3 on trio",
            "asend",
            ten_async,
            (OURS, "raw: trio nursery", "raw: anyio task group", "raw: await in turn"),
            backend="trio",
            targets=(Target("raw: trio nursery", 1.2),),
        ),
        _per_call(
            "W4",
            "asend, 5 sync + 5 async receivers, interleaved",
            "asend",
            kinds("sync", "async", times=5),
            (
                OURS,
                DJANGO,
                VARIANT,
                f"{VARIANT}, thread=False",
                "blinker",
                "raw: one thread-sensitive hop",
            ),
            targets=(
                Target(DJANGO, _W4),
                Target(DJANGO, _W4, subject=VARIANT),
                Target(DJANGO, _W4, subject=f"{VARIANT}, thread=False"),
            ),
            note="blinker: _sync_wrapper calls sync receivers inline",
        ),
        _per_call(
            "W5",
            "asend, 10 async receivers, each sleeping 1 ms",
            "asend",
            kinds("sleep", times=10),
            (
                OURS,
                DJANGO,
                "blinker",
                "aiosignal",
                "raw: asyncio.TaskGroup",
                "raw: eager tasks",
            ),
            targets=(Target(DJANGO, 1.1),),
        ),
        _per_call(
            "W5-trio",
            "W5 on trio (trio.sleep)",
            "asend",
            kinds("sleep", times=10),
            (OURS, "raw: trio nursery"),
            backend="trio",
        ),
        _per_call(
            "W9a",
            "asend, 5 sync receivers each blocking 10 ms, thread=True",
            "asend",
            kinds("block", times=5),
            (OURS, DJANGO),
            targets=(Target(DJANGO, 0.3),),
            features=Features(thread=True),
            note="django: one sync_to_async hop runs them one after another",
        ),
        _per_call(
            "W9b",
            "asend, 5 quick sync receivers, thread=True",
            "asend",
            kinds("sync", times=5),
            (OURS, DJANGO),
            targets=(Target(DJANGO, 1.5),),
            features=Features(thread=True),
            note="asyncsignal: a worker-thread hop per receiver; django: one hop",
        ),
        _per_call(
            "W9c",
            "W3 with timeout=5 on every receiver",
            "asend",
            ten_async,
            (OURS, NO_TIMEOUT),
            targets=(Target(NO_TIMEOUT, 1.2 if _NEWER else 1.5),),
            features=Features(timeout=5.0),
        ),
        _per_call(
            "W10",
            "asend, 100 subscriptions (no receivers)",
            "asend",
            kinds("append", times=100),
            (OURS, RECEIVERS),
            targets=(Target(RECEIVERS, 2.0),),
            features=Features(subscribe=True),
            note=f"max_buffer={SUBSCRIPTION_BUFFER}, overflow='drop_oldest': "
            "full, each send drops one; receivers append x to a list",
        ),
        Workload(
            "W10-MEM",
            f"memory per entered subscription ({mode.memory_subscriptions:,})",
            "B/sub",
            (OURS,),
            operation="memory of subscriptions",
            size=mode.memory_subscriptions,
        ),
        Workload(
            "W6",
            f"connect + disconnect {w6:,} receivers",
            "ms",
            (OURS, DJANGO, "blinker", "psygnal"),
            operation="connect+disconnect",
            size=w6,
            targets=(Target(DJANGO, 0.02),),
        ),
        Workload(
            "W8",
            f"connect {w8:,} weak bound-method receivers",
            "ms",
            (OURS, DJANGO, "blinker", "psygnal"),
            operation="connect methods",
            size=w8,
        ),
        Workload(
            "W8-cap",
            f"W8 at Django's cap: {cap:,} receivers",
            "ms",
            (OURS, DJANGO, "blinker", "psygnal"),
            operation="connect methods",
            size=cap,
        ),
        Workload(
            "MEM",
            f"memory per weak bound-method receiver ({mode.memory_receivers:,})",
            "B",
            (OURS, DJANGO, "blinker", "psygnal"),
            operation="memory",
            size=mode.memory_receivers,
            targets=(Target(DJANGO, 1.0),),
        ),
    ]
    three = (OURS, DJANGO, "blinker")
    curves: tuple[tuple[Literal["send", "asend"], Literal["sync", "async"]], ...] = (
        ("send", "sync"),
        ("asend", "async"),
    )
    for call, kind in curves:
        for n in mode.curve_receivers:
            workloads.append(
                _per_call(
                    f"scale-{call}-{n}",
                    f"{call}, {_count(n, f'{kind} receiver')}",
                    call,
                    kinds(kind, times=n),
                    three,
                    curve=call,
                    x=n,
                )
            )
    for n in mode.curve_registrations:
        workloads.append(
            Workload(
                f"scale-cd-{n}",
                f"connect + disconnect {n:,}",
                "ms",
                three,
                operation="connect+disconnect",
                size=n,
                curve="connect+disconnect",
                x=n,
            )
        )
    return workloads


def select(workloads: list[Workload], only: str | None) -> list[Workload]:
    """Workloads matching a ``--only`` list such as ``W3,W5,W9,scale``.

    A token that is an id matches it and every id it prefixes before a dash:
    ``W3`` selects W3, W3-trio and W3-uvloop. Any other token matches the ids
    it prefixes: ``W9`` selects W9a, W9b and W9c; ``scale`` (or ``scaling``)
    every curve; ``scale-cd`` one curve. Case is ignored.

    :raises ValueError: a token matches nothing.
    """
    if not only:
        return workloads
    tokens = [t.strip().lower() for t in only.split(",") if t.strip()]
    tokens = ["scale" if t == "scaling" else t for t in tokens]
    ids = {w.id.lower() for w in workloads}
    chosen = [w for w in workloads if any(_matches(w, t, ids) for t in tokens)]
    unmatched = [t for t in tokens if not any(_matches(w, t, ids) for w in workloads)]
    if unmatched:
        known = ", ".join(w.id for w in workloads if w.curve is None)
        raise ValueError(
            f"--only {','.join(unmatched)}: no such workload "
            f"(known: {known}, scale, scale-send, scale-asend, scale-cd)"
        )
    return chosen


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def _matches(workload: Workload, token: str, ids: set[str]) -> bool:
    id_ = workload.id.lower()
    if token in ids:
        return id_ == token or id_.startswith(token + "-")
    return id_.startswith(token)
