"""Cancelling a receiver's asyncio task so that an anyio shield active in it
holds: the package's only use of anyio's private members, behind a guard."""

from __future__ import annotations

import functools
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio

__all__ = ("anyio_asyncio_internals", "cancel_task")


def cancel_task(task: asyncio.Task[Any]) -> None:
    """Cancel a receiver's task so that an anyio shield active in it holds.

    ``Task.cancel()`` cuts through anyio's cancel scopes. So when the task is
    inside anyio scopes, its outermost scope is given a cancelled parent scope,
    as if the receiver ran in an anyio task group: anyio then delivers the
    cancellation to every scope that is not shielded from it, and again when
    a shield exits. This costs nothing until a cancellation.
    """
    backend = anyio_asyncio_internals()
    state = None if backend is None else backend._task_states.get(task)
    scope = None if state is None else state.cancel_scope
    if scope is None:
        task.cancel()
        return
    assert backend is not None
    while scope._parent_scope is not None:
        scope = scope._parent_scope
    root = backend.CancelScope()
    root._child_scopes.add(scope)
    scope._parent_scope = root
    root.cancel("asyncsignal: the receiver is cancelled")
    root._deliver_cancellation(root)


def anyio_asyncio_internals() -> Any:
    """anyio's asyncio backend module if it is loaded and has every internal
    that :func:`cancel_task` uses, else ``None``.

    The only use of anyio's private members. anyio offers no public way for
    code outside a task's cancel scopes to cancel them (an anyio task group
    does it from inside anyio); entering a scope of ours around each receiver
    instead costs ~2.4 µs per receiver on every ``asend`` (3.12): 24 µs more
    for W3's ten receivers.
    anyio's requirement has no upper bound: a pin would hold back every user
    for a risk this guard contains. If a newer anyio lacks these internals,
    receivers are cancelled with ``Task.cancel()``: still cancelled and
    awaited, but an anyio shield in a receiver no longer holds against a
    timeout or the caller's cancellation on asyncio.
    ``tests/test_internals.py`` asserts the guard finds them on the locked
    anyio, so the suite run against the newest anyio fails loudly rather than
    falling back in silence.
    """
    backend = sys.modules.get("anyio._backends._asyncio")
    if backend is None:  # anyio never ran on asyncio: no task has anyio scopes
        return None
    return backend if _has_scope_internals(backend) else None


@functools.cache
def _has_scope_internals(backend: Any) -> bool:
    states = getattr(backend, "_task_states", None)
    scope_class = getattr(backend, "CancelScope", None)
    state_class = getattr(backend, "TaskState", None)
    return (
        callable(getattr(states, "get", None))
        and "cancel_scope" in getattr(state_class, "__slots__", ())
        and {"_parent_scope", "_child_scopes"}
        <= set(getattr(scope_class, "__slots__", ()))
        and callable(getattr(scope_class, "_deliver_cancellation", None))
    )
