"""How ``asyncsignal.django`` connects as Django does: receivers are checked
only under ``settings.DEBUG``, and a subclass written for Django (its
``ModelSignal``, whose lazy ``"app_label.Model"`` senders connect later) gets
asyncsignal's policies although its ``connect`` does not take them."""

from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING, Any, TypeVar

from .._callables import check_receiver, is_async_callable
from .._policies import resolve_policy
from .._receivers import connecting

if TYPE_CHECKING:
    from collections.abc import Callable

    from .._signal import AsyncSignal
    from ._signal import Signal

__all__ = ("check_receiver_if_debug", "pending_policy", "receiver", "taking_policies")

ReceiverT = TypeVar("ReceiverT", bound="Callable[..., Any]")


def receiver(
    signal: AsyncSignal | list[AsyncSignal] | tuple[AsyncSignal, ...],
    **kwargs: Any,
) -> Callable[[ReceiverT], ReceiverT]:
    """Django's ``@receiver``: connect the decorated function to ``signal`` (or
    to each signal of a list or tuple) with ``signal.connect(func, **kwargs)``
    and return it unchanged. Any keyword the signal's ``connect`` takes is
    passed on: asyncsignal's policies (``thread``, ``timeout``, ``once``) and
    a subclass's own, such as Django's ``ModelSignal``'s ``apps``. (The typed
    :func:`asyncsignal.receiver` takes asyncsignal's options only.)

    :raises TypeError: ``signal`` is not a signal or a list or tuple of
        signals; what ``connect`` raises, when the function is decorated.
    """
    return connecting(signal, kwargs)


#: Policies given to a subclass's ``connect`` that does not take them:
#: (id(signal), id(receiver)) -> (receiver, thread, timeout, once).
_pending_policies: dict[tuple[int, int], tuple[Any, Any, Any, bool]] = {}
_PENDING_LOCK = threading.Lock()


def pending_policy(
    signal: Signal, receiver: object
) -> tuple[Any, Any, Any, bool] | None:
    """The policies a subclass's ``connect`` took for ``receiver`` (removed)."""
    if not _pending_policies:
        return None
    with _PENDING_LOCK:
        return _pending_policies.pop((id(signal), id(receiver)), None)


def check_receiver_if_debug(receiver: Callable[..., Any]) -> bool:
    """Whether ``receiver`` is async; under ``settings.DEBUG`` it is checked
    first (callable, accepts ``**kwargs``), the errors led by Django's sentence."""
    if not _debug():
        return is_async_callable(receiver)
    try:
        return check_receiver(receiver)
    except (TypeError, ValueError) as error:
        lead = (
            "Signal receivers must be callable."
            if isinstance(error, TypeError)
            else "Signal receivers must accept keyword arguments (**kwargs)."
        )
        raise type(error)(f"{lead} {error}") from None


def _debug() -> bool:
    from django.conf import settings

    return bool(settings.configured and settings.DEBUG)


def taking_policies(connect: Callable[..., Any]) -> Callable[..., Any]:
    """``connect`` of a subclass written for Django, taking the policies too:
    checked at once, applied when it reaches ``Signal.connect``."""

    @functools.wraps(connect)
    def connect_with_policies(
        self: Signal,
        receiver: Any,
        *args: Any,
        thread: bool | None = None,
        timeout: float | None = None,
        once: bool = False,
        **kwargs: Any,
    ) -> Any:
        if thread is not None or timeout is not None or once:
            # Checked now, applied when the subclass reaches Signal.connect
            # (at once, or when a lazy sender's model is loaded).
            is_async = is_async_callable(receiver)
            resolve_policy(
                receiver, is_async, thread, timeout, once, self.thread, self.timeout
            )
            with _PENDING_LOCK:
                _pending_policies[(id(self), id(receiver))] = (
                    receiver,
                    thread,
                    timeout,
                    once,
                )
        return connect(self, receiver, *args, **kwargs)

    return connect_with_policies
