"""The signal libraries under test, behind one small adapter each.

Every adapter connects the same receivers (``receivers.py``) and makes the
call the way that library's users write it. A library that cannot do a
workload raises :class:`Unsupported`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from .backends import sleep_for
from .calls import Call, Dispatch, Unsupported
from .receivers import Listener, Model, Probe, Sender, make_receivers

__all__ = ("LIBRARIES", "Library")

Receiver = Callable[..., Any]


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

    def connect(self, sig: Any, receiver: Receiver, sender: object = None) -> None:
        sig.connect(receiver, sender=sender)

    def build(self, dispatch: Dispatch, probe: Probe | None) -> Call:
        """A signal with ``dispatch``'s receivers connected, and the call."""
        expr = self.send_expr if dispatch.mode == "send" else self.asend_expr
        if expr is None:
            raise Unsupported(f"{self.name} has no {dispatch.mode}")
        if dispatch.senders and not self.filters_by_sender:
            raise Unsupported(f"{self.name} does not filter by sender")
        receivers = make_receivers(
            dispatch.kinds,
            positional=self.positional,
            sleep=sleep_for(dispatch.backend),
            probe=probe,
        )
        sig = self.new_signal()
        sender: object = Model
        keep: list[object] = [receivers]
        if dispatch.senders:
            senders = [Sender(i) for i in range(dispatch.senders)]
            for receiver, each in zip(receivers, senders, strict=True):
                self.connect(sig, receiver, sender=each)
            sender = senders[dispatch.senders // 2]
            keep.append(senders)
        else:
            for receiver in receivers:
                self.connect(sig, receiver)
        namespace = {"sig": sig, "sender": sender, "_keep": keep}
        namespace.update(self.extra_names())
        return Call(expr, namespace, is_async=dispatch.mode == "asend")

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


class AsyncSignalLib(Library):
    name = "asyncsignal"

    def new_signal(self) -> Any:
        from asyncsignal import AsyncSignal

        return AsyncSignal()


class DjangoLib(Library):
    name = "django"

    def new_signal(self) -> Any:
        from django.conf import settings

        if not settings.configured:
            # Minimal: Signal only reads DEBUG (receiver checks when True).
            settings.configure(DEBUG=False)
        from django.dispatch import Signal

        return Signal()


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

    def connect(self, sig: Any, receiver: Receiver, sender: object = None) -> None:
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

    def connect(self, sig: Any, receiver: Receiver, sender: object = None) -> None:
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

    def connect(self, sig: Any, receiver: Receiver, sender: object = None) -> None:
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
        DjangoLib(),
        BlinkerLib(),
        AiosignalLib(),
        PsygnalLib(),
    )
}
