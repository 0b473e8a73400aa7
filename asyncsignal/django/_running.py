"""Where ``asyncsignal.django``'s receivers run, as Django runs them: sync ones
in turn (under ``asend`` in one ``sync_to_async(thread_sensitive=True)``
call), async ones concurrently in one context shared by them; failures of
robust sends logged on Django's ``django.dispatch`` logger."""

from __future__ import annotations

import contextvars
import functools
import logging
from typing import TYPE_CHECKING, Any

from asgiref.sync import async_to_sync, sync_to_async

from .. import _seam
from .._backends import asyncio_running, check_can_block, open_runner
from .._callables import describe
from .._context import copy_back
from .._observing import observe_call, observe_task
from .._policies import Policy

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from .._observers import How, Watch
    from .._registry import Plan, Registration
    from ._signal import Signal

__all__ = (
    "Later",
    "call_in_turn",
    "claimed",
    "in_one_thread",
    "in_thread",
    "log_robust_failure",
    "logger",
    "run_concurrently",
    "send_traced",
)

Responses = list[tuple[Any, Any]]

#: Django's logger for receivers' failures in ``send_robust``/``asend_robust``.
logger: logging.Logger = logging.getLogger("django.dispatch")

NO_POLICY = Policy()


#: A receiver that runs concurrently with the others, ``(receiver, timeout,
#: is_async)``: async, or sync with a ``timeout`` (then in its own thread
#: call, so that it can be abandoned). A plain tuple: ``asend`` makes one per
#: receiver.
Later = tuple["Callable[..., Any]", "float | None", bool]


def claimed(
    signal: Signal, plan: Plan
) -> Iterator[tuple[Callable[..., Any], Registration]]:
    """The live receivers of ``plan`` with their registrations, in order. A
    ``once`` registration is removed when reached (so not if an earlier
    receiver raised), and skipped if another send removed it first."""
    claim = _seam.registry(signal).claim
    for registration in plan.registrations:
        receiver = registration()
        if receiver is None:
            continue
        if registration.policy.once and not claim(registration):
            continue
        yield receiver, registration


def send_traced(
    signal: Signal,
    sender: object,
    named: dict[str, Any],
    method: str,
    watch: Watch | None = None,
) -> Responses:
    """``send``/``send_robust`` through a replaced ``_live_receivers``: the
    receivers it returns run as Django runs them (no per-receiver policies);
    ``watch``: an observed send's."""
    sync, async_ = signal._live_receivers(sender)
    if async_:
        check_can_block(method)
    robust = method == "send_robust"
    responses = call_in_turn(signal, sync, sender, named, robust, watch)
    if async_:
        later: list[Later] = [(receiver, None, True) for receiver in async_]
        run = async_to_sync(run_concurrently)
        responses += run(signal, later, sender, named, method, watch)
    return responses


def call_in_turn(
    signal: Signal,
    receivers: list[Callable[..., Any]],
    sender: object,
    named: dict[str, Any],
    robust: bool,
    watch: Watch | None = None,
    how: How = "inline",
) -> Responses:
    """Call sync receivers in order, in this thread; ``robust``: an exception
    is the response. ``watch``: an observed send's, each receiver called
    inside the observers' calls (``how`` it runs)."""
    if watch is None and not robust:
        return [(r, r(signal=signal, sender=sender, **named)) for r in receivers]
    responses: Responses = []
    for each in receivers:
        try:
            if watch is None:
                response = each(signal=signal, sender=sender, **named)
            else:
                response = observe_call(
                    watch, how, each, signal=signal, sender=sender, **named
                )
        except Exception as error:
            if not robust:
                raise
            log_robust_failure(each, error)
            response = error
        responses.append((each, response))
    return responses


def _needs_asyncio() -> None:
    if not asyncio_running():
        raise RuntimeError(
            "asyncsignal.django.Signal.asend() runs sync receivers through "
            "asgiref's sync_to_async, which needs asyncio; on trio use "
            "asyncsignal.Signal(thread=True)"
        )


async def in_one_thread(
    signal: Signal,
    batch: list[Callable[..., Any]],
    sender: object,
    named: dict[str, Any],
    robust: bool,
    watch: Watch | None = None,
) -> Responses:
    """``asend``'s sync receivers, in order, in one thread-sensitive call
    (``watch``: observed there, in that thread)."""
    call = functools.partial(
        call_in_turn, signal, batch, sender, named, robust, watch, "thread"
    )
    responses: Responses = await in_thread(call)
    return responses


async def in_thread(call: Callable[[], Any]) -> Any:
    """``call()`` in asgiref's thread-sensitive thread (as Django's ``asend``
    runs sync receivers), which needs asyncio."""
    _needs_asyncio()
    return await sync_to_async(call, thread_sensitive=True)()


async def run_concurrently(
    signal: Signal,
    later: list[Later],
    sender: object,
    named: dict[str, Any],
    method: str,
    watch: Watch | None = None,
) -> Responses:
    """Run ``later`` concurrently in one context shared by them, copied back
    into the caller's at the end; settle their outcomes as Django does.
    ``watch``: an observed send's, each receiver in a task of its own context
    inside the observers' calls (as the core's ``asend`` runs them)."""
    shared = contextvars.copy_context()
    receivers = [receiver for receiver, _, _ in later]
    outcomes: list[Any] = [None] * len(later)
    runner = open_runner(outcomes, receivers, shared, watch is not None)
    try:
        try:
            for index, each in enumerate(later):
                coro = _started(signal, each, sender, named, runner.errors, index)
                if coro is None:
                    continue
                if watch is not None:
                    how: How = "task" if each[2] else "thread"
                    own = shared if runner.coroutines_share else None
                    coro = observe_task(watch, how, each[0], coro, runner, index, own)
                runner.start(coro, index, each[1])
        except BaseException:
            await _seam.abort_runner(runner, receivers, method)
            raise
        if runner.waiting:
            await _seam.wait_runner(runner, receivers, method)
    finally:
        copy_back(shared)
    try:
        return _settled(receivers, outcomes, runner.errors, method)
    finally:
        receivers.clear()
        outcomes.clear()


def _started(
    signal: Signal,
    each: Later,
    sender: object,
    named: dict[str, Any],
    errors: dict[int, Exception],
    index: int,
) -> Any:
    """The coroutine running ``each``, or ``None`` (its error in ``errors``)
    if calling it raised."""
    receiver, _, is_async = each
    try:
        if is_async:
            return receiver(signal=signal, sender=sender, **named)
        call = functools.partial(receiver, signal=signal, sender=sender, **named)
        return _seam.run_in_thread(signal, call)
    except Exception as error:
        errors[index] = error
        return None


def _settled(
    receivers: list[Callable[..., Any]],
    outcomes: list[Any],
    errors: dict[int, Exception],
    method: str,
) -> Responses:
    if errors and not method.endswith("_robust"):
        _seam.raise_errors(errors, method)
    for index in sorted(errors):
        outcomes[index] = errors[index]
        log_robust_failure(receivers[index], errors[index])
    return list(zip(receivers, outcomes, strict=True))


def log_robust_failure(receiver: object, error: BaseException) -> None:
    """Log as Django's ``send_robust`` does."""
    logger.error(
        "Error calling %s in Signal.send_robust() (%s)",
        getattr(receiver, "__qualname__", None) or describe(receiver),
        error,
        exc_info=error,
    )
