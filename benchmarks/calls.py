"""What one timed call is, and how a batch of calls is timed.

A contender turns a :class:`Dispatch` (what to send to which receivers) into a
:class:`Call`: a Python expression plus the names it uses, e.g.
``sig.send(sender, x=1)``. The expression is compiled into a loop, as
``timeit`` does, so no wrapper function sits between the loop and the call
being measured: the per-call overhead of the harness is one loop iteration,
the same for every contender.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from collections.abc import Callable

    from .backends import Backend
    from .receivers import Kind

__all__ = ("NO_FEATURES", "Call", "Compiled", "Dispatch", "Features", "Unsupported")

#: The payload every workload sends: ``send(sender, x=PAYLOAD)``.
PAYLOAD = 1


class Unsupported(Exception):
    """This contender cannot do this workload (shown as a dash, not an error)."""


@dataclass(frozen=True)
class Features:
    """asyncsignal's own features a workload uses; the other libraries have
    none of them and ignore these."""

    #: ``connect(thread=True)``: sync receivers run in worker threads under asend.
    thread: bool = False
    #: ``connect(timeout=...)``, in seconds.
    timeout: float | None = None
    #: The signal is made by ``define`` from a prototype declaring ``x: int``.
    typed: bool = False
    #: One subscription is entered per receiver, and no receiver is connected.
    subscribe: bool = False
    #: Receivers are connected with ``weak=False`` (Django's and asyncsignal's
    #: keyword; every library that takes it).
    strong: bool = False


#: A workload of plain signals and receivers, every library alike.
NO_FEATURES = Features()


@dataclass(frozen=True)
class Dispatch:
    """What one call does.

    ``kinds`` lists the receivers in connection order. With ``senders`` > 0,
    receiver ``i`` is connected for its own sender ``i`` (there are as many
    receivers as senders) and the call sends from sender ``senders // 2``;
    otherwise receivers are connected for any sender.
    """

    mode: Literal["send", "asend"]
    kinds: tuple[Kind, ...]
    backend: Backend
    senders: int = 0
    features: Features = NO_FEATURES

    def expected(self) -> list[int]:
        """Indices of the receivers one call must run."""
        if self.senders:
            return [self.senders // 2]
        return list(range(len(self.kinds)))


@dataclass
class Call:
    """One call as source: ``expr`` is evaluated with ``namespace`` as globals.

    In an async call, ``expr`` contains its own ``await`` (e.g.
    ``await sig.asend(sender, x=1)``), so a raw floor can be a comprehension.
    ``namespace`` also keeps alive what the call needs (weakly held receivers).
    ``responds`` is false when the call returns no responses to check (a
    subscription is not a receiver): its probe alone shows what ran.
    ``after_sample`` runs untimed after each timed batch (it empties what
    receivers appended to).
    """

    expr: str
    namespace: dict[str, Any] = field(default_factory=dict)
    is_async: bool = False
    responds: bool = True
    after_sample: Callable[[], object] | None = None


_TEMPLATE = """\
{a}def _timed(_n, _clock, _repeat):
    _t0 = _clock()
    for _ in _repeat(None, _n):
        {expr}
    return _clock() - _t0

{a}def _once():
    return {expr}
"""


class Compiled:
    """A :class:`Call` compiled into a one-shot function and a timing loop."""

    def __init__(self, call: Call, name: str) -> None:
        source = _TEMPLATE.format(a="async " if call.is_async else "", expr=call.expr)
        namespace = dict(call.namespace)
        exec(compile(source, f"<{name}>", "exec"), namespace)
        self.is_async = call.is_async
        self.responds = call.responds
        self.after_sample = call.after_sample
        self._once: Callable[[], Any] = namespace["_once"]
        self._timed: Callable[..., Any] = namespace["_timed"]

    async def once(self) -> object:
        """Make the call once and return what it returned."""
        result = self._once()
        return await result if self.is_async else result

    async def timed(self, calls: int) -> int:
        """Make the call ``calls`` times in a loop; return the elapsed ns."""
        elapsed = self._timed(calls, time.perf_counter_ns, itertools.repeat)
        if self.is_async:
            elapsed = await elapsed
        return int(elapsed)
