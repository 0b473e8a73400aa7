"""Django's internal names that real code uses (django-reversion's
``mute_signals``, Django's test helpers, tracing tools), with Django's shapes,
as views of asyncsignal's registry: what they change, they change there."""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

from .. import _seam
from .._signal import AsyncSignal

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from .._registry import Registration, Registry

__all__ = ("DjangoInternals",)


class DjangoInternals(AsyncSignal):
    """``receivers``, ``sender_receivers_cache``, ``_clear_dead_receivers()``
    and ``_live_receivers(sender)``, as Django's ``Signal`` has them."""

    __slots__ = ()

    @property  # type: ignore[override]
    def receivers(self) -> list[tuple[Any, Any, Any, bool]]:
        """Django's list: ``((receiver id, sender id), weak reference or the
        receiver, weak reference to the sender or None, is_async)`` per
        registration, in connection order. A snapshot: assign it (or a list
        of its entries, such as a saved copy) back to change the
        registrations; ``signal.receivers = []`` disconnects everything."""
        registry = _seam.registry(self)
        return [_Entry.of(registry, r, held) for r, held in registry.entries()]

    @receivers.setter
    def receivers(self, entries: Iterable[tuple[Any, Any, Any, bool]]) -> None:
        registry = _seam.registry(self)
        kept: list[tuple[Registration, object]] = []
        for entry in entries:
            if not isinstance(entry, _Entry) or entry.registry is not registry:
                raise TypeError(
                    "signal.receivers can be assigned only entries read from this "
                    f"signal's receivers, got {entry!r}; use connect()"
                )
            kept.append(entry.saved)
        registry.replace(kept)

    @property
    def sender_receivers_cache(self) -> _SenderReceiversCache:
        """The per-sender lookup cache; ``.clear()`` empties it, as in Django.
        asyncsignal keeps it consistent by itself: every change to the
        registrations (``receivers`` assigned too) clears it."""
        return _SenderReceiversCache(_seam.registry(self))

    def _clear_dead_receivers(self) -> None:
        """Drop the registrations of collected receivers and senders."""
        _seam.registry(self).purge()

    def _live_receivers(
        self, sender: object
    ) -> tuple[list[Callable[..., Any]], list[Callable[..., Any]]]:
        """The live receivers for ``sender``: ``(sync ones, async ones)``, each
        in connection order. Sends call this only when it is replaced (a
        tracing tool wrapping it); they then run what it returns."""
        sync: list[Callable[..., Any]] = []
        async_: list[Callable[..., Any]] = []
        for registration in _seam.plan_for(self, sender).registrations:
            receiver = registration()
            # False only if another thread dropped it since the plan was read.
            if receiver is not None:  # pragma: no branch
                (async_ if registration.is_async else sync).append(receiver)
        return sync, async_


#: The original, which sends do not need to call (see ``_live_receivers``).
LIVE_RECEIVERS = DjangoInternals._live_receivers


class _Entry(tuple):  # type: ignore[type-arg]
    """One item of Django's ``receivers`` list, knowing its registration."""

    registry: Registry
    #: The registration and what holds its sender: what ``replace`` takes.
    saved: tuple[Registration, object]

    @classmethod
    def of(cls, registry: Registry, registration: Registration, held: object) -> _Entry:
        key = registration.key
        if isinstance(key, tuple) and len(key) == 2 and key[0] == "dispatch_uid":
            key = key[1]
        sender_id = registration.sender_key or id(None)
        reference: Any = registration if registration.weak else registration()
        sender_ref = held if isinstance(held, weakref.ref) else None
        entry = cls(((key, sender_id), reference, sender_ref, registration.is_async))
        entry.registry = registry
        entry.saved = (registration, held)
        return entry


class _SenderReceiversCache:
    """Django's ``sender_receivers_cache``: what code that bypasses
    ``connect`` clears."""

    __slots__ = ("_registry",)

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    def clear(self) -> None:
        self._registry.cache = {}

    def __len__(self) -> int:
        return len(self._registry.cache)

    def __repr__(self) -> str:
        return f"<sender_receivers_cache: {len(self)} senders>"
