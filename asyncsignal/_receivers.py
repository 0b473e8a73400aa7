"""Receivers as the public API shows them: the live view of a signal's
registrations (:class:`Receivers`), the ``@receiver`` decorator, and the
warning for receivers connected weakly that nothing else keeps alive."""

from __future__ import annotations

import enum
import functools
import logging
import os
import sys
import warnings
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, overload

from ._callables import describe
from ._errors import WeakReceiverWarning

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable, Iterator

    from ._registry import Registry
    from ._signal import AsyncSignal
    from ._typed import ReceiverDecorator, TypedSignal

__all__ = (
    "NO_RECEIVER",
    "NoReceiver",
    "Receivers",
    "connecting",
    "dies_at_once",
    "receiver",
    "report_died_unused",
    "warn_weak",
)

ReceiverT = TypeVar("ReceiverT", bound="Callable[..., Any]")
P = ParamSpec("P")


class NoReceiver(enum.Enum):
    """``connect()``'s default: called without a receiver it returns a
    decorator, while ``connect(None)`` is rejected as any non-callable is."""

    NO_RECEIVER = "no receiver"


NO_RECEIVER = NoReceiver.NO_RECEIVER
R = TypeVar("R")


def dies_at_once(receiver: object) -> bool:
    """A receiver that nothing else is likely to reference: a ``lambda`` or a
    ``functools.partial`` made for the ``connect`` call."""
    return isinstance(receiver, functools.partial) or (
        getattr(receiver, "__name__", None) == "<lambda>"
    )


#: Where a weak receiver that died before it was ever called is reported.
logger = logging.getLogger("asyncsignal")


def report_died_unused(module: str | None, qualname: str | None) -> None:
    """Log that a weakly connected receiver was garbage collected before any
    send called it: nothing else referenced it (typically a function defined
    inside another), so it could never run."""
    logger.warning(
        "receiver %s.%s was garbage collected before it was ever called: it "
        "was connected weakly (the default) and nothing else referenced it. "
        "Connect it with weak=False, or keep a reference to it.",
        module,
        qualname,
    )


_PACKAGE_DIR = os.path.dirname(__file__)


def warn_weak(receiver: object) -> None:
    message = (
        f"receiver {describe(receiver)} is connected weakly, so it is collected "
        "(and never called) as soon as nothing else references it; connect it "
        "with weak=False or keep a reference to it"
    )
    # Point at the first frame outside this package: the user's line, through
    # @receiver or a subclass alike.
    frame, stacklevel = sys._getframe(), 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(
        _PACKAGE_DIR
    ):
        frame, stacklevel = frame.f_back, stacklevel + 1
    warnings.warn(message, WeakReceiverWarning, stacklevel=stacklevel)


class Receivers:
    """A live view of a signal's registrations (:attr:`AsyncSignal.receivers`).

    ``len()`` counts the live registrations (a receiver connected for two
    senders counts twice); iterating yields their receivers in connection
    order; ``in`` tests whether a receiver is connected for any sender; it is
    falsy when nothing is connected. It reads the registry at each use: it
    reflects later connects, disconnects and collected receivers.
    """

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


# A typed signal's decorator is held to its prototype; mypy cannot tell that a
# TypedSignal never reaches the untyped form below, hence the ignore.
@overload
def receiver(  # type: ignore[overload-overlap]
    signal: TypedSignal[P, R],
    *,
    sender: object = None,
    weak: bool = True,
    dispatch_uid: Hashable | None = None,
    thread: bool | None = None,
    timeout: float | None = None,
    once: bool = False,
) -> ReceiverDecorator[P, R]: ...
@overload
def receiver(
    signal: AsyncSignal | list[AsyncSignal] | tuple[AsyncSignal, ...],
    *,
    sender: object = None,
    weak: bool = True,
    dispatch_uid: Hashable | None = None,
    thread: bool | None = None,
    timeout: float | None = None,
    once: bool = False,
) -> Callable[[ReceiverT], ReceiverT]: ...
def receiver(
    signal: AsyncSignal | list[AsyncSignal] | tuple[AsyncSignal, ...],
    *,
    sender: object = None,
    weak: bool = True,
    dispatch_uid: Hashable | None = None,
    thread: bool | None = None,
    timeout: float | None = None,
    once: bool = False,
) -> Callable[[ReceiverT], ReceiverT] | ReceiverDecorator[Any, Any]:
    """Decorator connecting the function to ``signal`` (or to each signal of a
    list or tuple) with these options, as :meth:`AsyncSignal.connect
    <asyncsignal.AsyncSignal.connect>` takes them; it returns the function
    unchanged. On a signal made by :func:`~asyncsignal.define`, type checkers
    check the function against the signal's prototype, as ``connect`` does.

    ``@receiver(post_save, sender=Model, dispatch_uid="...")``,
    ``@receiver(order_placed, thread=True, timeout=2)``

    The policy options (``thread``, ``timeout``, ``once``) are passed on only
    when given, so a subclass whose ``connect`` does not take them (Django's
    ``ModelSignal``) keeps working without them.

    :raises TypeError: ``signal`` is not a signal or a list or tuple of
        signals; what ``connect`` raises, when the function is decorated.
    """
    options: dict[str, Any] = {
        "sender": sender,
        "weak": weak,
        "dispatch_uid": dispatch_uid,
    }
    if thread is not None:
        options["thread"] = thread
    if timeout is not None:
        options["timeout"] = timeout
    if once:
        options["once"] = once
    return connecting(signal, options)


def connecting(
    signal: AsyncSignal | list[AsyncSignal] | tuple[AsyncSignal, ...],
    options: dict[str, Any],
) -> Callable[[ReceiverT], ReceiverT]:
    """The decorator connecting a function to ``signal`` (or to each signal of
    a list or tuple) with ``connect(func, **options)``.

    :raises TypeError: ``signal`` is not a signal or a list or tuple of
        signals.
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
            each.connect(func, **options)
        return func

    return decorator
