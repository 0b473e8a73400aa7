"""The trace context an event carries to other processes: the envelope's
optional ``trace`` field (see ``_envelope.py``), version 1::

    "trace":{"v":1,"traceparent":"00-<32 hex>-<16 hex>-<2 hex>",
             "tracestate":"vendor=value","baggage":"key=value"}

What an observer (:meth:`asyncsignal.Observer.outgoing`) gives a send:
W3C Trace Context's ``traceparent`` (required) and ``tracestate``, and W3C
Baggage's ``baggage`` header, each as its HTTP header's value.

Incoming, the field is untrusted like the rest of the envelope, but a field
that fails its checks does not cost the event: the event is delivered
without a trace, and counted in :attr:`Bridge.trace_ignored
<asyncsignal.bridge.Bridge.trace_ignored>`. It passes if it is an object
with ``"v": 1`` and only the keys above, whose ``traceparent`` is a version
``00`` header (55 characters: lowercase hex, an all-zero trace or span id
refused), and whose ``tracestate`` (at most :data:`MAX_TRACESTATE`
characters) and ``baggage`` (at most :data:`MAX_BAGGAGE`) are printable
ASCII. A field of another version is ignored the same way, so that a newer
format never breaks an older reader. Sends are held to the same checks: a
trace that would fail them is left out of the event.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = (
    "MAX_BAGGAGE",
    "MAX_TRACESTATE",
    "TRACE_VERSION",
    "Trace",
    "check_trace",
    "trace_field",
)

TRACE_VERSION = 1
#: What a send may carry (``Wire.encode``'s ``trace``): the W3C headers.
Trace = Optional["Mapping[str, str]"]
#: Longest ``tracestate``: W3C Trace Context lets vendors cut it to 512.
MAX_TRACESTATE = 512
#: Longest ``baggage``: W3C Baggage's limit for the whole header (bytes).
MAX_BAGGAGE = 8192

_KEYS = frozenset(("v", "traceparent", "tracestate", "baggage"))
#: A version 00 traceparent; its all-zero ids are refused apart. (A regular
#: expression: a third of the cost of testing the characters as a set.)
_TRACEPARENT = re.compile("00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}").fullmatch
_PRINTABLE = re.compile(r"[\x20-\x7e]*").fullmatch
_ZERO_TRACE, _ZERO_SPAN = "0" * 32, "0" * 16


def check_trace(trace: Any) -> tuple[dict[str, str] | None, str | None]:
    """``(fields, None)`` for a valid ``trace`` field (its headers, without
    ``v``), ``(None, reason)`` for one to ignore, ``(None, None)`` for none
    (``trace`` is ``None``: an envelope without the field). Never raises."""
    if trace is None:
        return None, None
    if type(trace) is not dict:
        return None, "its trace is not an object"
    if trace.get("v") != TRACE_VERSION or type(trace.get("v")) is not int:
        return None, f"its trace is not of version {TRACE_VERSION}"
    if not trace.keys() <= _KEYS:
        return None, "its trace has unknown fields"
    parent = trace.get("traceparent")
    if not _is_traceparent(parent):
        return None, "its traceparent is not a version 00 W3C traceparent"
    assert isinstance(parent, str)  # _is_traceparent checked it
    fields: dict[str, str] = {"traceparent": parent}
    for key, limit in (("tracestate", MAX_TRACESTATE), ("baggage", MAX_BAGGAGE)):
        value = trace.get(key)
        if value is None:
            continue
        if type(value) is not str or len(value) > limit or not _PRINTABLE(value):
            return (
                None,
                f"its {key} is not printable ASCII of at most {limit} characters",
            )
        fields[key] = value
    return fields, None


def trace_field(dumps: Callable[[Any], str], trace: Mapping[str, str]) -> str:
    """``"trace":{...},`` for an envelope (``dumps``: its JSON encoder), or
    nothing if ``trace`` would not pass :func:`check_trace`."""
    if len(trace) == 1:
        # The usual trace: a traceparent alone, which needs no escaping.
        parent = trace.get("traceparent")
        if _is_traceparent(parent):
            return f'"trace":{{"v":{TRACE_VERSION},"traceparent":"{parent}"}},'
    fields, _ = check_trace({"v": TRACE_VERSION, **trace})
    if fields is None:
        return ""
    return f'"trace":{dumps({"v": TRACE_VERSION, **fields})},'


def _is_traceparent(value: object) -> bool:
    return (
        type(value) is str
        and _TRACEPARENT(value) is not None
        and value[3:35] != _ZERO_TRACE
        and value[36:52] != _ZERO_SPAN
    )
