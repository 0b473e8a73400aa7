"""anyio's private internals that shielded cancellation relies on
(``_backends._anyio_scopes``): found on the installed anyio, refused when
missing, and receivers still cancelled and awaited without them.
"""

from __future__ import annotations

import importlib.metadata
import sys
import types
from typing import Any

import anyio
import pytest
from support.backends import ASYNCIO_BACKENDS

from asyncsignal import AsyncSignal, ReceiverTimeout
from asyncsignal._backends import _anyio_scopes
from asyncsignal._backends._anyio_scopes import anyio_asyncio_internals

# -- anyio's private internals (_backends._anyio_scopes) -------------------
# The one place asyncsignal reads anyio's private members: cancelling a
# receiver's task through its anyio cancel scopes so that shields hold.


@pytest.mark.parametrize("anyio_backend", ASYNCIO_BACKENDS)
async def test_the_anyio_internals_for_shielded_cancellation_are_found(
    anyio_backend: Any,
) -> None:
    """Fails on an anyio whose asyncio backend changed these internals: then
    ``_cancel_task`` falls back to ``Task.cancel()`` and shields in receivers
    no longer hold on asyncio (see ``anyio_asyncio_internals``)."""
    backend = sys.modules["anyio._backends._asyncio"]
    assert anyio_asyncio_internals() is backend, (
        f"anyio {importlib.metadata.version('anyio')} changed the internals "
        "asyncsignal._backends._anyio_scopes.cancel_task uses"
    )


def test_the_anyio_internals_guard_rejects_a_backend_without_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    complete = sys.modules["anyio._backends._asyncio"]
    for missing in ("_task_states", "TaskState", "CancelScope"):
        changed = types.ModuleType("anyio._backends._asyncio")
        changed.__dict__.update(
            {name: getattr(complete, name) for name in ("_task_states", "TaskState")}
            | {"CancelScope": complete.CancelScope}
        )
        delattr(changed, missing)
        monkeypatch.setitem(sys.modules, "anyio._backends._asyncio", changed)
        assert anyio_asyncio_internals() is None, missing

    class ScopeWithoutDelivery:
        __slots__ = ("_child_scopes", "_parent_scope")

    changed = types.ModuleType("anyio._backends._asyncio")
    changed.__dict__.update(
        _task_states=complete._task_states,
        TaskState=complete.TaskState,
        CancelScope=ScopeWithoutDelivery,
    )
    monkeypatch.setitem(sys.modules, "anyio._backends._asyncio", changed)
    assert anyio_asyncio_internals() is None
    monkeypatch.delitem(sys.modules, "anyio._backends._asyncio")
    assert anyio_asyncio_internals() is None


@pytest.mark.parametrize("anyio_backend", ASYNCIO_BACKENDS)
async def test_without_the_anyio_internals_receivers_are_still_cancelled_and_awaited(
    anyio_backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fallback: ``Task.cancel()``, shields aside, as before."""
    monkeypatch.setattr(_anyio_scopes, "anyio_asyncio_internals", lambda: None)
    log: list[str] = []

    async def hangs(**kwargs: Any) -> None:
        try:
            with anyio.CancelScope():  # inside an anyio scope, as receivers are
                await anyio.sleep_forever()
        finally:
            log.append("cleaned up")

    signal = AsyncSignal()
    signal.connect(hangs, timeout=0.01)
    [(_, outcome)] = await signal.asend_robust(None)
    assert isinstance(outcome, ReceiverTimeout)
    assert log == ["cleaned up"]

    untimed = AsyncSignal()
    untimed.connect(hangs)
    with anyio.move_on_after(0.01) as scope:
        await untimed.asend(None)
    assert scope.cancelled_caught
    assert log == ["cleaned up"] * 2
