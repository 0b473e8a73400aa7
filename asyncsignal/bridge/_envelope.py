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
- ``kwargs``: the payload, as JSON. A value of a type with a codec (built in
  for ``Decimal``, ``datetime``, ``date``, ``time``, ``UUID`` and ``Enum``
  members, see ``_codecs.py``; or registered) is written ``{"$codec": name,
  "value": ...}``; a payload dict with exactly those two keys is therefore
  read as a codec value.
- ``t`` and ``sig``, in signed envelopes only (``Bridge(secret=...)``): when
  it was sent (milliseconds since the Unix epoch), and the HMAC-SHA256 of
  every byte before ``,"sig":``, as 64 lowercase hex digits, in a fixed-size
  trailer ``,"sig":"<hex>"}`` that is checked before anything is parsed.
- ``trace``, optional, before ``t``: the send's W3C trace context (``_trace.py``).

Every incoming message is untrusted: it is refused (:class:`Reject`) unless it
is at most ``max_event_bytes`` long, nested at most :data:`MAX_DEPTH` deep,
carries at most :data:`MAX_ARGUMENTS` payload arguments with names of at most
:data:`MAX_NAME` characters, names a signal of at most :data:`MAX_NAME`
characters, an ``origin`` of 32 lowercase hex digits, a ``seq`` from 1 to
2**63 - 1 and ``"v": 1`` exactly. Sends are held to the same limits, so that
what one process sends, the others accept.

