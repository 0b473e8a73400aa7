"""The public signal class, tying the registry, the dispatch engine and the bridge."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from types import FunctionType
from typing import TYPE_CHECKING, Any, TypeVar, overload

from ._callables import check_receiver
from ._dispatch import dispatches
from ._policies import check_timeout, resolve_policy
from ._receivers import NO_RECEIVER, NoReceiver, Receivers, dies_at_once, warn_weak
from ._registry import Registry
from ._sending import Responses, Sending
from ._subscriptions import Subscription, check_subscription_args

if TYPE_CHECKING:
    from collections.abc import Hashable

    from ._subscriptions import Event, Overflow

__all__ = ("AsyncSignal", "Responses", "Signal")

ReceiverT = TypeVar("ReceiverT", bound=Callable[..., Any])


class AsyncSignal(Sending):
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

    # The private fields are Sending's.
    __slots__ = (
        "__weakref__",
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
        self._check_payload = None
        self._subscriptions = ()
        self._connected = self._registry.by_sender
        cls = type(self)
        (
            self._send_dispatch,
            self._send_robust_dispatch,
            self._asend_dispatch,
            self._asend_robust_dispatch,
        ) = dispatches(self._registry.claim, cls._run_from_sync, cls._run_in_thread)

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


# The send methods are written in Sending: show them as the public class's in
# reprs, tracebacks and "never awaited" warnings, as __init__ shows the public
# module.
for _method in vars(Sending).values():
    if isinstance(_method, FunctionType):
        _method.__qualname__ = _method.__qualname__.replace(
            "Sending.", "AsyncSignal.", 1
        )
del _method

#: Django's name for the same class: ``from asyncsignal import Signal``.
Signal = AsyncSignal
