"""The bridge's wire format: one versioned JSON envelope per event.

An envelope is a JSON object, UTF-8, written in this key order::

    {"v":1,"origin":"<32 hex>","signal":"order_placed","sender":null,
     "kwargs":{"order_id":7},"seq":42}

- ``v``: the format's version; a process drops envelopes of a version it does
  not know (logged), so a rolling upgrade never runs receivers on a payload it
  misreads.
- ``origin``: the sending bridge, random per :class:`~asyncsignal.bridge.Bridge`
  instance. It comes first, so a process recognises its own messages (brokers
  echo them) by a byte prefix, without decoding them.
- ``seq``: 1, 2, 3… per origin, counting every send of a shared signal, those
  lost before reaching the broker included. ``(origin, seq)`` is the event's
  id; a receiving process counts the gaps it sees as missed events.
- ``sender``: ``null``, a JSON scalar, ``{"$ref": "module:qualname"}`` for a
  class or function, or a codec value.
- ``kwargs``: the payload, as JSON. A value of a type registered with a codec
  is written ``{"$codec": name, "value": ...}``; a payload dict with exactly
  those two keys is therefore read as a codec value.

Nothing here unpickles, and no name that arrives is imported: a ``$ref`` is
matched only against the senders the receiving process has connected
receivers for (see :func:`resolve_sender`).
"""

from __future__ import annotations

import json
import sys
from types import BuiltinFunctionType, FunctionType
from typing import TYPE_CHECKING, Any, NamedTuple

from ._callables import describe

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from ._signal import AsyncSignal

__all__ = (
    "VERSION",
    "Codec",
    "Envelope",
    "Reject",
    "RemoteSender",
    "Wire",
    "resolve_sender",
)

VERSION = 1

#: Room for ``"seq":<up to 20 digits>}`` after an encoded body.
SEQ_ROOM = len(b',"seq":') + 20 + 1

_SCALARS = (str, int, float, bool)

_CANNOT_SHARE = "this send of the shared signal {!r} cannot reach other processes"


class Reject(ValueError):
    """An incoming message that cannot be delivered (logged by the bridge)."""


class Codec(NamedTuple):
    """How values of one type cross: ``encode`` turns one into JSON-able data
    and ``decode`` turns that back in the receiving process."""

    name: str
    type: type
    encode: Callable[[Any], Any]
    decode: Callable[[Any], Any]


class RemoteSender(NamedTuple):
    """The sender of an event from another process, given there as the class or
    function ``ref`` (``"module:qualname"``), when this process has no receiver
    connected for a sender of that name: receivers connected for any sender get
    this in its place, since nothing that arrives is imported."""

    ref: str

    def __repr__(self) -> str:
        return f"RemoteSender({self.ref!r})"


class Envelope(NamedTuple):
    """A decoded incoming event."""

    origin: str
    seq: int
    signal: str
    sender: Any
    kwargs: dict[str, Any]


