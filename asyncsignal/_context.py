"""One context per send: how receivers share context variables with each other
and with the sender.

The rule (Django 6.1's): every receiver of one send runs in one context, a copy
of the sender's; a receiver sees what the receivers that ran before it set;
when the send ends (returns, raises or is cancelled) what they set is set in
the sender's context too. Plain sync receivers called in the sender's own
context need nothing from here: running in the sender's context and copying
back at the end come to the same.

On asyncio 3.11+ tasks are created in the shared context itself. trio and
asyncio 3.10 cannot give a task a context (and a wrapper running every step
of a receiver in the shared context costs a quarter of a trio send, W3 on
trio, and hides the coroutine from anyio's cancel scopes on asyncio): there
:func:`run_sharing` makes a receiver's task take the shared context's values
when it starts running and hand back what it set when it ends. Such a
receiver sees what receivers that ended before it started set, not what a
receiver running alongside it sets meanwhile; the sender gets everything.
On asyncio 3.10 a receiver's first step, up to its first suspension, runs in
the shared context itself (``_backends/_stepping.py``): one that never
suspends shares as on 3.11+; one that suspends continues as above, its task
taking the shared values when it continues.
"""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from collections.abc import Coroutine

__all__ = ("copy_back", "enter_shared", "leave_shared", "run_sharing")

T = TypeVar("T")

_MISSING: Any = object()


def _set_changed(changes: list[tuple[contextvars.ContextVar[Any], Any]]) -> None:
    for var, value in changes:
        var.set(value)


def _changes(
    source: contextvars.Context, since: contextvars.Context
) -> list[tuple[contextvars.ContextVar[Any], Any]]:
    """The variables whose value in ``source`` differs from theirs in ``since``
    (callers first compare the two contexts: equal ones that share their
    storage compare in constant time, the common case of a send whose
    receivers set nothing)."""
    return [
        (var, value)
        for var, value in source.items()
        if since.get(var, _MISSING) is not value
    ]


def copy_back(shared: contextvars.Context) -> None:
    """Set, in the current context, what receivers set in ``shared``."""
    current = contextvars.copy_context()
    if shared != current:  # else nothing was set: the common case, no call
        _set_changed(_changes(shared, current))


def enter_shared(shared: contextvars.Context) -> contextvars.Context:
    """Take ``shared``'s values into the current context (a task's own);
    return the context as it then is, for :func:`leave_shared`."""
    current = contextvars.copy_context()
    if current == shared:  # the common case: nothing set since the copy
        return current
    _set_changed(_changes(shared, current))
    return contextvars.copy_context()


def leave_shared(shared: contextvars.Context, started: contextvars.Context) -> None:
    """Set in ``shared`` what the current context set since ``started``."""
    now = contextvars.copy_context()
    if now != started:
        shared.run(_set_changed, _changes(now, started))


async def run_sharing(coro: Coroutine[Any, Any, T], shared: contextvars.Context) -> T:
    """Await ``coro`` in a task of its own context (trio's, asyncio 3.10's),
    taking ``shared``'s values first and handing back what it set at the end."""
    started = enter_shared(shared)
    try:
        return await coro
    finally:
        leave_shared(shared, started)