Nothing here unpickles, and no name that arrives is imported: a ``$ref`` is
matched only against the senders the receiving process has connected
receivers for (see ``_senders.py``).
"""

from __future__ import annotations

import json
import time
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ._codecs import Codecs
from ._json import AS_JSON, fast_dumps, fast_loads, unchecked_dumps
from ._limits import (
    MAX_ARGUMENTS,
    MAX_DEPTH,
    MAX_NAME,
    MAX_SEQ,
    Envelope,
    envelope_of,
    nesting_over,
)
from ._reject import Reject, short_repr, shorten
from ._senders import sender_ref
from ._signing import SIG_ROOM, macs_of, sign, verify
from ._trace import Trace, trace_field

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ._codecs import Codec

__all__ = (
    "MAX_ARGUMENTS",
    "MAX_DEPTH",
    "MAX_NAME",
    "MAX_SEQ",
    "VERSION",
    "Envelope",
    "Wire",
    "nesting_over",
)

VERSION = 1

#: Room for ``<up to 19 digits>}`` after an encoded body.
SEQ_ROOM = 19 + 1
_SCALARS = (str, int, float, bool)
_SCALAR_SENDERS = frozenset((*_SCALARS, type(None)))
#: Most signal names whose JSON a wire keeps.
_NAMES_KEPT = 1024

_DOLLAR = ord("$")

_CANNOT_SHARE = "this send of the shared signal {!r} cannot reach other processes"


class Wire:
    """Encodes and decodes the envelopes of one bridge (thread-safe: encoding
    runs in every sender's thread); signs and verifies them when it has
    ``keys``."""

    __slots__ = (
        "_codecs",
        "_dumps",
        "_dumps_checked",
        "_dumps_fast",
        "_head",
        "_keys",
        "_loads_fast",
        "_loads_plain",
        "_loads_with_codecs",
        "_macs",
        "_names",
        "echo_prefix",
        "max_bytes",
        "origin",
    )

    def __init__(
        self,
        origin: str,
        max_bytes: int,
        keys: tuple[bytes, ...] = (),
        *,
        fast: bool = True,
    ) -> None:
        """``fast=False``: encode and decode with json alone (tests compare)."""
        self.max_bytes = max_bytes
        self._keys = keys
        self._macs = macs_of(keys)
        self.rebase(origin)
        self._codecs = codecs = Codecs()
        self._dumps_checked = json.JSONEncoder(
            ensure_ascii=False,
            allow_nan=False,
            separators=(",", ":"),
            default=codecs.encode,
        ).encode
        self._dumps = unchecked_dumps(codecs.encode) or self._dumps_checked
        self._dumps_fast = fast_dumps() if fast else None
        self._names: dict[str, str] = {}
        # raw_decode: decode() also matches whitespace around the document,
        # twice a regular expression per event.
        self._loads_plain = json.JSONDecoder().raw_decode
        self._loads_with_codecs = json.JSONDecoder(object_hook=codecs.decode).raw_decode
        self._loads_fast = fast_loads() if fast else None

    def rebase(self, origin: str) -> None:
        """Sign envelopes with ``origin`` from now on (no send may run)."""
        self.origin = origin
        #: How this bridge's own messages start: brokers echo them back.
        self.echo_prefix = f'{{"v":{VERSION},"origin":"{origin}",'.encode()
        self._head = self.echo_prefix.decode()

    def add_codec(self, codec: Codec) -> None:
        """:raises ValueError: the name or the type has a codec already."""
        self._codecs.add(codec)

    # -- encoding (the sender's thread) ----------------------------------------

    def encode(
        self, name: str, sender: object, kwargs: Mapping[str, Any], trace: Trace = None
    ) -> bytes:
        """The envelope of one send, without its ``seq``: bytes ending in
        ``"seq":``, which :meth:`finish` completes (``trace``: ``_trace.py``).

        :raises TypeError: the sender or a payload value cannot cross, or the
            envelope would exceed :attr:`max_bytes` or the limits that
            receiving processes hold incoming events to.
        """
        if len(kwargs) > MAX_ARGUMENTS:
            raise TypeError(
                f"{_CANNOT_SHARE.format(name)}: it has {len(kwargs):,} payload "
                f"arguments, over the {MAX_ARGUMENTS} an event may carry"
            )
        try:
            sender_json = "null" if sender is None else self._encode_sender(sender)
            kwargs_json, scalars = (
                self._encode_payload(kwargs) if kwargs else ("{}", True)
            )
            name_json = self._names.get(name) or self._name_json(name)
            sent_at = f'"t":{time.time_ns() // 1_000_000},' if self._keys else ""
            trace_json = "" if trace is None else trace_field(self._dumps, trace)
            body = (
                f'{self._head}"signal":{name_json},"sender":{sender_json},'
                f'"kwargs":{kwargs_json},{trace_json}{sent_at}"seq":'
            ).encode()
        except _CannotCross as error:
            raise TypeError(f"{_CANNOT_SHARE.format(name)}: {error}") from None
        except (TypeError, ValueError, RecursionError) as error:
            # Rare: find the argument to name it (costs a second encoding).
            raise TypeError(
                f"{_CANNOT_SHARE.format(name)}: {self._explain(kwargs, error)}"
            ) from None
        # Each name is in the JSON in full: no name is longer than it.
        if len(kwargs_json) > MAX_NAME and max(map(len, kwargs)) > MAX_NAME:
            key = next(key for key in kwargs if len(key) > MAX_NAME)
            raise TypeError(
                f"{_CANNOT_SHARE.format(name)}: its payload argument "
                f"{short_repr(key)} has a name over {MAX_NAME} characters"
            )
        size = len(body) + SEQ_ROOM + (SIG_ROOM if self._keys else 0)
        if size > self.max_bytes:
            raise TypeError(
                f"{_CANNOT_SHARE.format(name)}: its event is {size:,} bytes "
                f"encoded, over the bridge's max_event_bytes={self.max_bytes:,}"
            )
        # Scalars from a scalar sender nest 2 levels (3 with a trace): no scan.
        shallow = scalars and type(sender) in _SCALAR_SENDERS
        if not shallow and nesting_over(body, MAX_DEPTH):
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
        return sign(self._macs[0], body + b"%d" % seq)

    def _encode_payload(self, kwargs: Mapping[str, Any]) -> tuple[str, bool]:
        """``kwargs`` (a send's: its names are str) as JSON, by msgspec where
        it writes what json writes (see ``_json.py``), else by json; and
        whether msgspec wrote it (its values are all scalars, then)."""
        # Both encode dicts only; a send's payload is a read-only view, whose
        # copy() is a dict's (dict() of it goes key by key).
        payload = kwargs.copy() if type(kwargs) is MappingProxyType else dict(kwargs)
        if self._dumps_fast is not None and AS_JSON.issuperset(
            map(type, payload.values())
        ):
            try:
                return self._dumps_fast(payload).decode(), True
            except ValueError:
                pass  # json decides (and fails likewise: see fast_dumps)
        return self._dumps(payload), False

    def _name_json(self, name: str) -> str:
        """``name`` as JSON, kept for the next sends (up to :data:`_NAMES_KEPT`
        names: a bridge sends the names of the signals it shares)."""
        name_json = self._dumps(name)
        if len(self._names) < _NAMES_KEPT:
            self._names[name] = name_json
        return name_json

    def _encode_sender(self, sender: object) -> str:
        kind = type(sender)
        if kind in _SCALARS:
            try:
                return self._dumps(sender)
            except ValueError:
                raise _CannotCross(
                    f"its sender {sender!r} is not a finite number"
                ) from None
        codec = self._codecs.for_value(sender)
        if codec is not None:
            try:
                return self._dumps(
                    {"$codec": codec.name, "value": codec.encode(sender)}
                )
            except (TypeError, ValueError, RecursionError) as error:
                raise _CannotCross(
                    f"codec {codec.name!r} turned its sender {short_repr(sender)} "
                    f"into something JSON cannot hold: {error}"
                ) from None
        ref = sender_ref(sender)
        if ref is None:
            raise _CannotCross(_why_sender_cannot_cross(sender))
        return self._dumps({"$ref": ref})

    def _explain(self, kwargs: Mapping[str, Any], error: BaseException) -> str:
        for key, value in kwargs.items():
            try:
                # UTF-8 as well: json writes a lone surrogate, UTF-8 cannot.
                self._dumps_checked(value).encode()
            except (TypeError, ValueError, RecursionError) as each:
                kind = type(value)
                name = "cls" if kind in (dict, list, tuple) else kind.__qualname__
                return (
                    f"its payload argument {key!r} is not JSON-serialisable "
                    f"({each}); pass JSON data (dict, list, str, int, float, "
                    "bool, None), a Decimal, datetime, date, time, UUID or Enum "
                    f"member, or register its type: bridge.register({name}) for "
                    "a dataclass or a pydantic model, bridge.register_codec("
                    f"{name}, encode, decode) for any other class"
                )
        # A lone surrogate in an argument's name, or in the signal's.
        return f"it cannot be encoded: {error}"

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
            verify(self._macs, data)
        if nesting_over(data, MAX_DEPTH):
            raise Reject(f"it nests arrays and objects over {MAX_DEPTH} levels deep")
        return envelope_of(self._parse(data), len(data), signed=bool(self._keys))

    def _parse(self, data: bytes) -> dict[str, Any]:
        """The JSON object in ``data``, an envelope of this version."""
        # A search for one byte first (as an int: memchr, a tenth of the cost
        # of the same search as bytes, or of the key's).
        codecs = _DOLLAR in data and b'"$codec"' in data
        if self._loads_fast is not None and not codecs and data.startswith(b"{"):
            try:
                return _versioned(self._loads_fast(data))
            except ValueError:
                pass  # json decides, as it would have (see fast_loads)
        try:
            loads = self._loads_with_codecs if codecs else self._loads_plain
            text = data.decode()
            envelope, end = loads(text)
        except Reject:
            raise
        except ValueError as error:  # UnicodeDecodeError and JSONDecodeError too
            raise Reject(f"it is not JSON: {shorten(str(error))}") from None
        except RecursionError:  # pragma: no cover - nesting_over() prevents it
            raise Reject("it nests too deep to parse") from None
        if end != len(text) and not text[end:].isspace():
            raise Reject(f"it has data after its JSON document: {text[end:50]!r}")
        if type(envelope) is not dict:
            raise Reject("it is not a JSON object")
        return _versioned(envelope)


def _versioned(envelope: dict[str, Any]) -> dict[str, Any]:
    """``envelope``, a JSON object, if it is of this version.

    :raises Reject: it is of another version, or has none."""
    version = envelope.get("v")
    if type(version) is not int or version != VERSION:
        raise Reject(
            f"its format version is {short_repr(version)}; this process "
            f"reads version {VERSION} (is another version of asyncsignal "
            "running?)"
        )
    return envelope


def _why_sender_cannot_cross(sender: object) -> str:
    kind = type(sender)
    what = f"its sender {short_repr(sender)} ({kind.__qualname__}) cannot cross: "
    if callable(sender) and hasattr(sender, "__qualname__"):
        return what + (
            "a class or function crosses only when it is defined at a module's "
            "top level (or in a class there), as a reference to that name"
        )
    name = kind.__qualname__
    return what + (
        "senders cross as None, a str, int, float or bool, a Decimal, "
        "datetime, date, time, UUID or Enum member, a module-level class or "
        f"function (sender={name}, for instance), or an instance of a "
        f"registered class: bridge.register({name}) for a dataclass or a "
        f"pydantic model, bridge.register_codec({name}, encode, decode) for "
        "any other class"
    )


class _CannotCross(Exception):
    """Why a sender cannot cross (internal: becomes the send's TypeError)."""
