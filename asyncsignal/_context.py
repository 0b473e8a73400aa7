"""One context per send: how receivers share context variables with each other
and with the sender.

The rule (Django 6.1's): every receiver of one send runs in one context, a copy
of the sender's; a receiver sees what the receivers that ran before it set;
when the send ends (returns, raises or is cancelled) what they set is set in
the sender's context too. Plain sync receivers called in the sender's own
context need nothing from here: running in the sender's context and copying
back at the end come to the same.

On asyncio 3.11+ tasks are created in the shared context itself. Where a task
cannot be given a context (trio, asyncio 3.10), :func:`run_sharing` gives the
receiver its own copy that takes the shared values when it starts and writes
back what it changed when it ends.
"""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from collections.abc import Coroutine

__all__ = ("copy_back", "run_sharing")

T = TypeVar("T")

_MISSING: Any = object()


def _set_changed(changes: list[tuple[contextvars.ContextVar[Any], Any]]) -> None:
    for var, value in changes:
        var.set(value)


def _changes(
    source: contextvars.Context, since: contextvars.Context
) -> list[tuple[contextvars.ContextVar[Any], Any]]:
    """The variables whose value in ``source`` differs from theirs in ``since``."""
    # Equal contexts that share their storage compare in constant time: the
    # common case, a send whose receivers set nothing.
    if source == since:
        return []
    return [
        (var, value)
        for var, value in source.items()
        if since.get(var, _MISSING) is not value
    ]


def copy_back(shared: contextvars.Context) -> None:
    """Set, in the current context, what receivers set in ``shared``."""
    _set_changed(_changes(shared, contextvars.copy_context()))


async def run_sharing(
    coro: Coroutine[Any, Any, T], shared: contextvars.Context
) -> T:
    """Await ``coro`` in this task's own context as if it ran in ``shared``:
    take the shared values first, write back the receiver's changes last."""
    _set_changed(_changes(shared, contextvars.copy_context()))
    before = contextvars.copy_context()
    try:
        return await coro
    finally:
        changes = _changes(contextvars.copy_context(), before)
        if changes:
            shared.run(_set_changed, changes)
