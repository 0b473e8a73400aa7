"""asyncsignal: async-native signals for asyncio, uvloop and trio.

A drop-in replacement for ``django.dispatch.Signal`` whose ``asend`` runs
coroutine receivers concurrently.
"""

from ._errors import ReceiverTimeout as ReceiverTimeout
from ._errors import WeakReceiverWarning as WeakReceiverWarning
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
    "ReceiverTimeout",
    "Receivers",
    "Signal",
    "Subscription",
    "TypedSignal",
    "WeakReceiverWarning",
    "define",
    "receiver",
)
__version__ = "0.1.0"

# Show the public path in reprs, tracebacks and docs.
for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith("asyncsignal."):
        _obj.__module__ = __name__
del _name, _obj
