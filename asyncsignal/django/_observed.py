"""``asyncsignal.django.Signal``'s sends while observers are added
(:func:`asyncsignal.add_observer`): between ``send_started`` and
``send_ended``, each receiver inside the observers' calls, otherwise as the
unobserved sends run them.

The generated ``send`` and ``send_robust`` (``_sends``) check for observers
first and come here; so do ``asend`` and ``asend_robust``. A sync receiver
of an observed ``send`` is called through the observers' calls, so it has
frames between it and ``send`` (the unobserved ``send`` has none).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from asgiref.sync import async_to_sync

from .. import _seam
from .._backends import check_can_block
from .._observers import send_ended, send_started
from ._internals import LIVE_RECEIVERS
from ._running import Later, call_in_turn, claimed, run_concurrently, send_traced

if TYPE_CHECKING:
    from .._observers import Watch
    from ._signal import Signal

__all__ = ("asend_observed", "send_observed")

Responses = list[tuple[Any, Any]]


def send_observed(
    signal: Signal, sender: object, named: dict[str, Any], method: str
) -> Responses:
    """``send`` or ``send_robust`` (``method``) telling the observers."""
    count = len(_seam.plan_for(signal, sender).registrations)
    watch = send_started(signal, method, sender, count)
    try:
        responses = _send(signal, sender, named, method, watch.receivers_watch())
    except BaseException as error:
        send_ended(watch, error)
        raise
    send_ended(watch, None)
    return responses


def _send(
    signal: Signal,
    sender: object,
    named: dict[str, Any],
    method: str,
    watch: Watch | None,
) -> Responses:
    """The generated sends' generic body (``_sends._GENERIC``), observed."""
    check = _seam.payload_check(signal)
    if check is not None:
        check(method, named)
    if _seam.subscribers(signal):
        _seam.publish_sync(signal, sender, named, method)
    plan = _seam.receiving_plan(signal, sender, named)
    if plan is None:
        return []
    if type(signal)._live_receivers is not LIVE_RECEIVERS:
        return send_traced(signal, sender, named, method, watch)
    if plan.has_async:
        check_can_block(method)
    robust = method == "send_robust"
    responses: Responses = []
    later: list[Later] = []
    for receiver, registration in claimed(signal, plan):
        if registration.is_async:
            later.append((receiver, registration.policy.timeout, True))
        else:
            responses += call_in_turn(signal, [receiver], sender, named, robust, watch)
    if later:
        run = async_to_sync(run_concurrently)
        responses += run(signal, later, sender, named, method, watch)
    return responses


async def asend_observed(
    signal: Signal,
    sender: object,
    named: dict[str, Any],
    method: str,
    subscriptions: tuple[Any, ...],
) -> Responses:
    """``asend`` or ``asend_robust`` (``method``) telling the observers."""
    count = len(_seam.plan_for(signal, sender).registrations)
    watch = send_started(signal, method, sender, count)
    try:
        responses = await signal._asend(
            sender, named, method, subscriptions, watch.receivers_watch()
        )
    except BaseException as error:
        send_ended(watch, error)
        raise
    send_ended(watch, None)
    return responses
