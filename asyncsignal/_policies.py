"""How a receiver runs: inline, in a worker thread, with a time limit, once.

A registration carries one immutable :class:`Policy`, fixed at ``connect`` from
the arguments and the signal's defaults. Plain receivers share
:data:`DEFAULT_POLICY`, so the dispatch of a plan of plain receivers never looks
at policies at all: it reads the registration's ``kind``.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from ._callables import describe

__all__ = (
    "ASYNC",
    "DEFAULT_POLICY",
    "POLICY",
    "SYNC",
    "Policy",
    "check_timeout",
    "resolve_policy",
)

#: Registration kinds, read by the dispatch loops: a plain sync receiver called
#: inline, a plain async receiver run as a task, and one with a policy.
SYNC, ASYNC, POLICY = 0, 1, 2


class Policy(NamedTuple):
    """How one registration's receiver is run."""

    #: Run a sync receiver in a worker thread under ``asend``.
    thread: bool = False
    #: Seconds after which an async or thread receiver is cancelled.
    timeout: float | None = None
    #: Remove the registration before its first call.
    once: bool = False


DEFAULT_POLICY = Policy()


def check_timeout(timeout: object, argument: str = "timeout") -> float | None:
    """Return ``timeout`` as seconds, or ``None`` for no limit.

    :raises TypeError: not a real number (``bool`` included).
    :raises ValueError: zero, negative, NaN or infinite.
    """
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(
            f"{argument} must be a number of seconds or None, got "
            f"{type(timeout).__name__} {timeout!r}"
        )
    if not (timeout > 0 and math.isfinite(timeout)):
        raise ValueError(
            f"{argument} must be a positive, finite number of seconds, got {timeout!r}"
        )
    return float(timeout)


def _check_flag(value: object, argument: str, allow_none: bool) -> None:
    if isinstance(value, bool) or (allow_none and value is None):
        return
    expected = "True, False or None" if allow_none else "True or False"
    raise TypeError(
        f"{argument} must be {expected}, got {type(value).__name__} {value!r}"
    )


def resolve_policy(
    receiver: Any,
    is_async: bool,
    thread: object,
    timeout: object,
    once: object,
    default_thread: bool,
    default_timeout: float | None,
) -> Policy:
    """The policy for a ``connect`` call; ``None`` arguments take the signal's
    defaults (``thread`` applies to sync receivers only, ``timeout`` to async
    and thread receivers only).

    :raises TypeError: a flag that is not a bool; ``thread=True`` for an async
        receiver; a timeout that is not a number.
    :raises ValueError: a timeout that is not positive and finite, or an
        explicit timeout for a sync receiver run inline (it cannot be
        interrupted).
    """
    _check_flag(thread, "thread", allow_none=True)
    _check_flag(once, "once", allow_none=False)
    limit = check_timeout(timeout)
    if is_async:
        if thread:
            raise TypeError(
                f"thread=True needs a sync receiver, but {describe(receiver)} is "
                "async: it already runs concurrently in its own task"
            )
        in_thread = False
    else:
        in_thread = default_thread if thread is None else bool(thread)
        if limit is not None and not in_thread:
            raise ValueError(
                f"timeout={timeout!r} needs an async receiver or thread=True, but "
                f"{describe(receiver)} is a sync receiver called inline, which "
                "cannot be interrupted"
            )
    if limit is None and (is_async or in_thread):
        limit = default_timeout
    policy = Policy(in_thread, limit, bool(once))
    return DEFAULT_POLICY if policy == DEFAULT_POLICY else policy
