"""The public signal class, tying the registry, the dispatch engine and the bridge."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from . import _dispatch
from ._bridge import run_from_sync
from ._registry import Registry

if TYPE_CHECKING:
    from collections.abc import Hashable

    from ._registry import Plan, Registration

__all__ = ("AsyncSignal", "Receivers", "Signal", "receiver")

ReceiverT = TypeVar("ReceiverT", bound=Callable[..., Any])

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

    Receivers are called as ``receiver(signal=self, sender=sender, **named)``.
    ``connect`` and ``disconnect`` are thread-safe and take effect from the
    next send; a send already running keeps the receivers it started with.
    """

    __slots__ = (
        "__weakref__",
        "_connected",
        "_registry",
        "name",
        "providing_args",
        "use_caching",
    )

    def __init__(
        self,
        providing_args: Iterable[str] | None = None,
        use_caching: bool = False,
        *,
        name: str | None = None,
    ) -> None:
        if isinstance(providing_args, str) or not (
            providing_args is None or isinstance(providing_args, Iterable)
        ):
            raise TypeError(
                "providing_args must be an iterable of argument names such as "
                f"['instance', 'created'], got {providing_args!r}"
            )
        self.providing_args: frozenset[str] = frozenset(providing_args or ())
        self.use_caching = use_caching
        self.name = name
        self._registry = Registry()
        # The registry's sender index, for the "nobody is connected" fast path.
        self._connected = self._registry.by_sender

    def __repr__(self) -> str:
        name = f" {self.name!r}" if self.name is not None else ""
        return f"<{type(self).__name__}{name} with {len(self._registry)} receivers>"

    def connect(
        self,
        receiver: ReceiverT,
        sender: object = None,
        weak: bool = True,
        dispatch_uid: Hashable | None = None,
    ) -> ReceiverT:
        """Connect ``receiver`` to this signal and return it (so ``@sig.connect``
        works as a decorator).

        :param receiver: a sync or async callable accepting ``**kwargs``;
            whether it is async is decided here, once.
        :param sender: only call ``receiver`` for this sender (matched by
            identity); ``None`` means any sender. The sender is held weakly
            where it can be; its registrations die with it.
        :param weak: hold the receiver weakly (the default); it is then
            disconnected when garbage collected.
        :param dispatch_uid: identifies the registration instead of the receiver.

        Connecting the same receiver (or ``dispatch_uid``) for the same sender
        twice keeps one registration, at its first position.

        :raises TypeError: ``receiver`` is not callable or cannot be weakly
            referenced with ``weak=True``; ``dispatch_uid`` is unhashable.
        :raises ValueError: ``receiver`` does not accept ``**kwargs``.
        """
        self._registry.connect(receiver, sender, weak, dispatch_uid)
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
        registrations, _ = self._plan_for(sender)
        return any(registration() is not None for registration in registrations)

    @property
    def receivers(self) -> Receivers:
        """A live view of the registrations: ``len()`` counts them, iterating
        yields their receivers in connection order, and it is falsy when empty."""
        return Receivers(self._registry)

    def _plan_for(self, sender: object) -> Plan:
        plan = self._registry.cache.get(id(sender))
        return self._registry.compute_plan(sender) if plan is None else plan

    def send(self, sender: object, **named: Any) -> Responses:
        """Call every receiver for ``sender`` and return ``(receiver, response)``
        pairs in connection order.

        Sync receivers are called in order in this thread; the first exception
        propagates and later receivers are not called. If async receivers are
        connected, every receiver runs as :meth:`asend` would (errors isolated,
        then raised): on the event loop that owns this worker thread, or on a
        new asyncio event loop if this thread has none.

        :raises RuntimeError: if async receivers are connected and this is an
            event loop's thread (use :meth:`asend`); no receiver has run.
        :raises TypeError: a payload argument is named ``signal``.
        """
        if not self._connected:  # fast path: nothing is connected at all
            return []
        plan = self._registry.cache.get(id(sender))
        registrations, async_count = (
            self._registry.compute_plan(sender) if plan is None else plan
        )
        if not registrations:
            return []
        if named:
            _dispatch.check_named(named)
        if async_count:
            return self._send_from_sync("send", registrations, sender, named)
        return _dispatch.send(self, registrations, sender, named)

    def send_robust(self, sender: object, **named: Any) -> Responses:
        """Like :meth:`send`, but a receiver's ``Exception`` becomes its response
        (with its ``__traceback__``) and is logged at ERROR on the
        ``asyncsignal`` logger; every receiver is called.
        ``BaseException``\\s (``KeyboardInterrupt``, cancellation) propagate.
        """
        registrations, async_count = self._plan_for(sender)
        if not registrations:
            return []
        if named:
            _dispatch.check_named(named)
        if async_count:
            return self._send_from_sync("send_robust", registrations, sender, named)
        return _dispatch.send_robust(self, registrations, sender, named)

    def _send_from_sync(
        self,
        method: str,
        registrations: tuple[Registration, ...],
        sender: object,
        named: dict[str, Any],
    ) -> Responses:
        # A method of its own: a lambda in send() would make its arguments
        # closure cells, created on every call, even when nothing is connected.
        robust = method == "send_robust"
        return run_from_sync(
            method,
            lambda: _dispatch.asend(self, registrations, sender, named, robust),
        )

    async def asend(self, sender: object, **named: Any) -> Responses:
        """Call every receiver for ``sender`` concurrently; return
        ``(receiver, response)`` pairs in connection order.

        Receivers start in connection order: a sync receiver is called at its
        turn in the event loop's thread; an async receiver gets its own task at
        its turn (on Python 3.12+ asyncio it runs eagerly up to its first
        suspension). All run concurrently; this returns when all have finished.

        Errors are isolated: a failing receiver neither cancels nor skips any
        other. Afterwards the error is raised: the exception itself if one
        receiver failed, an ``ExceptionGroup`` (connection order) if several did.

        If the calling task is cancelled, every receiver still running is
        cancelled and awaited before the cancellation propagates; errors that
        receivers raise meanwhile are logged on the ``asyncsignal`` logger.

        This yields to the event loop only if an async receiver does.

        :raises TypeError: a payload argument is named ``signal``.
        """
        registrations, _ = self._plan_for(sender)
        if not registrations:
            return []
        if named:
            _dispatch.check_named(named)
        return await _dispatch.asend(self, registrations, sender, named, False)

    async def asend_robust(self, sender: object, **named: Any) -> Responses:
        """Like :meth:`asend`, but a receiver's ``Exception`` becomes its response
        and is logged at ERROR on the ``asyncsignal`` logger; nothing is raised
        for it. ``BaseException``\\s (cancellation included) propagate.
        """
        registrations, _ = self._plan_for(sender)
        if not registrations:
            return []
        if named:
            _dispatch.check_named(named)
        return await _dispatch.asend(self, registrations, sender, named, True)


