"""``send``'s fast path: a plan of plain sync receivers called in this thread
by a caller generated once per set of payload keys; and the robust sends'
(``send_robust``, ``asend_robust``), whose caller keeps going past a
receiver's ``Exception``."""

from __future__ import annotations

import keyword
import unicodedata
from typing import TYPE_CHECKING, Any

from ._outcomes import log_error

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._outcomes import Responses
    from ._registrations import Registration

__all__ = ("send_inline", "send_inline_robust")


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


def send_inline_robust(
    signal: object,
    registrations: tuple[Registration, ...],
    sender: object,
    named: dict[str, Any],
    method: str,
) -> Responses:
    """Call sync receivers in order; a receiver's ``Exception`` is its
    response, logged (as ``settle`` logs it) once every receiver ran."""
    keys = tuple(named)
    call_all = _robust_callers.get(keys) or _make_robust_caller(keys)
    failed: list[int] = []
    responses = call_all(registrations, signal, sender, failed, **named)
    try:
        for index in failed:
            receiver, error = responses[index]
            log_error(receiver, error, method)
        return responses
    finally:
        # A kept error's traceback holds the caller's frame, and its frame
        # holds this one: neither may keep the receivers alive.
        responses = receiver = error = None  # type: ignore[assignment]


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


def _robust_generic(
    registrations: tuple[Registration, ...],
    signal: object,
    sender: object,
    failed: list[int],
    /,
    **named: Any,
) -> Responses:
    responses: Responses = []
    receiver = registration = None
    try:
        for registration in registrations:
            receiver = registration()
            if receiver is None:
                continue
            try:
                responses.append(
                    (receiver, receiver(signal=signal, sender=sender, **named))
                )
            except Exception as error:
                failed.append(len(responses))
                responses.append((receiver, error))
        return responses
    finally:
        # A kept error's traceback holds this frame: it must not keep the
        # receivers alive (see _dispatch.asend).
        responses = receiver = registration = None  # type: ignore[assignment]


#: Payload key names -> a function calling every receiver with those keywords
#: (``send``'s, and the robust sends').
_send_callers: dict[tuple[str, ...], Callable[..., Responses]] = {}
_robust_callers: dict[tuple[str, ...], Callable[..., Responses]] = {}
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
    p = _PREFIX
    return _make_caller(
        keys,
        _send_callers,
        _send_generic,
        f"def call_all({p}registrations, {p}signal, {p}sender, /{{params}}):\n"
        f"    return [({p}r, {p}r(signal={p}signal, sender={p}sender{{arguments}}))\n"
        f"            for {p}reg in {p}registrations\n"
        f"            if ({p}r := {p}reg()) is not None]\n",
    )


def _make_robust_caller(keys: tuple[str, ...]) -> Callable[..., Responses]:
    """:func:`_make_send_caller`'s robust twin (``_robust_generic``, generated)."""
    p = _PREFIX
    return _make_caller(
        keys,
        _robust_callers,
        _robust_generic,
        f"def call_all({p}registrations, {p}signal, {p}sender, {p}failed, /"
        f"{{params}}):\n"
        f"    {p}out = []\n"
        f"    {p}r = {p}reg = None\n"
        f"    try:\n"
        f"        for {p}reg in {p}registrations:\n"
        f"            {p}r = {p}reg()\n"
        f"            if {p}r is None:\n"
        f"                continue\n"
        f"            try:\n"
        f"                {p}out.append(({p}r, {p}r(signal={p}signal, "
        f"sender={p}sender{{arguments}})))\n"
        f"            except Exception as {p}error:\n"
        f"                {p}failed.append(len({p}out))\n"
        f"                {p}out.append(({p}r, {p}error))\n"
        f"        return {p}out\n"
        # As in _robust_generic: a kept error's traceback holds the frame.
        f"    finally:\n"
        f"        {p}out = {p}r = {p}reg = None\n",
    )


def _make_caller(
    keys: tuple[str, ...],
    callers: dict[tuple[str, ...], Callable[..., Responses]],
    generic: Callable[..., Responses],
    source: str,
) -> Callable[..., Responses]:
    """``source`` (``{params}`` and ``{arguments}`` to fill in) compiled for
    ``keys`` and kept in ``callers``; ``generic`` past the bound or for keys
    it could not name."""
    if len(callers) >= _SEND_CALLERS_LIMIT:
        return generic
    call_all = generic
    if all(map(_is_plain_name, keys)):
        namespace: dict[str, Any] = {}
        # Keys are checked by _is_plain_name: they cannot inject code.
        exec(
            source.format(
                params="".join(f", {key}" for key in keys),
                arguments="".join(f", {key}={key}" for key in keys),
            ),
            namespace,
        )
        call_all = namespace["call_all"]
    callers[keys] = call_all
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
