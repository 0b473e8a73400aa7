"""``send`` and ``send_robust`` of ``asyncsignal.django.Signal``, generated.

Two of Django's behaviours meet here. Sync receivers must be called from
``send``'s own frame, with no frame between (receivers warn with a
``stacklevel`` that counts on it: Django's ``complex_setting_changed`` does),
so the receivers cannot be called by a helper. And a call
``receiver(signal=self, sender=sender, **named)`` builds and unpacks a dict of
keywords per receiver, which is most of a send's cost (W2 in PERF.md); a call
with literal keywords, ``receiver(signal=self, sender=sender, x=x)``, does
neither and costs half as much.

So ``send`` is generated: once generically (``**named``), and, when a signal
is first sent, once more for the payload names of that send, as ``send(self,
sender, *, x=MISSING, **named)``; that one is bound to the signal in its
``__dict__`` (it takes precedence over the class's), so later sends with the
same names call receivers with literal keywords. A signal is nearly always
sent with the same names (``post_save``: ``instance``, ``created``, ...).
A send with other names, or one needing more than calling plain sync
receivers in turn (a payload check, subscriptions, policies, async receivers,
a replaced ``_live_receivers``), takes the generic body inside the same
function: still no frame between ``send`` and a sync receiver. Its payload
then reaches receivers with the specialised names first.

Every name the generated code uses besides ``self``, ``sender`` and payload
names starts with :data:`asyncsignal._seam.GENERATED_PREFIX`, which no
specialised payload name does, and builtins are bound under such names too: a
payload argument named ``id`` or ``type`` must not shadow them.
"""

from __future__ import annotations

import linecache
import sys
import types
from typing import TYPE_CHECKING, Any

from asgiref.sync import async_to_sync

