"""asyncsignal: async-native signals for asyncio, uvloop and trio.

A drop-in replacement for ``django.dispatch.Signal`` whose ``asend`` runs
coroutine receivers concurrently.
"""

# Layout (python3 tools/package_layout.py prints it with the import graph):
#   _signal.py         AsyncSignal: connecting, introspection, streaming
#   _sending.py        its four send methods and the hooks subclasses override
#   _registrations.py  one registration: weak/strong reference, keys, policy
#   _registry.py       the sender index and the per-sender plan cache
#   _plans.py          what dispatch reads for one sender
#   _policies.py       how a receiver runs: thread, timeout, once
#   _dispatch.py       where receivers run (tasks, threads, time limits)
#   _inline_send.py    send's fast path: generated callers for sync receivers
#   _outcomes.py       outcomes -> responses, raised errors, logs
#   _context.py        the one context per send
#   _subscriptions.py  subscribe() and wait(): sends as events
#   _typed.py          define()d signals; _receivers.py the receivers' view
#   _callables.py      checks receivers at connect; _errors.py public errors
#   _seam.py           the one way extensions reach inside a signal
#   _backends/         the only place that knows asyncio and trio
#   bridge/            the cross-process bridge (public); django.py, testing.py

from ._errors import ReceiverTimeout as ReceiverTimeout
from ._errors import WeakReceiverWarning as WeakReceiverWarning
from ._observers import Observer as Observer
from ._observers import add_observer as add_observer
from ._observers import remove_observer as remove_observer
from ._receivers import Receivers as Receivers
from ._receivers import receiver as receiver
from ._signal import AsyncSignal as AsyncSignal
from ._signal import Signal as Signal
from ._subscriptions import Event as Event
from ._subscriptions import Subscription as Subscription
from ._typed import TypedSignal as TypedSignal
from ._typed import define as define

__all__ = (
    "AsyncSignal",
    "Event",
    "Observer",
    "ReceiverTimeout",
    "Receivers",
    "Signal",
    "Subscription",
    "TypedSignal",
    "WeakReceiverWarning",
    "add_observer",
    "define",
    "receiver",
    "remove_observer",
)
__version__ = "0.1.0"

# Show the public path in reprs, tracebacks and docs.
for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith("asyncsignal."):
        _obj.__module__ = __name__
del _name, _obj
