"""The JSON encoder of the bridge's envelopes (see ``_envelope.py``): json's
own C encoder, made once, without the circular-reference check whose table
every sending thread would share."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ("unchecked_dumps",)


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