from .. import _seam
from .._backends import check_can_block
from .._observers import OBSERVERS
from ._internals import LIVE_RECEIVERS
from ._observed import send_observed
from ._running import (
    claimed,
    log_robust_failure,
    run_concurrently,
    send_traced,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._signal import Signal

__all__ = ("SEND", "SEND_ROBUST", "specialise")

_P = _seam.GENERATED_PREFIX

#: The names generated code reads, each under ``_P + name``.
_GLOBALS: dict[str, Any] = {
    "plan_for": _seam.plan_for,
    "receiving_plan": _seam.receiving_plan,
    "publish_sync": _seam.publish_sync,
    "check_can_block": check_can_block,
    "claimed": claimed,
    "async_to_sync": async_to_sync,
    "run_concurrently": run_concurrently,
    "send_traced": send_traced,
    "OBSERVERS": OBSERVERS,
    "send_observed": send_observed,
    "log_failure": log_robust_failure,
    "LIVE": LIVE_RECEIVERS,
    "MISSING": object(),
    "id": id,
    "type": type,
}

#: How generated code reads the signal's state, ``{check}`` and so on.
_STATE = _seam.send_state_source("self")

# In §-source, "§" stands for the prefix.
_OPENING = """\
def {name}(self, sender, {params}**§named):
"""

#: A specialised send's hot path: plain sync receivers, literal keywords.
_HOT = """\
    if not (§OBSERVERS or {missing}§named or {check} is not None or {subscriptions}):
        if not {connected}:
            return []
        §plan = {cache}.get(§id(sender))
        if §plan is None:
            §plan = §plan_for(self, sender)
        if §plan.inline_only and §type(self)._live_receivers is §LIVE:
{call_all}
    §given = §named
    §named = {{}}
{rebuild}    §named.update(§given)
"""

# Python 3.12 inlines comprehensions (PEP 709): no frame of their own.
_CALL_ALL = (
    """\
            return [
                (§r, §r(signal=self, sender=sender{keywords}))
                for §g in §plan.registrations
                if (§r := §g()) is not None
            ]
"""
    if sys.version_info >= (3, 12)
    else """\
            §responses = []
            for §g in §plan.registrations:
                §r = §g()
                if §r is not None:
                    §responses.append((§r, §r(signal=self, sender=sender{keywords})))
            return §responses
"""
)

#: Everything else, in the order of the core's sends.
_GENERIC = """\
    if §OBSERVERS:
        return §send_observed(self, sender, §named, "{method}")
    if {check} is not None:
        {check}("{method}", §named)
    if {subscriptions}:
        §publish_sync(self, sender, §named, "{method}")
    §plan = §receiving_plan(self, sender, §named)
    if §plan is None:
        return []
    if §type(self)._live_receivers is not §LIVE:
        return §send_traced(self, sender, §named, "{method}")
    if §plan.has_async:
        §check_can_block("{method}")
    §responses = []
    §later = []
    for §r, §registration in §claimed(self, §plan):
        if §registration.is_async:
            §later.append((§r, §registration.policy.timeout, True))
            continue
{call}
    if §later:
        §run = §async_to_sync(§run_concurrently)
        §responses += §run(self, §later, sender, §named, "{method}")
    return §responses
"""

_CALL = """\
        §responses.append((§r, §r(signal=self, sender=sender, **§named)))
"""

_CALL_ROBUST = """\
        try:
            §response = §r(signal=self, sender=sender, **§named)
        except Exception as §error:
            §log_failure(§r, §error)
            §response = §error
        §responses.append((§r, §response))
"""


def _compile(name: str, source: str, label: str) -> Callable[..., Any]:
    source = source.replace("§", _P)
    filename = f"<asyncsignal.django {label}>"
    # Tracebacks through a send show its lines.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {_P + key: value for key, value in _GLOBALS.items()}
    exec(compile(source, filename, "exec"), namespace)
    function: Callable[..., Any] = namespace[name]
    function.__module__ = "asyncsignal.django"
    function.__qualname__ = f"Signal.{name}"
    return function


def _generic(method: str, first: str, call: str, doc: str) -> Callable[..., Any]:
    source = (
        _OPENING.format(name=method, params="")
        + first
        + _GENERIC.format(method=method, call=call, **_STATE)
    )
    function = _compile(method, source, method)
    function.__doc__ = doc
    return function


def _specialised(keys: tuple[str, ...]) -> Callable[..., Any]:
    """``send`` for sends whose payload names are ``keys``, in that order."""
    params = "".join(f"{k}=§MISSING, " for k in keys)
    source = (
        _OPENING.format(name="send", params=params and f"*, {params}")
        + _HOT.format(
            missing="".join(f"{k} is §MISSING or " for k in keys),
            call_all=_CALL_ALL.format(keywords="".join(f", {k}={k}" for k in keys)),
            rebuild="".join(
                f"    if {k} is not §MISSING:\n        §named[{k!r}] = {k}\n"
                for k in keys
            ),
            **_STATE,
        )
        + _GENERIC.format(method="send", call=_CALL, **_STATE)
    )
    function = _compile("send", source, f"send({', '.join(keys)})")
    function.__doc__ = SEND.__doc__
    return function


#: Payload names -> their ``send``; ``None`` for names it cannot be made for.
_specialised_sends: dict[tuple[str, ...], Callable[..., Any] | None] = {}
_SPECIALISED_LIMIT = 256


def specialise(signal: Signal, named: dict[str, Any]) -> None:
    """Bind to ``signal`` the ``send`` specialised for ``named``'s names, if it
    has none yet, its class does not override ``send``, and the names can
    be written as keywords (``signal`` cannot: the send is refused)."""
    if "send" in signal.__dict__ or type(signal).send is not SEND:
        return
    keys = tuple(named)
    if keys in _specialised_sends:
        send = _specialised_sends[keys]
    elif len(_specialised_sends) < _SPECIALISED_LIMIT:
        plain = "signal" not in keys and all(map(_seam.is_plain_keyword, keys))
        send = _specialised_sends[keys] = _specialised(keys) if plain else None
    else:
        return
    if send is not None:
        signal.__dict__["send"] = types.MethodType(send, signal)


_GLOBALS["specialise"] = specialise

SEND = _generic(
    "send",
    "    §specialise(self, §named)\n",
    _CALL,
    """Call the sync receivers in order, in this thread, then the async ones
        concurrently (through ``async_to_sync``); return ``(receiver,
        response)`` pairs, sync receivers' first, as Django does. The first
        exception of a sync receiver propagates; async receivers' errors are
        raised once all have finished (one error, or an ``ExceptionGroup``).""",
)

SEND_ROBUST = _generic(
    "send_robust",
    "",
    _CALL_ROBUST,
    """Like :meth:`send`, but a receiver's ``Exception`` becomes its
        response and is logged at ERROR on the ``django.dispatch`` logger;
        every receiver is called.""",
)
