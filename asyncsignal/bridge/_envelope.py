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
- ``t`` and ``sig``, in signed envelopes only (``Bridge(secret=...)``): when
  it was sent (milliseconds since the Unix epoch), and the HMAC-SHA256 of
  every byte before ``,"sig":``, as 64 lowercase hex digits, in a fixed-size
  trailer ``,"sig":"<hex>"}`` that is checked before anything is parsed.

Every incoming message is untrusted: it is refused (:class:`Reject`) unless it
is at most ``max_event_bytes`` long, nested at most :data:`MAX_DEPTH` deep,
carries at most :data:`MAX_ARGUMENTS` payload arguments with names of at most
:data:`MAX_NAME` characters, names a signal of at most :data:`MAX_NAME`
characters, an ``origin`` of 32 lowercase hex digits, a ``seq`` from 1 to
2**63 - 1 and ``"v": 1`` exactly. Sends are held to the same limits, so that
what one process sends, the others accept.

Nothing here unpickles, and no name that arrives is imported: a ``$ref`` is
matched only against the senders the receiving process has connected
receivers for (see :func:`resolve_sender`).
"""

from __future__ import annotations

import hmac
import json
import re
import sys
import time
from types import BuiltinFunctionType, FunctionType
from typing import TYPE_CHECKING, Any, NamedTuple

from .._callables import describe
from .._seam import connected_senders

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from .._signal import AsyncSignal

__all__ = (
    "MAX_ARGUMENTS",
    "MAX_DEPTH",
    "MAX_NAME",
    "MAX_SEQ",
    "VERSION",
    "Codec",
    "Envelope",
    "Reject",
    "RemoteSender",
    "Wire",
    "resolve_sender",
)

VERSION = 1

#: How deep JSON arrays and objects may nest in an envelope (the envelope
#: itself is level 1, ``kwargs`` level 2): parsing recurses once per level.
MAX_DEPTH = 32
#: Most payload arguments (keys of ``kwargs``) in one event.
MAX_ARGUMENTS = 256
#: Longest signal name and payload argument name, in characters.
MAX_NAME = 256
#: Largest ``seq``: an outbox numbers 2**63 - 1 events before it wraps.
MAX_SEQ = 2**63 - 1

#: Room for ``<up to 19 digits>}`` after an encoded body.
SEQ_ROOM = 19 + 1
#: A signed envelope ends with ``,"sig":"<64 hex digits>"}`` instead of ``}``.
_SIG_HEAD = b',"sig":"'
SIG_ROOM = len(_SIG_HEAD) + 64 + len(b'"}') - 1

_IS_ORIGIN = re.compile(r"[0-9a-f]{32}").fullmatch
#: JSON strings (skipped) and brackets, to measure nesting without parsing.
_STRING_OR_BRACKET = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)

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
    """A decoded incoming event; ``sent_at`` (milliseconds since the epoch) is
    ``None`` unless the envelope was signed."""

    origin: str
    seq: int
    signal: str
    sender: Any
    kwargs: dict[str, Any]
    sent_at: int | None = None


def keys_of(secret: object) -> tuple[bytes, ...]:
    """The HMAC keys of ``Bridge(secret=...)``: the first signs, each verifies.

    The error messages never show the secret, nor any part of it.

    :raises TypeError: not a ``str``, ``bytes`` or a sequence of them.
    :raises ValueError: an empty secret, or an empty sequence.
    """
    secrets = [secret] if isinstance(secret, (str, bytes)) else secret
    if not isinstance(secrets, (list, tuple)):
        raise TypeError(
            "secret must be a str, bytes, or a list or tuple of them, got "
            f"{type(secret).__name__}"
        )
    if not secrets:
        raise ValueError("secret must list at least one secret, got an empty one")
    keys = []
    for position, each in enumerate(secrets):
        where = "secret" if each is secret else f"secret[{position}]"
        if not isinstance(each, (str, bytes)):
            raise TypeError(
                f"{where} must be a str or bytes, got {type(each).__name__}"
            )
        if not each:
            raise ValueError(f"{where} is empty")
        keys.append(each.encode() if isinstance(each, str) else bytes(each))
    return tuple(keys)


class Wire:
    """Encodes and decodes the envelopes of one bridge (thread-safe: encoding
    runs in every sender's thread); signs and verifies them when it has
    ``keys``."""

    __slots__ = (
        "_by_name",
        "_by_type",
        "_dumps",
        "_head",
        "_keys",
        "_loads_plain",
        "_loads_with_codecs",
        "echo_prefix",
        "max_bytes",
        "origin",
    )

    def __init__(
        self, origin: str, max_bytes: int, keys: tuple[bytes, ...] = ()
    ) -> None:
        self.max_bytes = max_bytes
        self._keys = keys
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
                f"it holds a value of codec {_short_repr(name)}, which this "
                "process has not registered (Bridge.register_codec)"
            )
        try:
            return codec.decode(data["value"])
        except Exception as error:
            raise Reject(
                f"codec {codec.name!r} could not decode "
                f"{_short_repr(data['value'])}: {_short_repr(error)}"
            ) from error

    # -- encoding (the sender's thread) ----------------------------------------

    def encode(self, name: str, sender: object, kwargs: Mapping[str, Any]) -> bytes:
        """The envelope of one send, without its ``seq``: bytes ending in
        ``"seq":``, which :meth:`finish` completes.

        :raises TypeError: the sender or a payload value cannot cross, or the
            envelope would exceed :attr:`max_bytes` or the limits that
            receiving processes hold incoming events to.
        """
        if len(kwargs) > MAX_ARGUMENTS:
            raise TypeError(
                f"{_CANNOT_SHARE.format(name)}: it has {len(kwargs):,} payload "
                f"arguments, over the {MAX_ARGUMENTS} an event may carry"
            )
        for key in kwargs:
            if len(key) > MAX_NAME:
                raise TypeError(
                    f"{_CANNOT_SHARE.format(name)}: its payload argument "
                    f"{_short_repr(key)} has a name over {MAX_NAME} characters"
                )
        try:
            sender_json = "null" if sender is None else self._encode_sender(sender)
            kwargs_json = self._dumps(dict(kwargs)) if kwargs else "{}"
            name_json = self._dumps(name)
            sent_at = f'"t":{time.time_ns() // 1_000_000},' if self._keys else ""
            body = (
                f'{self._head}"signal":{name_json},"sender":{sender_json},'
                f'"kwargs":{kwargs_json},{sent_at}"seq":'
            ).encode()
        except _CannotCross as error:
            raise TypeError(f"{_CANNOT_SHARE.format(name)}: {error}") from None
        except (TypeError, ValueError, RecursionError) as error:
            # Rare: find the argument to name it (costs a second encoding).
            raise TypeError(
                f"{_CANNOT_SHARE.format(name)}: {self._explain(kwargs, error)}"
            ) from None
        size = len(body) + SEQ_ROOM + (SIG_ROOM if self._keys else 0)
        if size > self.max_bytes:
            raise TypeError(
                f"{_CANNOT_SHARE.format(name)}: its event is {size:,} bytes "
                f"encoded, over the bridge's max_event_bytes={self.max_bytes:,}"
            )
        if nesting_over(body, MAX_DEPTH):
            raise TypeError(
                f"{_CANNOT_SHARE.format(name)}: its payload nests lists and "
                f"dicts over {MAX_DEPTH - 2} levels deep"
            )
        return body

    def finish(self, body: bytes, seq: int) -> bytes:
        """The message for ``body`` (from :meth:`encode`) numbered ``seq``:
        signed with the first key, if there are keys."""
        if not self._keys:
            return body + b"%d}" % seq
        data = body + b"%d" % seq
        mac = hmac.digest(self._keys[0], data, "sha256").hex().encode()
        return data + _SIG_HEAD + mac + b'"}'

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
        """The event in ``data``, an untrusted message.

        :raises Reject: for anything but a well-formed envelope of this
            version within the limits (see the module's docstring), validly
            signed if this wire has keys; or a codec value this process cannot
            decode. Nothing else, whatever ``data`` holds.
        """
        if len(data) > self.max_bytes:
            raise Reject(
                f"it is {len(data):,} bytes long, over max_event_bytes="
                f"{self.max_bytes:,}"
            )
        if self._keys:
            self._verify(data)
        if nesting_over(data, MAX_DEPTH):
            raise Reject(f"it nests arrays and objects over {MAX_DEPTH} levels deep")
        try:
            loads = (
                self._loads_with_codecs if b'"$codec"' in data else self._loads_plain
            )
            text = data.decode()
            envelope, end = loads(text)
        except Reject:
            raise
        except ValueError as error:  # UnicodeDecodeError and JSONDecodeError too
            raise Reject(f"it is not JSON: {_shorten(str(error))}") from None
        except RecursionError:  # pragma: no cover - nesting_over() prevents it
            raise Reject("it nests too deep to parse") from None
        if end != len(text) and not text[end:].isspace():
            raise Reject(f"it has data after its JSON document: {text[end:50]!r}")
        if type(envelope) is not dict:
            raise Reject("it is not a JSON object")
        version = envelope.get("v")
        if type(version) is not int or version != VERSION:
            raise Reject(
                f"its format version is {_short_repr(version)}; this process "
                f"reads version {VERSION} (is another version of asyncsignal "
                "running?)"
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
        if not _IS_ORIGIN(origin):
            raise Reject(f"its origin {_short_repr(origin)} is not 32 hex digits")
        if not 1 <= seq <= MAX_SEQ:
            raise Reject(f"its seq {_short_repr(seq)} is not from 1 to 2**63 - 1")
        if len(name) > MAX_NAME:
            raise Reject(f"its signal name is over {MAX_NAME} characters")
        if len(kwargs) > MAX_ARGUMENTS:
            raise Reject(f"it has over {MAX_ARGUMENTS} payload arguments")
        if kwargs and max(map(len, kwargs)) > MAX_NAME:
            raise Reject(f"a payload argument's name is over {MAX_NAME} characters")
        if not self._keys:
            return Envelope(origin, seq, name, sender, kwargs)
        sent_at = envelope.get("t")
        if type(sent_at) is not int or sent_at < 0:
            raise Reject("it is signed but has no valid time 't'")
        return Envelope(origin, seq, name, sender, kwargs, sent_at)

    def _verify(self, data: bytes) -> None:
        """:raises Reject: ``data`` has no signature that one key makes."""
        if not (len(data) > SIG_ROOM + 1 and data.endswith(b'"}')):
            raise Reject("it is not signed")
        split = len(data) - SIG_ROOM - 1
        if data[split : split + len(_SIG_HEAD)] != _SIG_HEAD:
            raise Reject("it is not signed")
        signed, mac = data[:split], data[split + len(_SIG_HEAD) : -2]
        valid = False
        for key in self._keys:
            expected = hmac.digest(key, signed, "sha256").hex().encode()
            # Every key is tried, so the time taken does not tell which matched.
            valid |= hmac.compare_digest(expected, mac)
        if not valid:
            raise Reject("its signature is not valid for this bridge's secret")


def nesting_over(data: bytes, limit: int) -> bool:
    """Whether JSON arrays and objects nest over ``limit`` levels in ``data``
    (brackets inside strings do not count). Linear in ``len(data)``; an
    envelope with no more than ``limit`` brackets at all is not even scanned.
    """
    if data.count(b"{") + data.count(b"[") <= limit:
        return False
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(data):
        token = match[0]
        if token == b"[" or token == b"{":
            depth += 1
            if depth > limit:
                return True
        elif token == b"]" or token == b"}":
            depth -= 1
    return False


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
    return connected_senders(signal)


def _short_repr(value: object) -> str:
    return _shorten(repr(value) if not callable(value) else describe(value))


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
