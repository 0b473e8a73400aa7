"""``send``'s fast path: a plan of plain sync receivers called in this thread
by a caller generated once per set of payload keys."""

from __future__ import annotations

import keyword
import unicodedata
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._outcomes import Responses
    from ._registrations import Registration

__all__ = ("send_inline",)


def send_inline(
    signal: object,
    registrations: tuple[Registration, ...],
    sender: object,
    named: dict[str, Any],
) -> Responses:
    """Call sync receivers in order; the first exception propagates."""
    keys = tuple(named)
    call_all = _send_callers.get(keys) or _make_send_caller(keys)
    return call_all(registrations, signal, sender, **named)


def _send_generic(
    registrations: tuple[Registration, ...],
    signal: object,
    sender: object,
    /,
    **named: Any,
) -> Responses:
    return [
        (receiver, receiver(signal=signal, sender=sender, **named))
        for registration in registrations
        if (receiver := registration()) is not None
    ]


#: Payload key names -> a function calling every receiver with those keywords.
_send_callers: dict[tuple[str, ...], Callable[..., Responses]] = {}
_SEND_CALLERS_LIMIT = 256
_PREFIX = "_asyncsignal_"


def _make_send_caller(keys: tuple[str, ...]) -> Callable[..., Responses]:
    """Build the caller for one set of payload keys.

    ``receiver(signal=..., sender=..., **named)`` builds a dict per receiver that
    the call then unpacks again; a call with literal keywords does neither and
    halves the cost of ``send``. So, once per distinct set of payload keys, we
    generate ``receiver(signal=s, sender=x, key=key, ...)``, as ``dataclasses``
    generates ``__init__``. Keys the generated code could not name unchanged,
    and key sets past a bound, use the generic caller.
    """
    if len(_send_callers) >= _SEND_CALLERS_LIMIT:
        return _send_generic
    call_all: Callable[..., Responses] = _send_generic
    if all(map(_is_plain_name, keys)):
        params = "".join(f", {key}" for key in keys)
        arguments = "".join(f", {key}={key}" for key in keys)
        p = _PREFIX
        source = (
            f"def call_all({p}registrations, {p}signal, {p}sender, /{params}):\n"
            f"    return [({p}r, {p}r(signal={p}signal, sender={p}sender{arguments}))\n"
            f"            for {p}reg in {p}registrations\n"
            f"            if ({p}r := {p}reg()) is not None]\n"
        )
        namespace: dict[str, Any] = {}
        exec(source, namespace)  # keys are checked by _is_plain_name
        call_all = namespace["call_all"]
    _send_callers[keys] = call_all
    return call_all


def _is_plain_name(key: str) -> bool:
    """Whether ``key`` written as a parameter and a keyword in generated source
    names exactly ``key``: the parser rejects keywords and ``__debug__``, and
    NFKC-normalises identifiers (a black-letter H, U+210C, would become
    ``"H"``); the prefix is the generated code's own."""
    return (
        key.isidentifier()
        and unicodedata.is_normalized("NFKC", key)
        and not keyword.iskeyword(key)
        and key != "__debug__"
        and not key.startswith(_PREFIX)
    )
