"""Senders across processes: a class or function crosses as a reference
(:func:`sender_ref`), which the receiving process matches only against the
senders it has receivers connected for (:func:`resolve_sender`), never by
importing it; an unmatched one arrives as a :class:`RemoteSender`."""

from __future__ import annotations

import datetime
import sys
import uuid
from decimal import Decimal
from types import BuiltinFunctionType, FunctionType
from typing import TYPE_CHECKING, NamedTuple

from .._seam import connected_senders
from ._reject import Reject, short_repr

if TYPE_CHECKING:
    from .._signal import AsyncSignal

__all__ = ("RemoteSender", "resolve_sender", "sender_ref")

#: Decoded senders that are matched to a connected sender by equality, as
#: JSON scalars are: the values of the built-in codecs (immutable, their
#: ``__eq__`` never raises).
_BY_VALUE = frozenset(
    (Decimal, datetime.datetime, datetime.date, datetime.time, uuid.UUID)
)


class RemoteSender(NamedTuple):
    """The sender of an event from another process, given there as the class or
    function ``ref`` (``"module:qualname"``), when this process has no receiver
    connected for a sender of that name: receivers connected for any sender get
    this in its place, since nothing that arrives is imported."""

    ref: str

    def __repr__(self) -> str:
        return f"RemoteSender({self.ref!r})"


def sender_ref(sender: object) -> str | None:
    """``"module:qualname"`` for a class or function reachable under that name
    in its module (so not a nested or a replaced one); otherwise ``None``."""
    if not isinstance(sender, (type, FunctionType, BuiltinFunctionType)):
        return None
    module_name = getattr(sender, "__module__", None)
    qualname = getattr(sender, "__qualname__", None)
    if not isinstance(module_name, str) or not isinstance(qualname, str):
        return None
    found: object = sys.modules.get(module_name)
    for part in qualname.split("."):
        found = getattr(found, part, None)
    return f"{module_name}:{qualname}" if found is sender else None


def resolve_sender(signal: AsyncSignal, sender: object) -> object:
    """The local sender for a decoded ``sender`` field.

    Receivers are connected for a sender by identity, which JSON cannot carry:
    a class or function reference, and a str, int or float, become the equal
    sender that ``signal`` has receivers connected for, if there is one.

    A ``Decimal``, ``datetime``, ``date``, ``time`` or ``UUID`` (built-in
    codecs) is matched by equality as well; an enum member is itself.

    :raises Reject: a JSON array or object that is no sender reference.
    """
    kind = type(sender)
    if kind is dict:
        assert isinstance(sender, dict)
        ref = sender.get("$ref")
        if len(sender) != 1 or type(ref) is not str:
            raise Reject(f"its sender {short_repr(sender)} is not a sender reference")
        for candidate in connected_senders(signal):
            if sender_ref(candidate) == ref:
                return candidate
        return RemoteSender(ref)
    if kind is list:
        raise Reject("its sender is a JSON array")
    if kind is str or kind is int or kind is float or kind in _BY_VALUE:
        for candidate in connected_senders(signal):
            if type(candidate) is kind and candidate == sender:
                return candidate
    # None, True, False and enum members are singletons; anything else a codec
    # decoded is a new object.
    return sender
