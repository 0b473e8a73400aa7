"""``asyncsignal.django.Signal``: connecting as Django does, and ``asend``."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from .. import _seam
from .._observers import OBSERVERS
from .._policies import resolve_policy
from .._receivers import NO_RECEIVER, dies_at_once, warn_weak
from . import _sends
from ._connecting import check_receiver_if_debug, pending_policy, taking_policies
from ._internals import LIVE_RECEIVERS, DjangoInternals
from ._observed import asend_observed
from ._running import (
    Later,
    call_in_turn,
    in_one_thread,
    in_thread,
    run_concurrently,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable

    from .._observers import Watch
    from .._registry import Plan

Responses = list[tuple[Any, Any]]

__all__ = ("Signal",)


class Signal(DjangoInternals):
    """``django.dispatch.Signal`` with asyncsignal's policies and extras: an
    :class:`asyncsignal.AsyncSignal` that behaves as Django's.

    Sync receivers default to ``thread=True``: under ``asend`` they run in one
    ``sync_to_async(thread_sensitive=True)`` call, as Django runs them;
    ``connect(..., thread=False)`` calls one in the event loop's thread
    instead, and ``timeout=`` runs one in its own such call, with the async
    receivers, so that it can be abandoned.
    """

    __slots__ = ("__dict__", "lock")

    #: Held by ``connect`` and ``disconnect``, as Django's is: code that saves
    #: and assigns ``receivers`` under it is not interleaved with them.
    lock: threading.Lock

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        connect = cls.__dict__.get("connect")
        code = getattr(connect, "__code__", None)
        if code is not None and "thread" not in code.co_varnames:
            # A subclass written for Django (ModelSignal) whose connect does not
            # take the policies: accept them and hand them to ours.
            # setattr: type checkers keep AsyncSignal.connect's declaration.
            setattr(cls, "connect", taking_policies(connect))  # type: ignore[arg-type]  # noqa: B010

    if not TYPE_CHECKING:
        # Type checkers see AsyncSignal's declarations of these: the
        # parameters are the same (thread's default aside), and one
        # declaration of them is enough.

        def __init__(
            self,
            providing_args=None,
            use_caching=False,
            *,
            name=None,
            thread=True,
            timeout=None,
        ):
            # Django's signature is Signal(use_caching=False).
            if isinstance(providing_args, bool):
                providing_args, use_caching = None, providing_args
            super().__init__(
                providing_args, use_caching, name=name, thread=thread, timeout=timeout
            )
            self.lock = threading.Lock()

        def connect(
            self,
            receiver=NO_RECEIVER,
            sender=None,
            weak=True,
            dispatch_uid=None,
            *,
            thread=None,
            timeout=None,
            once=False,
        ):
            """As :meth:`asyncsignal.AsyncSignal.connect` (without
            ``receiver``, a decorator), but as in Django the receiver is
            checked (callable, accepts ``**kwargs``) only when
            ``settings.DEBUG`` is on."""
            if receiver is NO_RECEIVER:
                return super().connect(
                    sender=sender,
                    weak=weak,
                    dispatch_uid=dispatch_uid,
                    thread=thread,
                    timeout=timeout,
                    once=once,
                )
            return _connect(
                self, receiver, sender, weak, dispatch_uid, thread, timeout, once
            )

        def disconnect(self, receiver=None, sender=None, dispatch_uid=None):
            with self.lock:
                return _seam.registry(self).disconnect(receiver, sender, dispatch_uid)

    # -- sending (send and send_robust are generated: see _sends) -----------------

    if TYPE_CHECKING:

        def send(self, sender: object, **named: Any) -> Responses: ...
        def send_robust(self, sender: object, **named: Any) -> Responses: ...

    else:
        send = _sends.SEND
        send_robust = _sends.SEND_ROBUST

    async def asend(self, sender: object, **named: Any) -> Responses:
        """Run the sync receivers in one ``sync_to_async(thread_sensitive=True)``
        call (those connected with ``thread=False`` in this thread), in
        order, then the async ones (and sync ones with a ``timeout``)
        concurrently; return ``(receiver, response)`` pairs, sync receivers'
        first, as Django does. A sync receiver's exception propagates at once;
        async receivers' errors are raised once all have finished (one error,
        or an ``ExceptionGroup``). If the caller is cancelled, the receivers
        still running are cancelled and awaited first."""
        subscriptions = _seam.subscribers(self)
        if OBSERVERS:
            return await asend_observed(self, sender, named, "asend", subscriptions)
        return await self._asend(sender, named, "asend", subscriptions)

    async def asend_robust(self, sender: object, **named: Any) -> Responses:
        """Like :meth:`asend`, but a receiver's ``Exception`` becomes its
        response and is logged at ERROR on the ``django.dispatch`` logger."""
        return await self._asend_robust(sender, named, _seam.subscribers(self))

    async def _asend_robust(
        self,
        sender: object,
        named: dict[str, Any],
        subscriptions: tuple[Any, ...],
    ) -> Responses:
        if OBSERVERS:
            return await asend_observed(
                self, sender, named, "asend_robust", subscriptions
            )
        return await self._asend(sender, named, "asend_robust", subscriptions)

    async def _asend(
        self,
        sender: object,
        named: dict[str, Any],
        method: str,
        subscriptions: tuple[Any, ...],
        watch: Watch | None = None,
    ) -> Responses:
        """``asend`` or ``asend_robust`` (``method``); ``watch``: an observed
        send's (``_observed``)."""
        check = _seam.payload_check(self)
        if check is not None:
            check(method, named)
        if subscriptions:
            await _seam.publish(self, sender, named, subscriptions)
        plan = _seam.receiving_plan(self, sender, named)
        if plan is None:
            return []
        if type(self)._live_receivers is not LIVE_RECEIVERS:
            sync, async_ = self._live_receivers(sender)
            batches = [(True, sync)] if sync else []
            later: list[Later] = [(receiver, None, True) for receiver in async_]
        else:
            batches, later = self._split(plan)
        robust = method == "asend_robust"
        responses: Responses = []
        for threaded, batch in batches:
            if threaded:
                responses += await in_one_thread(
                    self, batch, sender, named, robust, watch
                )
            else:
                responses += call_in_turn(self, batch, sender, named, robust, watch)
        if later:
            responses += await run_concurrently(
                self, later, sender, named, method, watch
            )
        return responses

    def _split(
        self, plan: Plan
    ) -> tuple[list[tuple[bool, list[Callable[..., Any]]]], list[Later]]:
        """``asend``'s two phases: runs of sync receivers (each run in one
        thread call, or in this thread), then what runs concurrently."""
        batches: list[tuple[bool, list[Callable[..., Any]]]] = []
        later: list[Later] = []
        claim = _seam.registry(self).claim
        for registration in plan.registrations:
            receiver = registration()
            policy = registration.policy
            # Every once receiver is claimed before any receiver runs: only
            # another thread can have dropped or claimed one since the plan
            # was read. (Not claimed(): a generator costs W4 a tenth.)
            if receiver is None or (
                policy.once and not claim(registration)
            ):  # pragma: no cover
                continue
            if registration.is_async or policy.timeout is not None:
                later.append((receiver, policy.timeout, registration.is_async))
            elif batches and batches[-1][0] is policy.thread:
                batches[-1][1].append(receiver)
            else:
                batches.append((policy.thread, [receiver]))
        return batches, later

    async def _run_in_thread(self, call: Callable[[], Any]) -> Any:
        return await in_thread(call)


def _connect(
    signal: Signal,
    receiver: Callable[..., Any],
    sender: object,
    weak: bool,
    dispatch_uid: Hashable | None,
    thread: bool | None,
    timeout: float | None,
    once: bool,
) -> Callable[..., Any]:
    pending = pending_policy(signal, receiver)
    if pending is not None:
        _, thread, timeout, once = pending
    is_async = check_receiver_if_debug(receiver)
    policy = resolve_policy(
        receiver, is_async, thread, timeout, once, signal.thread, signal.timeout
    )
    if weak and dies_at_once(receiver):
        warn_weak(receiver)
    with signal.lock:
        _seam.registry(signal).connect(
            receiver, sender, weak, dispatch_uid, is_async, policy
        )
    return receiver
