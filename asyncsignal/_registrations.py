"""What one registration is: its receiver (held weakly or strongly), the keys
that identify it, its policy and its place in connection order.

A registration *is* a weak reference to its receiver where it can be (a
``weakref.ref`` or ``WeakMethod`` subclass with slots; one held strongly keeps
it in a slot too): a receiver costs one object, and calling the registration
returns the receiver, or ``None`` once a weakly held one has died.
"""

from __future__ import annotations

import functools
import itertools
import weakref
from collections.abc import Callable, Hashable
from types import MethodType
from typing import TYPE_CHECKING, Any, ClassVar

from ._callables import describe
from ._policies import ASYNC, DEFAULT_POLICY, POLICY, SYNC

if TYPE_CHECKING:
    from typing_extensions import Self

    from ._policies import Policy

__all__ = (
    "ANY_SENDER",
    "Receiver",
    "ReceiverKey",
    "Registration",
    "SenderKey",
    "SenderRef",
    "by_seq",
    "hold_sender",
    "new_registration",
    "receiver_key",
    "sender_key",
)

Receiver = Callable[..., Any]
ReceiverKey = Hashable
SenderKey = int

#: Sender key of registrations made with ``sender=None``; ``id()`` is never 0.
ANY_SENDER: SenderKey = 0

_FIELDS = ("is_async", "key", "kind", "planned", "policy", "sender_key", "seq")


class _Registration:
    """What every registration knows besides its receiver, set complete at
    creation (``seq`` is its position, assigned under the registry's lock)."""

    # Each concrete class declares the slots: a weakref.ref subclass cannot
    # share a base that has any. The type checker sees them here.
    __slots__ = _FIELDS if TYPE_CHECKING else ()

    key: ReceiverKey
    sender_key: SenderKey
    is_async: bool
    policy: Policy
    kind: int
    seq: int
    #: Set when a plan first includes the registration (a send is about to
    #: call it): a weak receiver that dies before is reported (the registry).
    planned: bool
    #: Whether the receiver is held weakly (``weak=True``).
    weak: ClassVar[bool] = True

    def __init__(
        self,
        receiver: Receiver,
        callback: Any,
        key: ReceiverKey,
        sender_key: SenderKey,
        is_async: bool,
        policy: Policy,
    ) -> None:
        self.key = key
        self.sender_key = sender_key
        self.is_async = is_async
        self.policy = policy
        self.kind = _kind(is_async, policy)
        self.seq = -1
        self.planned = False


class _WeakRegistration(_Registration, weakref.ref[Receiver]):
    """A receiver held weakly; calling it returns the receiver or ``None``.

    ``label`` is the receiver's ``(module, qualified name)``, kept to name it
    once it is gone (its strings outlive it: they are shared, not copied)."""

    __slots__ = (*_FIELDS, "label")

    label: tuple[str | None, str | None]

    def __new__(cls, receiver: Receiver, callback: Any, *_: Any) -> Self:
        return weakref.ref.__new__(cls, receiver, callback)


class _WeakMethodRegistration(_Registration, weakref.WeakMethod[Any]):
    """A bound method held weakly (through its instance and its function)."""

    __slots__ = _FIELDS

    def __new__(cls, receiver: Receiver, callback: Any, *_: Any) -> Self:
        return weakref.WeakMethod.__new__(cls, receiver, callback)


class _StrongRegistration(_Registration, weakref.ref[Receiver]):
    """A receiver held strongly (``weak=False``); calling it returns the
    receiver, as calling a weak one does.

    Its ``receiver`` slot holds the receiver, and the registration itself is
    a weak reference to it, which therefore lives as long as the
    registration: a send calls every registration, and calling a weak
    reference runs in C, the cheapest call there is (W2 with strong
    receivers cost 0.25 µs more than with weak ones through a ``partial``)."""

    __slots__ = (*_FIELDS, "receiver")

    weak = False
    receiver: Receiver

    def __new__(cls, receiver: Receiver, *_: Any) -> Self:
        return weakref.ref.__new__(cls, receiver)

    def __init__(self, receiver: Receiver, *rest: Any) -> None:
        super().__init__(receiver, *rest)
        self.receiver = receiver


