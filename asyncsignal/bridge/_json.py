"""The JSON of the bridge's envelopes (see ``_envelope.py``), made faster
without changing what it reads or writes:

- the encoder is json's own C encoder, made once, without the
  circular-reference check whose table every sending thread would share;
  and msgspec's, where msgspec is installed (the ``redis`` and ``nats``
  extras install it), for the payloads it writes byte for byte as json does
  (:func:`fast_dumps`);
- the decoder is msgspec's, for the messages it reads exactly as json does
  (:func:`fast_loads`); json reads the others."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ("AS_JSON", "fast_dumps", "fast_loads", "unchecked_dumps")


def unchecked_dumps(default: Callable[[Any], Any]) -> Callable[[Any], str] | None:
    """What ``json.JSONEncoder(...).encode`` returns for the options of the
    envelopes (compact, no ASCII escapes, no NaN, ``default`` for other
    types), but for circular references, made once instead of at every call
    (1.6 against 2.7 µs for a 150-byte payload); ``None`` where the json
    module has no C encoder. A circular payload fails with ``RecursionError``
    instead, which the envelope's encoding catches (and explains with the
    checked encoder)."""
    try:
        from _json import make_encoder
    except ImportError:  # pragma: no cover - CPython has it
        return None
    encoder = make_encoder(
        None,  # the markers of the circular check
        default,
        json.encoder.encode_basestring,
        None,  # indent
        ":",
        ",",
        False,  # sort_keys
        False,  # skipkeys
        False,  # allow_nan
    )

    def dumps(value: Any) -> str:
        return "".join(encoder(value, 0))

    return dumps


def fast_loads() -> Callable[[bytes], Any] | None:
    """msgspec's JSON decoder (``None`` without msgspec), about three times
    as fast as json's C decoder on an envelope (0.8 against 2.3 µs).

    Where it returns a value, that value is json's (the same types, ints of
    any size included, floats to the bit, the last of duplicate keys: a
    differential test in tests/bridge/test_envelope.py checks it); but it
    reads a document with whitespace before it, which json's ``raw_decode``
    does not: the caller gives it only messages starting with ``{``. What it
    refuses (raising ``ValueError``: ``msgspec.DecodeError`` is one) json may
    still read (``NaN``, ``1e400``, a lone surrogate's escape, trailing
    Unicode whitespace): the caller lets json decide those.
    """
    try:
        from msgspec.json import Decoder
    except ImportError:  # pragma: no cover - the test environment has msgspec
        return None
    return Decoder().decode


#: The types of the values that msgspec's encoder writes as json's does (with
#: ``ensure_ascii=False``), byte for byte: not ``float`` (``1e+16`` against
#: ``1e16``, and NaN as ``null`` where json refuses it), nor what json does
#: not write but a codec does (``UUID``, ``datetime``, ``Enum``...), which
#: msgspec writes its own way; nor any subclass.
AS_JSON = frozenset((str, int, bool, type(None)))


def fast_dumps() -> Callable[[dict[str, Any]], bytes] | None:
    """msgspec's JSON encoder (``None`` without msgspec), about seven times as
    fast as json's on a payload (0.2 against 1.4 µs), for the dicts of str
    keys whose values are all of :data:`AS_JSON`'s types: for those, it writes
    what json writes (a test in tests/bridge/test_envelope.py compares them).
    It raises ``ValueError`` where json does (an int over the interpreter's
    digits limit), and for a lone surrogate, which json writes and the
    envelope's encoding to UTF-8 then refuses: the caller lets json decide.
    """
    try:
        from msgspec.json import Encoder
    except ImportError:  # pragma: no cover - the test environment has msgspec
        return None
    return Encoder().encode
