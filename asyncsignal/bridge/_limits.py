"""What an incoming envelope must be before it is delivered: the limits every
message is held to (sends too, so that what one process sends the others
accept), the nesting measured before parsing, and the checks of each field
of a parsed envelope, which make it an :class:`Envelope`. The format itself
is described in ``_envelope.py``."""

from __future__ import annotations

import re
from functools import partial
from typing import Any, NamedTuple

from ._reject import Reject, short_repr
from ._signing import SIG_ROOM
from ._trace import check_trace

__all__ = (
    "MAX_ARGUMENTS",
    "MAX_DEPTH",
    "MAX_NAME",
    "MAX_SEQ",
    "Envelope",
    "envelope_of",
    "nesting_over",
)

#: How deep JSON arrays and objects may nest in an envelope (the envelope
#: itself is level 1, ``kwargs`` level 2): parsing recurses once per level.
MAX_DEPTH = 32
#: Most payload arguments (keys of ``kwargs``) in one event.
MAX_ARGUMENTS = 256
#: Longest signal name and payload argument name, in characters.
MAX_NAME = 256
#: Largest ``seq``: an outbox numbers 2**63 - 1 events before it wraps.
MAX_SEQ = 2**63 - 1

#: An origin is 32 lowercase hex digits (``uuid4().hex``).
_ORIGIN = re.compile("[0-9a-f]{32}").fullmatch
_OPEN_LIST = ord("[")
#: JSON strings (skipped) and brackets, to measure nesting without parsing.
_STRING_OR_BRACKET = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)

#: The bytes of the shortest envelope, with no payload: its fields take that
#: much of any envelope.
_FIELDS = len(
    f'{{"v":1,"origin":"{"0" * 32}","signal":"","sender":0,"kwargs":{{}},"seq":1}}'
)
#: A signed envelope's: its time and its signature's trailer besides.
_SIGNED_FIELDS = _FIELDS + len(',"t":0') + SIG_ROOM


class Envelope(NamedTuple):
    """A decoded incoming event; ``sent_at`` (milliseconds since the epoch) is
    ``None`` unless the envelope was signed; ``trace``: see ``_trace.py``."""

    origin: str
    seq: int
    signal: str
    sender: Any
    kwargs: dict[str, Any]
    sent_at: int | None = None
    trace: dict[str, str] | None = None
    trace_ignored: str | None = None


#: Envelope(*fields) without its generated ``__new__`` (in Python, a third
#: of envelope_of's time): every field is given.
_envelope = partial(tuple.__new__, Envelope)


def envelope_of(envelope: dict[str, Any], size: int, signed: bool) -> Envelope:
    """The event of a parsed ``envelope`` (read from ``size`` bytes), checked
    field by field; ``signed``: it must carry its time ``t``."""
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
    if _ORIGIN(origin) is None:
        raise Reject(f"its origin {short_repr(origin)} is not 32 hex digits")
    if not 1 <= seq <= MAX_SEQ:
        raise Reject(f"its seq {short_repr(seq)} is not from 1 to 2**63 - 1")
    if len(name) > MAX_NAME:
        raise Reject(f"its signal name is over {MAX_NAME} characters")
    if len(kwargs) > MAX_ARGUMENTS:
        raise Reject(f"it has over {MAX_ARGUMENTS} payload arguments")
    # A payload argument's name is in the message, besides the fields (at
    # least _FIELDS bytes): no longer than what remains of it.
    fields = _SIGNED_FIELDS if signed else _FIELDS
    if size - fields > MAX_NAME and kwargs and max(map(len, kwargs)) > MAX_NAME:
        raise Reject(f"a payload argument's name is over {MAX_NAME} characters")
    trace, ignored = envelope.get("trace"), None
    if trace is not None:  # most envelopes carry none: no call
        trace, ignored = check_trace(trace)
    if not signed:
        return _envelope((origin, seq, name, sender, kwargs, None, trace, ignored))
    sent_at = envelope.get("t")
    if type(sent_at) is not int or sent_at < 0:
        raise Reject("it is signed but has no valid time 't'")
    return _envelope((origin, seq, name, sender, kwargs, sent_at, trace, ignored))


def nesting_over(data: bytes, limit: int) -> bool:
    """Whether JSON arrays and objects nest over ``limit`` levels in ``data``
    (brackets inside strings do not count). Linear in ``len(data)``; an
    envelope with no more than ``limit`` brackets at all is not even scanned.
    """
    # Counting a byte costs a pass; testing for one is a memchr.
    opened = data.count(b"{") + (data.count(b"[") if _OPEN_LIST in data else 0)
    if opened <= limit:
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
