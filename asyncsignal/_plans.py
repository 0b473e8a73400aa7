"""What dispatch reads for one sender: a :class:`Plan`, the matching live
registrations in connection order with what the send methods need to know
about them, computed once per sender and cached by the registry."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from ._policies import SYNC

if TYPE_CHECKING:
    from ._registrations import Registration

__all__ = ("NO_RECEIVERS", "Plan", "plan_of")


class Plan(NamedTuple):
    """What dispatch reads for one sender."""

    #: The matching live registrations, in connection order.
    registrations: tuple[Registration, ...]
    #: Some receiver is async: ``send`` needs an event loop for it.
    has_async: bool
    #: Every receiver is sync and may be called repeatedly (no ``once``): the
    #: generated fast callers apply under ``send``.
    inline_only: bool
    #: Every receiver is a plain sync one (no policy): ``asend`` needs no
    #: runner, it calls them in turn.
    plain_sync: bool


NO_RECEIVERS = Plan((), False, True, True)


def plan_of(registrations: tuple[Registration, ...]) -> Plan:
    """The plan of ``registrations`` (in connection order), of which the dead
    are left out."""
    live = tuple(r for r in registrations if r() is not None)
    if not live:
        return NO_RECEIVERS
    return Plan(
        live,
        any(r.is_async for r in live),
        all(not r.is_async and not r.policy.once for r in live),
        all(r.kind == SYNC for r in live),
    )
