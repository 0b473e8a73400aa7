"""The public signal class, tying the registry, the dispatch engine and the bridge."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar, overload

from . import _dispatch
from ._backends import check_can_block, run_from_sync, run_in_worker_thread
from ._callables import check_receiver
from ._dispatch import ASEND, ASEND_ROBUST, SEND, SEND_ROBUST
from ._policies import check_timeout, resolve_policy
from ._receivers import NO_RECEIVER, NoReceiver, Receivers, dies_at_once, warn_weak
from ._registry import Registry
from ._subscriptions import (
    Event,
    Subscription,
    check_subscription_args,
    publish,
    publish_sync,
)

if TYPE_CHECKING:
    from collections.abc import Coroutine, Hashable

    from ._registry import Plan
    from ._subscriptions import Overflow, Subscriber

__all__ = ("AsyncSignal", "Signal")

ReceiverT = TypeVar("ReceiverT", bound=Callable[..., Any])
T = TypeVar("T")

#: ``(receiver, response)`` pairs, in connection order.
Responses = list[tuple[Callable[..., Any], Any]]


class AsyncSignal:
    """A signal: senders notify any number of decoupled receivers.

    A drop-in replacement for ``django.dispatch.Signal`` whose :meth:`asend`
    runs coroutine receivers concurrently on asyncio, uvloop or trio.

    :param providing_args: names of the arguments the signal provides; kept as
        :attr:`providing_args` for documentation (Django < 4 accepted it).
    :param use_caching: accepted for compatibility with Django; lookups are
        always cached.
    :param name: a name for ``repr()`` and error messages.
    :param thread: the default of ``connect(thread=...)`` for sync receivers.
    :param timeout: the default of ``connect(timeout=...)`` for async and
        thread receivers, in seconds.

    Receivers are called as ``receiver(signal=self, sender=sender, **named)``.
    ``connect`` and ``disconnect`` are thread-safe and take effect from the
    next send; a send already running keeps the receivers it started with.
    """

    __slots__ = (
        "__weakref__",
        "_check_payload",
        "_connected",
        "_registry",
        "_subscriptions",
        "name",
        "providing_args",
        "thread",
        "timeout",
        "use_caching",
    )

    def __init__(
        self,
        providing_args: Iterable[str] | None = None,
        use_caching: bool = False,
        *,
        name: str | None = None,
        thread: bool = False,
        timeout: float | None = None,
    ) -> None:
        if not isinstance(thread, bool):
            raise TypeError(
                f"thread must be True or False, got {type(thread).__name__} {thread!r}"
            )
        self.timeout: float | None = check_timeout(timeout)
        self.thread: bool = thread
        if isinstance(providing_args, str) or not (
            providing_args is None or isinstance(providing_args, Iterable)
        ):
            raise TypeError(
                "providing_args must be an iterable of argument names such as "
                f"['instance', 'created'], got {providing_args!r}"
            )
        self.providing_args: frozenset[str] = frozenset(providing_args or ())
        self.use_caching: bool = use_caching
        self.name: str | None = name
        self._registry = Registry()
        #: Set by ``define``: checks a send's payload against the prototype.
        self._check_payload: Callable[[str, dict[str, Any]], None] | None = None
        #: Replaced, never mutated (``_seam.subscribe``): read without a lock.
        self._subscriptions: tuple[Subscriber, ...] = ()
        # The registry's sender index, for the "nobody is connected" fast path.
        self._connected = self._registry.by_sender

    def __repr__(self) -> str:
        name = f" {self.name!r}" if self.name is not None else ""
        return f"<{type(self).__name__}{name} with {len(self._registry)} receivers>"

    @overload
    def connect(
        self,
        receiver: ReceiverT,
        sender: object = None,
        weak: bool = True,
        dispatch_uid: Hashable | None = None,
        *,
        thread: bool | None = None,
        timeout: float | None = None,
        once: bool = False,
    ) -> ReceiverT: ...
    @overload
    def connect(
        self,
        *,
        sender: object = None,
        weak: bool = True,
        dispatch_uid: Hashable | None = None,
        thread: bool | None = None,
        timeout: float | None = None,
        once: bool = False,
    ) -> Callable[[ReceiverT], ReceiverT]: ...
    def connect(
        self,
        receiver: ReceiverT | NoReceiver = NO_RECEIVER,
        sender: object = None,
        weak: bool = True,
        dispatch_uid: Hashable | None = None,
        *,
        thread: bool | None = None,
        timeout: float | None = None,
        once: bool = False,
    ) -> ReceiverT | Callable[[ReceiverT], ReceiverT]:
        """Connect ``receiver`` to this signal and return it (so ``@sig.connect``
        works as a decorator). Without ``receiver`` (``@sig.connect(thread=True,
        timeout=2)``), return a decorator that connects the function it is
        given with these options and returns it unchanged.

        :param receiver: a sync or async callable accepting ``**kwargs``;
            whether it is async is decided here, once.
        :param sender: only call ``receiver`` for this sender (matched by
            identity); ``None`` means any sender. The sender is held weakly
            where it can be; its registrations die with it.
        :param weak: hold the receiver weakly (the default); it is then
            disconnected when garbage collected.
        :param dispatch_uid: identifies the registration instead of the
            receiver; a falsy one (``""``, ``0``) is ignored, as in Django.
        :param thread: run this sync receiver in a worker thread under
            :meth:`asend` (anyio's thread pool and its default limiter),
            concurrently with the others; ``None`` takes the signal's default.
            Under :meth:`send` it is called in the caller's thread like any sync
            receiver. A thread cannot be killed: when its receiver times out or
            the caller is cancelled, ``asend`` stops waiting for it and the
            thread runs to its end unobserved, holding its limiter token until
            then: hung receivers never run more threads than the limiter allows.
        :param timeout: seconds after which this async or ``thread=True``
            receiver is cancelled; its outcome is then a
            :class:`~asyncsignal.ReceiverTimeout`, isolated like any error.
            ``None`` takes the signal's default. An anyio shield active in the
            receiver holds against it, as against any cancellation.
        :param once: remove the registration before its first call; concurrent
            sends from tasks and threads call it exactly once.

        Connecting the same receiver (or ``dispatch_uid``) for the same sender
        twice keeps one registration, at its first position, with its first
        policy. Nothing is connected when an argument is rejected.

        :raises TypeError: ``receiver`` is not callable or cannot be weakly
            referenced with ``weak=True``; ``dispatch_uid`` is unhashable;
            ``thread=True`` for an async receiver; ``thread``/``once`` not a
            bool; ``timeout`` not a number.
        :raises ValueError: ``receiver`` does not accept ``**kwargs``;
            ``timeout`` not positive and finite; ``timeout`` for a sync
            receiver called inline (it cannot be interrupted).
        :warns WeakReceiverWarning: ``weak=True`` for a ``lambda`` or a
            ``functools.partial``, which would be collected at once.
        """
        if receiver is NO_RECEIVER:

            def decorator(func: ReceiverT) -> ReceiverT:
                return self.connect(
                    func,
                    sender,
                    weak,
                    dispatch_uid,
                    thread=thread,
                    timeout=timeout,
                    once=once,
                )

            return decorator
        is_async = check_receiver(receiver)
        policy = resolve_policy(
            receiver, is_async, thread, timeout, once, self.thread, self.timeout
        )
        if weak and dies_at_once(receiver):
            warn_weak(receiver)
        self._registry.connect(receiver, sender, weak, dispatch_uid, is_async, policy)
        return receiver

    def disconnect(
        self,
        receiver: Callable[..., Any] | None = None,
        sender: object = None,
        dispatch_uid: Hashable | None = None,
    ) -> bool:
        """Disconnect a registration made with the same receiver (or
        ``dispatch_uid``) and sender; return whether one was found.

        A send that starts after this returns does not call the receiver.

        :raises TypeError: neither ``receiver`` nor ``dispatch_uid`` is given.
        """
        return self._registry.disconnect(receiver, sender, dispatch_uid)

    def has_listeners(self, sender: object = None) -> bool:
        """Whether ``send(sender)`` would call at least one live receiver."""
        return any(
            registration() is not None
            for registration in self._plan_for(sender).registrations
        )

    @property
    def receivers(self) -> Receivers:
        """A live view of the registrations: ``len()`` counts them, iterating
        yields their receivers in connection order, and it is falsy when empty."""
        return Receivers(self._registry)

    def subscribe(
        self,
        sender: object = None,
        *,
        max_buffer: int = 100,
        overflow: Overflow = "drop_oldest",
    ) -> Subscription:
        """Receive this signal's sends as :class:`~asyncsignal.Event` objects::

            async with signal.subscribe() as events:
                async for event in events:
                    ...

        The subscription sees every send (any of the four methods, from any
        thread) that starts after ``async with`` entered and before it exits,
        from ``sender`` only if one is given (matched by identity, like a
        receiver's). It gets the event when the send starts, before any
        receiver runs; it is not a receiver (no response, not in
        :attr:`receivers`). Iteration ends when the block exits (a cancelled
        consumer included); nothing is kept after it.

        Up to ``max_buffer`` events wait to be consumed. When the buffer is
        full, ``overflow`` decides: ``"drop_oldest"`` (the default) or
        ``"drop_newest"`` drop an event, counted in ``events.dropped``, and
        never delay a sender; ``"block"`` makes the sender wait for room:
        ``asend`` waits (cancellably), ``send`` blocks its thread.

        :raises TypeError: ``max_buffer`` is not an int.
        :raises ValueError: ``max_buffer`` < 1 or an unknown ``overflow``.
        """
        check_subscription_args(max_buffer, overflow)
        return Subscription(self, sender, max_buffer, overflow)

    async def wait(
        self,
        sender: object = None,
        *,
        where: Callable[[Event], bool] | None = None,
    ) -> Event:
        """Wait for the next send (from ``sender`` if given) for which
        ``where(event)`` is true, and return it as an :class:`~asyncsignal.Event`.

        Only sends that start after this is awaited count. Bound the wait with
        the caller's own scope: ``with anyio.fail_after(5): await sig.wait()``.
        An exception raised by ``where`` propagates from here (never into the
        sender); the events of sends meanwhile are evaluated in order.
        """
        # Unbounded: every send until the first match is looked at, here.
        async with Subscription(self, sender, None, "drop_oldest") as events:
            async for event in events:
                if where is None or where(event):
                    return event
        raise AssertionError(
            "unreachable: the subscription ends only on exit"
        )  # pragma: no cover

    def _publish_sync(self, sender: object, named: dict[str, Any], method: str) -> None:
        if named:
            _dispatch.check_named(named)
        # A send that is refused must not reach subscriptions either.
        if self._plan_for(sender).has_async:
            check_can_block(method)
        event = Event(self, sender, MappingProxyType(named))
        publish_sync(self._subscriptions, event, method)

    async def _publish(
        self,
        sender: object,
        named: dict[str, Any],
        subscriptions: tuple[Subscriber, ...],
    ) -> None:
        if named:
            _dispatch.check_named(named)
        await publish(subscriptions, Event(self, sender, MappingProxyType(named)))

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
            return _dispatch.send(self, plan.registrations, sender, named)
        return _dispatch.send_with_policies(
            self, plan, sender, named, SEND, self._registry.claim, self._run_from_sync
        )

    def send_robust(self, sender: object, **named: Any) -> Responses:
        """Like :meth:`send`, but a receiver's ``Exception`` becomes its response
        (with its ``__traceback__``) and is logged at ERROR on the
        ``asyncsignal`` logger; every receiver is called.
        ``BaseException``\\s (``KeyboardInterrupt``, cancellation) propagate.
        """
        if self._check_payload is not None:
            self._check_payload("send_robust", named)
        if self._subscriptions:
            self._publish_sync(sender, named, "send_robust")
        plan = self._receiving_plan(sender, named)
        if plan is None:
            return []
        return _dispatch.send_with_policies(
            self,
            plan,
            sender,
            named,
            SEND_ROBUST,
            self._registry.claim,
            self._run_from_sync,
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
        # _asend_offering's body, inline: a coroutine less per asend (W3).
        if self._check_payload is not None:
            self._check_payload("asend", named)
        if subscriptions := self._subscriptions:
            await self._publish(sender, named, subscriptions)
        plan = self._receiving_plan(sender, named)
        if plan is None:
            return []
        if plan.plain_sync:  # no task, no thread, no loop: call them in turn
            return _dispatch.send_with_policies(
                self, plan, sender, named, ASEND, self._registry.claim, None
            )
        return await _dispatch.asend(
            self,
            plan.registrations,
            sender,
            named,
            ASEND,
            self._registry.claim,
            self._run_in_thread,
        )

    async def asend_robust(self, sender: object, **named: Any) -> Responses:
        """Like :meth:`asend`, but a receiver's ``Exception`` (a
        :class:`~asyncsignal.ReceiverTimeout` too) becomes its response and is
        logged at ERROR on the ``asyncsignal`` logger; nothing is raised for it.
        ``BaseException``\\s (cancellation included) propagate.
        """
        return await self._asend_offering(
            sender, named, self._subscriptions, ASEND_ROBUST
        )

    def _asend_robust(
        self,
        sender: object,
        named: dict[str, Any],
        subscriptions: tuple[Subscriber, ...],
    ) -> Coroutine[Any, Any, Responses]:
        """:meth:`asend_robust`, offering the event to ``subscriptions`` (a
        bridge delivering an incoming event leaves its own out). Returns the
        coroutine itself: no coroutine of its own on the bridge's path."""
        return self._asend_offering(sender, named, subscriptions, ASEND_ROBUST)

    async def _asend_offering(
        self,
        sender: object,
        named: dict[str, Any],
        subscriptions: tuple[Subscriber, ...],
        method: _dispatch.Method,
    ) -> Responses:
        """:meth:`asend` or :meth:`asend_robust` (``method``), offering the
        event to ``subscriptions``."""
        if self._check_payload is not None:
            self._check_payload(method.name, named)
        if subscriptions:
            await self._publish(sender, named, subscriptions)
        plan = self._receiving_plan(sender, named)
        if plan is None:
            return []
        if plan.plain_sync:  # no task, no thread, no loop: call them in turn
            return _dispatch.send_with_policies(
                self, plan, sender, named, method, self._registry.claim, None
            )
        return await _dispatch.asend(
            self,
            plan.registrations,
            sender,
            named,
            method,
            self._registry.claim,
            self._run_in_thread,
        )


#: Django's name for the same class: ``from asyncsignal import Signal``.
Signal = AsyncSignal
