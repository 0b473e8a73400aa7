"""The send side of :class:`~asyncsignal.AsyncSignal`: the four send methods,
their shared opening (payload check, subscriptions, plan) and the two hooks a
subclass overrides to run receivers elsewhere."""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar, cast

from . import _dispatch
from ._backends import check_can_block, run_from_sync, run_in_worker_thread
from ._inline_send import send_inline, send_inline_robust
from ._observers import OBSERVERS, send_ended, send_started
from ._subscriptions import Event, publish, publish_sync

if TYPE_CHECKING:
    from collections.abc import Coroutine

    from ._plans import Plan
    from ._registrations import SenderKey
    from ._registry import Registry
    from ._signal import AsyncSignal
    from ._subscriptions import Subscriber

__all__ = ("Responses", "Sending")

T = TypeVar("T")

#: ``(receiver, response)`` pairs, in connection order.
Responses = list[tuple[Callable[..., Any], Any]]


class Sending:
    """The send methods of :class:`~asyncsignal.AsyncSignal`, which sets every
    field (a base class only to keep the sending apart from the connecting)."""

    __slots__ = (
        "_asend_dispatch",
        "_asend_robust_dispatch",
        "_check_payload",
        "_connected",
        "_registry",
        "_send_dispatch",
        "_send_robust_dispatch",
        "_subscriptions",
    )

    _registry: Registry
    #: Set by ``define``: checks a send's payload against the prototype.
    _check_payload: Callable[[str, dict[str, Any]], None] | None
    #: Replaced, never mutated (``_seam.subscribe``): read without a lock.
    _subscriptions: tuple[Subscriber, ...]
    #: The registry's sender index, for the "nobody is connected" fast path.
    _connected: dict[SenderKey, Any]
    #: What the dispatch functions take, one per send method.
    _send_dispatch: _dispatch.Dispatch
    _send_robust_dispatch: _dispatch.Dispatch
    _asend_dispatch: _dispatch.Dispatch
    _asend_robust_dispatch: _dispatch.Dispatch

    def _publish_sync(self, sender: object, named: dict[str, Any], method: str) -> None:
        if named:
            _dispatch.check_named(named)
        # A send that is refused must not reach subscriptions either.
        if self._plan_for(sender).has_async:
            check_can_block(method)
        event = Event(cast("AsyncSignal", self), sender, MappingProxyType(named))
        publish_sync(self._subscriptions, event, method)

    async def _publish(
        self,
        sender: object,
        named: dict[str, Any],
        subscriptions: tuple[Subscriber, ...],
    ) -> None:
        if named:
            _dispatch.check_named(named)
        event = Event(cast("AsyncSignal", self), sender, MappingProxyType(named))
        await publish(subscriptions, event)

    async def _run_in_thread(self, call: Callable[[], Any]) -> Any:
        """How a ``thread=True`` receiver's call runs under ``asend``: in anyio's
        worker threads. A subclass may run it elsewhere (``asyncsignal.django``)."""
        return await run_in_worker_thread(call)

    def _run_from_sync(
        self, func: Callable[..., Coroutine[Any, Any, T]], *args: Any
    ) -> T:
        """How ``send`` runs its async receivers: on the event loop owning this
        worker thread, or on a new asyncio loop. A subclass may run them
        elsewhere (``asyncsignal.django``)."""
        return run_from_sync(func, *args)

    def _plan_for(self, sender: object) -> Plan:
        plan = self._registry.cache.get(id(sender))
        return self._registry.compute_plan(sender) if plan is None else plan

    def _receiving_plan(self, sender: object, named: dict[str, Any]) -> Plan | None:
        """The end of every send method's opening (after the payload check and
        the subscriptions): the plan for ``sender``, or ``None`` if it calls
        no receiver; a payload argument named ``signal`` is refused first."""
        plan = self._registry.cache.get(id(sender))
        if plan is None:
            plan = self._registry.compute_plan(sender)
        if not plan.registrations:
            return None
        if named:
            _dispatch.check_named(named)
        return plan

    def send(self, sender: object, **named: Any) -> Responses:
        """Call every receiver for ``sender`` and return ``(receiver, response)``
        pairs in connection order.

        Sync receivers (``thread=True`` ones too) are called in connection order
        in this thread, with no event loop running in it, so code that must not
        run in one (Django's ORM) works; the first exception propagates and
        later receivers are not called. If async receivers are connected, they
        run concurrently afterwards on an event loop (the one owning this worker
        thread, or a new asyncio loop if the thread has none), every receiver's
        error is isolated and raised at the end as :meth:`asend` raises it.

        :raises RuntimeError: if async receivers are connected and this is an
            event loop's thread (use :meth:`asend`); no receiver has run.
        :raises TypeError: a payload argument is named ``signal``.
        """
        if OBSERVERS:  # the one check the hot paths pay for observers
            return self._send_observed(sender, named, self._send_dispatch)
        # The opening of _receiving_plan, inline: the hot path of W1 and W2.
        if self._check_payload is not None:
            self._check_payload("send", named)
        if self._subscriptions:
            self._publish_sync(sender, named, "send")
        if not self._connected:  # fast path: nothing is connected at all
            return []
        plan = self._registry.cache.get(id(sender))
        if plan is None:
            plan = self._registry.compute_plan(sender)
        if not plan.registrations:
            return []
        if named:
            _dispatch.check_named(named)
        if plan.inline_only:
            return send_inline(self, plan.registrations, sender, named)
        return _dispatch.send_with_policies(
            self, self._send_dispatch, plan, sender, named
        )

    def send_robust(self, sender: object, **named: Any) -> Responses:
        """Like :meth:`send`, but a receiver's ``Exception`` becomes its response
        (with its ``__traceback__``) and is logged at ERROR on the
        ``asyncsignal`` logger; every receiver is called.
        ``BaseException``\\s (``KeyboardInterrupt``, cancellation) propagate.
        """
        if OBSERVERS:
            return self._send_observed(sender, named, self._send_robust_dispatch)
        if self._check_payload is not None:
            self._check_payload("send_robust", named)
        if self._subscriptions:
            self._publish_sync(sender, named, "send_robust")
        plan = self._receiving_plan(sender, named)
        if plan is None:
            return []
        if plan.inline_only:
            return send_inline_robust(
                self, plan.registrations, sender, named, "send_robust"
            )
        return _dispatch.send_with_policies(
            self, self._send_robust_dispatch, plan, sender, named
        )

    async def asend(self, sender: object, **named: Any) -> Responses:
        """Call every receiver for ``sender`` concurrently; return
        ``(receiver, response)`` pairs in connection order.

        Receivers start in connection order: a sync receiver is called at its
        turn in the event loop's thread (``thread=True``: in a worker thread);
        an async receiver gets its own task at its turn (on Python 3.12+
        asyncio it runs eagerly up to its first suspension, unless the loop
        has a custom task factory, which then creates the task). All run
        concurrently; this returns when all have finished.

        Errors are isolated: a failing or timed-out receiver neither cancels
        nor skips any other. Afterwards the error is raised: the exception
        itself if one receiver failed, an ``ExceptionGroup`` (connection order)
        if several did.

        If the calling task is cancelled, every receiver still running is
        cancelled (anyio shields active in them hold, on every backend) and
        awaited before the cancellation propagates; a worker thread is no
        longer waited for. Errors that receivers raise meanwhile are logged on
        the ``asyncsignal`` logger.

        This yields to the event loop only if an async or thread receiver does.

        :raises TypeError: a payload argument is named ``signal``.
        """
        if OBSERVERS:
            return await self._asend_observed(
                sender, named, self._subscriptions, self._asend_dispatch
            )
        # _asend_offering's body, inline: a coroutine less per asend (W3).
        if self._check_payload is not None:
            self._check_payload("asend", named)
        if subscriptions := self._subscriptions:
            await self._publish(sender, named, subscriptions)
        # _receiving_plan's body, inline: a call less per asend (W2b).
        plan = self._registry.cache.get(id(sender))
        if plan is None:
            plan = self._registry.compute_plan(sender)
        if not plan.registrations:
            return []
        if named:
            _dispatch.check_named(named)
        dispatch = self._asend_dispatch
        if plan.plain_sync:  # no task, no thread, no loop: call them in turn
            return _dispatch.send_with_policies(self, dispatch, plan, sender, named)
        return await _dispatch.asend(self, dispatch, plan.registrations, sender, named)

    async def asend_robust(self, sender: object, **named: Any) -> Responses:
        """Like :meth:`asend`, but a receiver's ``Exception`` (a
        :class:`~asyncsignal.ReceiverTimeout` too) becomes its response and is
        logged at ERROR on the ``asyncsignal`` logger; nothing is raised for it.
        ``BaseException``\\s (cancellation included) propagate.
        """
        return await self._asend_offering(sender, named, self._subscriptions)

    def _asend_robust(
        self,
        sender: object,
        named: dict[str, Any],
        subscriptions: tuple[Subscriber, ...],
    ) -> Coroutine[Any, Any, Responses]:
        """:meth:`asend_robust`, offering the event to ``subscriptions`` (a
        bridge delivering an incoming event leaves its own out). Returns the
        coroutine itself: no coroutine of its own on the bridge's path."""
        return self._asend_offering(sender, named, subscriptions)

    async def _asend_offering(
        self,
        sender: object,
        named: dict[str, Any],
        subscriptions: tuple[Subscriber, ...],
    ) -> Responses:
        """:meth:`asend_robust`, offering the event to ``subscriptions``."""
        dispatch = self._asend_robust_dispatch
        if OBSERVERS:
            return await self._asend_observed(sender, named, subscriptions, dispatch)
        if self._check_payload is not None:
            self._check_payload(dispatch.name, named)
        if subscriptions:
            await self._publish(sender, named, subscriptions)
        plan = self._receiving_plan(sender, named)
        if plan is None:
            return []
        if plan.plain_sync:  # no task, no thread, no loop: call them in turn
            return send_inline_robust(
                self, plan.registrations, sender, named, dispatch.name
            )
        return await _dispatch.asend(self, dispatch, plan.registrations, sender, named)

    # -- observed sends (asyncsignal.add_observer) -------------------------------

    def _send_observed(
        self, sender: object, named: dict[str, Any], dispatch: _dispatch.Dispatch
    ) -> Responses:
        """:meth:`send` or :meth:`send_robust` (``dispatch``) telling the
        observers: the general path (no generated caller), between
        ``send_started`` and ``send_ended``."""
        count = len(self._plan_for(sender).registrations)
        watch = send_started(cast("AsyncSignal", self), dispatch.name, sender, count)
        try:
            if self._check_payload is not None:
                self._check_payload(dispatch.name, named)
            if self._subscriptions:
                self._publish_sync(sender, named, dispatch.name)
            plan = self._receiving_plan(sender, named)
            responses = (
                []
                if plan is None
                else _dispatch.send_with_policies(
                    self, dispatch, plan, sender, named, watch.receivers_watch()
                )
            )
        except BaseException as error:
            send_ended(watch, error)
            raise
        send_ended(watch, None)
        return responses

    async def _asend_observed(
        self,
        sender: object,
        named: dict[str, Any],
        subscriptions: tuple[Subscriber, ...],
        dispatch: _dispatch.Dispatch,
    ) -> Responses:
        """:meth:`_asend_offering` telling the observers."""
        count = len(self._plan_for(sender).registrations)
        watch = send_started(cast("AsyncSignal", self), dispatch.name, sender, count)
        try:
            if self._check_payload is not None:
                self._check_payload(dispatch.name, named)
            if subscriptions:
                await self._publish(sender, named, subscriptions)
            plan = self._receiving_plan(sender, named)
            if plan is None:
                responses: Responses = []
            elif plan.plain_sync:
                responses = _dispatch.send_with_policies(
                    self, dispatch, plan, sender, named, watch.receivers_watch()
                )
            else:
                responses = await _dispatch.asend(
                    self,
                    dispatch,
                    plan.registrations,
                    sender,
                    named,
                    watch.receivers_watch(),
                )
        except BaseException as error:
            send_ended(watch, error)
            raise
        send_ended(watch, None)
        return responses