#: Django's name for the same class: ``from asyncsignal import Signal``.
Signal = AsyncSignal


class Receivers:
    """A live, sized view of a signal's registrations."""

    __slots__ = ("_registry",)

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    def __len__(self) -> int:
        return len(self._registry)

    def __bool__(self) -> bool:
        return len(self._registry) > 0

    def __iter__(self) -> Iterator[Callable[..., Any]]:
        return iter(self._registry)

    def __contains__(self, receiver: object) -> bool:
        return any(receiver == connected for connected in self._registry)

    def __repr__(self) -> str:
        return f"<Receivers: {list(self._registry)!r}>"


def receiver(
    signal: AsyncSignal | list[AsyncSignal] | tuple[AsyncSignal, ...],
    **connect_kwargs: Any,
) -> Callable[[ReceiverT], ReceiverT]:
    """Decorator connecting the function to ``signal`` (or to each signal of a
    list or tuple) with ``connect_kwargs``; it returns the function unchanged.

    ``@receiver(post_save, sender=Model, dispatch_uid="...")``
    """
    signals = signal if isinstance(signal, (list, tuple)) else (signal,)
    for each in signals:
        if not callable(getattr(each, "connect", None)):
            raise TypeError(
                "receiver() takes a signal or a list or tuple of signals, got "
                f"{type(each).__name__} {each!r}"
            )

    def decorator(func: ReceiverT) -> ReceiverT:
        for each in signals:
            each.connect(func, **connect_kwargs)
        return func

    return decorator