class _HeldRegistration(_Registration, functools.partial[Receiver]):
    """A receiver held strongly that cannot be weakly referenced (a builtin,
    an instance of a class without ``__weakref__``): ``partial(next,
    repeat(receiver))``, whose call runs in C too, where a Python
    ``__call__`` would cost a frame per receiver."""

    __slots__ = _FIELDS

    weak = False

    def __new__(cls, receiver: Receiver, *_: Any) -> Self:
        return functools.partial.__new__(cls, next, itertools.repeat(receiver))


def _kind(is_async: bool, policy: Policy) -> int:
    if policy is not DEFAULT_POLICY:
        return POLICY
    return ASYNC if is_async else SYNC


Registration = (
    _WeakRegistration
    | _WeakMethodRegistration
    | _StrongRegistration
    | _HeldRegistration
)


def new_registration(
    receiver: Receiver,
    weak: bool,
    died: Callable[[Any], None],
    key: ReceiverKey,
    sender_key: SenderKey,
    is_async: bool,
    policy: Policy,
) -> Registration:
    """A registration of ``receiver``, held weakly if ``weak`` (``died`` is
    then called with it when the receiver dies, from any thread).

    :raises TypeError: ``weak`` and the receiver (or a bound method's
        instance) cannot be weakly referenced.
    """
    if not weak:
        try:
            return _StrongRegistration(
                receiver, None, key, sender_key, is_async, policy
            )
        except TypeError:  # it cannot be weakly referenced
            return _HeldRegistration(receiver, None, key, sender_key, is_async, policy)
    kind = (
        _WeakMethodRegistration
        if isinstance(receiver, MethodType)
        else _WeakRegistration
    )
    try:
        registration = kind(receiver, died, key, sender_key, is_async, policy)
    except TypeError:
        # For a bound method it is the instance that cannot be referenced.
        target = receiver.__self__ if isinstance(receiver, MethodType) else receiver
        raise TypeError(
            f"receiver {describe(receiver)} cannot be weakly referenced "
            f"({type(target).__name__} objects do not support weak "
            "references); connect it with weak=False"
        ) from None
    if isinstance(registration, _WeakRegistration):
        # A function's own names; an instance's class's (its __call__).
        named = receiver if hasattr(receiver, "__qualname__") else type(receiver)
        registration.label = (named.__module__, named.__qualname__)
    return registration


def receiver_key(receiver: Receiver, dispatch_uid: Hashable | None) -> ReceiverKey:
    """What identifies a registration for one sender: ``dispatch_uid`` if
    given, else the receiver.

    :raises TypeError: ``dispatch_uid`` is unhashable.
    """
    if dispatch_uid is not None:
        try:
            hash(dispatch_uid)
        except TypeError:
            raise TypeError(
                "dispatch_uid must be hashable, got "
                f"{type(dispatch_uid).__name__} {dispatch_uid!r}"
            ) from None
    # A falsy uid ("" or 0) identifies nothing, as in Django: the receiver does.
    if dispatch_uid:
        # Tagged so that a uid can never equal the id-based key of a receiver.
        return ("dispatch_uid", dispatch_uid)
    if isinstance(receiver, MethodType):
        # A bound method is a new object on every attribute access; identify it
        # by its instance and function instead.
        return (id(receiver.__self__), id(receiver.__func__))
    return id(receiver)


def sender_key(sender: object) -> SenderKey:
    return ANY_SENDER if sender is None else id(sender)


class SenderRef(weakref.ref):  # type: ignore[type-arg]
    """A sender held weakly, knowing its key for the callback."""

    __slots__ = ("sender_key",)

    sender_key: SenderKey


def hold_sender(
    sender: object, key: SenderKey, died: Callable[[SenderRef], None]
) -> object:
    """What holds ``sender`` while registrations are keyed by its id: a
    :class:`SenderRef` (``died`` is called with it when the sender dies), or
    the sender itself if it cannot be weakly referenced (an int, a plain
    ``object()``), so that its id cannot be reused meanwhile."""
    try:
        sender_ref = SenderRef(sender, died)
    except TypeError:
        return sender
    sender_ref.sender_key = key
    return sender_ref


def by_seq(registration: Registration) -> int:
    """Sort key: connection order."""
    return registration.seq