class Wire:
    """Encodes and decodes the envelopes of one bridge (thread-safe: encoding
    runs in every sender's thread)."""

    __slots__ = (
        "_by_name",
        "_by_type",
        "_dumps",
        "_head",
        "_loads_plain",
        "_loads_with_codecs",
        "echo_prefix",
        "max_bytes",
        "origin",
    )

    def __init__(self, origin: str, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.rebase(origin)
        self._by_type: dict[type, Codec] = {}
        self._by_name: dict[str, Codec] = {}
        self._dumps = json.JSONEncoder(
            ensure_ascii=False,
            allow_nan=False,
            separators=(",", ":"),
            default=self._default,
        ).encode
        # raw_decode: decode() also matches whitespace around the document,
        # twice a regular expression per event.
        self._loads_plain = json.JSONDecoder().raw_decode
        self._loads_with_codecs = json.JSONDecoder(object_hook=self._hook).raw_decode

    def rebase(self, origin: str) -> None:
        """Sign envelopes with ``origin`` from now on (no send may run)."""
        self.origin = origin
        #: How this bridge's own messages start: brokers echo them back.
        self.echo_prefix = f'{{"v":{VERSION},"origin":"{origin}",'.encode()
        self._head = self.echo_prefix.decode()

    # -- codecs ----------------------------------------------------------------

    def add_codec(self, codec: Codec) -> None:
        """:raises ValueError: the name or the type has a codec already."""
        if codec.name in self._by_name or codec.type in self._by_type:
            raise ValueError(
                f"a codec for {codec.type.__qualname__} or named {codec.name!r} "
                "is registered already"
            )
        self._by_name[codec.name] = codec
        self._by_type[codec.type] = codec

    def _codec_for(self, value: object) -> Codec | None:
        by_type = self._by_type
        if by_type:
            for kind in type(value).__mro__:
                codec = by_type.get(kind)
                if codec is not None:
                    return codec
        return None

    def _default(self, value: object) -> object:
        codec = self._codec_for(value)
        if codec is None:
            raise TypeError(f"{type(value).__name__} {_short_repr(value)}")
        return {"$codec": codec.name, "value": codec.encode(value)}

    def _hook(self, data: dict[str, Any]) -> object:
        if "$codec" not in data or len(data) != 2 or "value" not in data:
            return data
        name = data["$codec"]
        codec = self._by_name.get(name) if isinstance(name, str) else None
        if codec is None:
            raise Reject(
                f"it holds a value of codec {name!r}, which this process has "
                "not registered (Bridge.register_codec)"
            )
        try:
            return codec.decode(data["value"])
        except Exception as error:
            raise Reject(
                f"codec {codec.name!r} could not decode {data['value']!r}: {error!r}"
            ) from error

    # -- encoding (the sender's thread) ----------------------------------------

    def encode(self, name: str, sender: object, kwargs: Mapping[str, Any]) -> bytes:
        """The envelope of one send, without its ``seq`` (the outbox appends
        it): bytes ending in ``,"seq":``.

        :raises TypeError: the sender or a payload value cannot cross, or the
            envelope would exceed :attr:`max_bytes`.
        """
        try:
            sender_json = "null" if sender is None else self._encode_sender(sender)
            kwargs_json = self._dumps(dict(kwargs)) if kwargs else "{}"
            name_json = self._dumps(name)
            body = (
                f'{self._head}"signal":{name_json},"sender":{sender_json},'
                f'"kwargs":{kwargs_json},"seq":'
            ).encode()
        except _CannotCross as error:
            raise TypeError(f"{_CANNOT_SHARE.format(name)}: {error}") from None
        except (TypeError, ValueError, RecursionError) as error:
            # Rare: find the argument to name it (costs a second encoding).
            raise TypeError(
                f"{_CANNOT_SHARE.format(name)}: {self._explain(kwargs, error)}"
            ) from None
        if len(body) + SEQ_ROOM > self.max_bytes:
            raise TypeError(
                f"{_CANNOT_SHARE.format(name)}: its event is "
                f"{len(body) + SEQ_ROOM:,} bytes encoded, over the bridge's "
                f"max_event_bytes={self.max_bytes:,}"
            )
        return body

    def _encode_sender(self, sender: object) -> str:
        kind = type(sender)
        if kind in _SCALARS:
            try:
                return self._dumps(sender)
            except ValueError:
                raise _CannotCross(
                    f"its sender {sender!r} is not a finite number"
                ) from None
        codec = self._codec_for(sender)
        if codec is not None:
            try:
                return self._dumps(
                    {"$codec": codec.name, "value": codec.encode(sender)}
                )
            except (TypeError, ValueError, RecursionError) as error:
                raise _CannotCross(
                    f"codec {codec.name!r} turned its sender {_short_repr(sender)} "
                    f"into something JSON cannot hold: {error}"
                ) from None
        ref = sender_ref(sender)
        if ref is None:
            raise _CannotCross(
                f"its sender {_short_repr(sender)} ({kind.__name__}) cannot "
                "cross: senders cross as None, a str, int, float or bool, a "
                "module-level class or function, or a value of a type "
                "registered with Bridge.register_codec()"
            )
        return self._dumps({"$ref": ref})

    def _explain(self, kwargs: Mapping[str, Any], error: BaseException) -> str:
        for key, value in kwargs.items():
            try:
                self._dumps(value)
            except (TypeError, ValueError, RecursionError) as each:
                return (
                    f"its payload argument {key!r} is not JSON-serialisable "
                    f"({each}); pass JSON data (dict, list, str, int, float, "
                    "bool, None) or register a codec for its type with "
                    "Bridge.register_codec()"
                )
        return f"it cannot be encoded: {error}"  # pragma: no cover - defensive

    # -- decoding (the bridge's dispatcher) -------------------------------------

    def decode(self, data: bytes) -> Envelope:
        """:raises Reject: not an envelope of this version, or a codec value
        this process cannot decode."""
        try:
            loads = (
                self._loads_with_codecs if b'"$codec"' in data else self._loads_plain
            )
            text = data.decode()
            envelope, end = loads(text)
        except Reject:
            raise
        except ValueError as error:  # UnicodeDecodeError and JSONDecodeError too
            raise Reject(f"it is not JSON: {error}") from None
        if end != len(text) and not text[end:].isspace():
            raise Reject(f"it has data after its JSON document: {text[end:50]!r}")
        if type(envelope) is not dict:
            raise Reject("it is not a JSON object")
        version = envelope.get("v")
        if version != VERSION:
            raise Reject(
                f"its format version is {version!r}; this process reads version "
                f"{VERSION} (is another version of asyncsignal running?)"
            )
        try:
            origin, seq = envelope["origin"], envelope["seq"]
            name, sender, kwargs = (
                envelope["signal"],
                envelope["sender"],
                envelope["kwargs"],
            )
        except KeyError as error:
            raise Reject(f"it has no {error.args[0]!r} field") from None
        if not (
            type(origin) is str
            and type(seq) is int
            and type(name) is str
            and type(kwargs) is dict
        ) or not ("signal" not in kwargs and "sender" not in kwargs):
            raise Reject("its fields have the wrong types or names")
        return Envelope(origin, seq, name, sender, kwargs)


class _CannotCross(Exception):
    """Why a sender cannot cross (internal: becomes the send's TypeError)."""


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

    :raises Reject: a JSON array or object that is no sender reference.
    """
    kind = type(sender)
    if kind is dict:
        assert isinstance(sender, dict)
        ref = sender.get("$ref")
        if len(sender) != 1 or type(ref) is not str:
            raise Reject(f"its sender {_short_repr(sender)} is not a sender reference")
        for candidate in _connected_senders(signal):
            if sender_ref(candidate) == ref:
                return candidate
        return RemoteSender(ref)
    if kind is list:
        raise Reject("its sender is a JSON array")
    if kind is str or kind is int or kind is float:
        for candidate in _connected_senders(signal):
            if type(candidate) is kind and candidate == sender:
                return candidate
    # None, True and False are singletons; anything else a codec decoded.
    return sender


def _connected_senders(signal: AsyncSignal) -> tuple[object, ...]:
    """The live senders that ``signal`` has receivers connected for."""
    return signal._registry.senders()


def _short_repr(value: object) -> str:
    text = repr(value) if not callable(value) else describe(value)
    return text if len(text) <= 80 else text[:77] + "..."
