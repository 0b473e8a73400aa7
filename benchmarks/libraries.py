"""The signal libraries under test, behind one small adapter each.

Every adapter connects the same receivers (``receivers.py``) and makes the
call the way that library's users write it. A library that cannot do a
workload raises :class:`Unsupported`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from .backends import run_on, sleep_for
from .calls import NO_FEATURES, Call, Dispatch, Unsupported
from .receivers import Listener, Model, Probe, Sender, make_receivers

if TYPE_CHECKING:
    from asyncsignal import Subscription

__all__ = ("LIBRARIES", "SUBSCRIPTION_BUFFER", "Library", "enter", "leave")

Receiver = Callable[..., Any]

#: W10's subscriptions hold this many events, then drop the oldest: nothing
#: consumes them while timed, so every send takes the normal non-blocking path.
SUBSCRIPTION_BUFFER = 10


class Library:
    """Adapter base: how a library connects, sends and counts."""

    name: ClassVar[str]
    #: Receivers take ``(sender, x)`` positionally instead of keywords.
    positional: ClassVar[bool] = False
    #: Connects one receiver per sender (W7), not only "any sender".
    filters_by_sender: ClassVar[bool] = True
    send_expr: ClassVar[str | None] = "sig.send(sender, x=1)"
    asend_expr: ClassVar[str | None] = "await sig.asend(sender, x=1)"

    def new_signal(self) -> Any:
        raise NotImplementedError

    def signal_for(self, dispatch: Dispatch) -> Any:
        """A new signal for ``dispatch`` (asyncsignal: typed if it asks)."""
        return self.new_signal()

    def policy(self, dispatch: Dispatch) -> dict[str, Any]:
        """``connect``'s keywords for ``dispatch``: asyncsignal's ``thread``
        and ``timeout``; none for the other libraries."""
        return {}

    def connect(
        self, sig: Any, receiver: Receiver, sender: object = None, **policy: Any
    ) -> None:
        sig.connect(receiver, sender=sender, **policy)

    def build(self, dispatch: Dispatch, probe: Probe | None) -> Call:
        """A signal with ``dispatch``'s receivers connected, and the call."""
        expr = self.send_expr if dispatch.mode == "send" else self.asend_expr
        if expr is None:
            raise Unsupported(f"{self.name} has no {dispatch.mode}")
        if dispatch.senders and not self.filters_by_sender:
            raise Unsupported(f"{self.name} does not filter by sender")
        sink: list[object] = []
        receivers = make_receivers(
            dispatch.kinds,
            positional=self.positional,
            sleep=sleep_for(dispatch.backend),
            probe=probe,
            sink=sink,
        )
        sig = self.signal_for(dispatch)
        policy = self.policy(dispatch)
        if dispatch.features.strong:
            policy["weak"] = False
        sender: object = Model
        keep: list[object] = [receivers]
        if dispatch.senders:
            senders = [Sender(i) for i in range(dispatch.senders)]
            for receiver, each in zip(receivers, senders, strict=True):
                self.connect(sig, receiver, sender=each, **policy)
            sender = senders[dispatch.senders // 2]
            keep.append(senders)
        else:
            for receiver in receivers:
                self.connect(sig, receiver, **policy)
        namespace = {"sig": sig, "sender": sender, "_keep": keep}
        namespace.update(self.extra_names())
        return Call(
            expr, namespace, is_async=dispatch.mode == "asend", after_sample=sink.clear
        )

    def extra_names(self) -> dict[str, Any]:
        """More names the call expressions use."""
        return {}

    # -- totals: connect / disconnect many, memory ---------------------------

    #: The :class:`Listener` method connected as a bound-method receiver.
    method_name: ClassVar[str] = "on"

    def registrations(self, sig: Any) -> int:
        """How many receivers are connected."""
        return len(sig.receivers)

    def fire(self, sig: Any) -> None:
        """A sync send, for correctness checks."""
        sig.send(Model, x=1)

    def bound_method(self, listener: Listener) -> Receiver:
        method: Receiver = getattr(listener, self.method_name)
        return method


def _prototype(sender: object, *, x: int) -> int:
    """The typed signal of W2-typed: the payload every workload sends."""
    raise NotImplementedError  # define() reads the signature, never calls it


def enter(subscription: Subscription) -> None:
    """Enter ``subscription`` as ``async with`` does, from sync code: its
    ``__aenter__`` never suspends (``run_on("sync")`` raises if it does)."""
    run_on("sync", subscription.__aenter__)


def leave(subscription: Subscription) -> None:
    """Exit ``subscription`` as the end of its ``async with`` block does."""
    run_on("sync", lambda: subscription.__aexit__(None, None, None))


class AsyncSignalLib(Library):
    name = "asyncsignal"

    def new_signal(self) -> Any:
        from asyncsignal import AsyncSignal

        return AsyncSignal()

    def signal_for(self, dispatch: Dispatch) -> Any:
        if dispatch.features.typed:
            from asyncsignal import define

            return define(_prototype)
        return self.new_signal()

    def policy(self, dispatch: Dispatch) -> dict[str, Any]:
        features = dispatch.features
        policy: dict[str, Any] = {}
        if features.thread:
            policy["thread"] = True
        if features.timeout is not None:
            policy["timeout"] = features.timeout
        return policy

    def build(self, dispatch: Dispatch, probe: Probe | None) -> Call:
        if dispatch.features.subscribe:
            return self._subscribed(dispatch, probe)
        return super().build(dispatch, probe)

    def _subscribed(self, dispatch: Dispatch, probe: Probe | None) -> Call:
        """One entered subscription per receiver of ``dispatch``, no receivers.

        They stay entered until the signal is dropped with the workload. The
        probe instance then takes each one's event: ``(index, x)`` for
        subscription ``index``, as a receiver's probe records.
        """
        if dispatch.mode != "asend" or dispatch.senders:
            raise Unsupported("subscriptions are measured under asend, any sender")
        sig = self.signal_for(dispatch)
        subscriptions = [
            sig.subscribe(max_buffer=SUBSCRIPTION_BUFFER) for _ in dispatch.kinds
        ]
        for subscription in subscriptions:
            enter(subscription)
        namespace: dict[str, Any] = {"sig": sig, "sender": Model}
        expr = "await sig.asend(sender, x=1)"
        if probe is not None:
            import anyio

            async def record() -> None:
                # An event that never came fails the check instead of hanging.
                with anyio.fail_after(5):
                    for index, events in enumerate(subscriptions):
                        event = await anext(events)
                        probe.append((index, event.kwargs.get("x")))

            namespace["record"] = record
            expr = f"({expr}, await record())"
        return Call(expr, namespace, is_async=True, responds=False)


class _AsyncSignalWithout(AsyncSignalLib):
    """asyncsignal without the workload's feature ``without`` (a field of
    :class:`~.calls.Features`): the anchor that shows what it costs."""

    without: ClassVar[str]

    def build(self, dispatch: Dispatch, probe: Probe | None) -> Call:
        plain = {self.without: getattr(NO_FEATURES, self.without)}
        features = dataclasses.replace(dispatch.features, **plain)
        return super().build(dataclasses.replace(dispatch, features=features), probe)


class NoTimeoutLib(_AsyncSignalWithout):
    name = "asyncsignal, no timeout"
    without = "timeout"


class UntypedLib(_AsyncSignalWithout):
    name = "asyncsignal, untyped"
    without = "typed"


class ReceiversLib(_AsyncSignalWithout):
    """W10's anchor: the workload's receivers connected, no subscription."""

    name = "asyncsignal, receivers"
    without = "subscribe"


class DjangoLib(Library):
    name = "django"

    def new_signal(self) -> Any:
        from django.conf import settings

        if not settings.configured:
            # Minimal: Signal only reads DEBUG (receiver checks when True).
            settings.configure(DEBUG=False)
        from django.dispatch import Signal

        return Signal()


class DjangoVariantLib(AsyncSignalLib):
    """``asyncsignal.django.Signal``: held to the core's targets against Django."""

    name = "asyncsignal.django"

    def new_signal(self) -> Any:
        DjangoLib().new_signal()  # configures the settings it reads
        from asyncsignal.django import Signal

        return Signal()


class DjangoVariantInlineLib(DjangoVariantLib):
    """``asyncsignal.django.Signal`` whose sync receivers are connected with
    ``thread=False``: called in the event loop's thread under ``asend``, with
    no ``sync_to_async`` hop (for receivers that do not use the ORM)."""

    name = "asyncsignal.django, thread=False"

    def policy(self, dispatch: Dispatch) -> dict[str, Any]:
        return {**super().policy(dispatch), "thread": False}


def _inline_sync_wrapper(receiver: Receiver) -> Callable[..., Any]:
    """blinker's ``_sync_wrapper``: call a sync receiver inline, in the loop."""

    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        return receiver(*args, **kwargs)

    return wrapper


class BlinkerLib(Library):
    name = "blinker"
    asend_expr = "await sig.send_async(sender, _sync_wrapper=wrap, x=1)"

    def new_signal(self) -> Any:
        import blinker

        return blinker.Signal()

    def connect(
        self, sig: Any, receiver: Receiver, sender: object = None, **policy: Any
    ) -> None:
        # blinker's "any sender" is its ANY default; None would be a sender.
        if sender is None:
            sig.connect(receiver)
        else:
            sig.connect(receiver, sender=sender)

    def extra_names(self) -> dict[str, Any]:
        return {"wrap": _inline_sync_wrapper}


class AiosignalLib(Library):
    """aiosignal: a frozen list of coroutine callbacks, awaited in turn."""

    name = "aiosignal"
    filters_by_sender = False
    send_expr = None
    asend_expr = "await sig.send(signal=sig, sender=sender, x=1)"

    def new_signal(self) -> Any:
        from aiosignal import Signal

        return Signal(owner=None)

    def connect(
        self, sig: Any, receiver: Receiver, sender: object = None, **policy: Any
    ) -> None:
        sig.append(receiver)

    def build(self, dispatch: Dispatch, probe: Probe | None) -> Call:
        if "sync" in dispatch.kinds:
            raise Unsupported("aiosignal awaits every callback: async only")
        call = super().build(dispatch, probe)
        call.namespace["sig"].freeze()
        return call


class PsygnalLib(Library):
    """psygnal: typed signals whose slots get the emitted values positionally."""

    name = "psygnal"
    positional = True
    filters_by_sender = False
    send_expr = "sig.emit(sender, 1)"
    asend_expr = None
    method_name = "on_positional"

    def new_signal(self) -> Any:
        from psygnal import SignalInstance

        return SignalInstance((object, int))

    def connect(
        self, sig: Any, receiver: Receiver, sender: object = None, **policy: Any
    ) -> None:
        sig.connect(receiver)

    def registrations(self, sig: Any) -> int:
        return len(sig)

    def fire(self, sig: Any) -> None:
        sig.emit(Model, 1)


#: Adapters by name, in table order.
LIBRARIES: dict[str, Library] = {
    lib.name: lib
    for lib in (
        AsyncSignalLib(),
        DjangoVariantLib(),
        DjangoVariantInlineLib(),
        NoTimeoutLib(),
        UntypedLib(),
        ReceiversLib(),
        DjangoLib(),
        BlinkerLib(),
        AiosignalLib(),
        PsygnalLib(),
    )
}
