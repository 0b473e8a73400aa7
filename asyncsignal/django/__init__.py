"""Drop-in for ``django.dispatch``: ``from asyncsignal.django import Signal, receiver``.

Needs Django (``pip install 'asyncsignal[django]'``). :class:`Signal` behaves as
Django 6.1's ``Signal`` wherever Django defines the behaviour, and keeps what
asyncsignal adds (per-receiver policies, ``subscribe``, ``wait``, typed
signals, the bridge):

- ``send`` calls sync receivers in the caller's thread, with no frame between
  ``send`` and the receiver, then runs the async ones concurrently through
  asgiref's ``async_to_sync``, so their thread-sensitive calls (the async ORM)
  come back to the sending thread;
- ``asend`` calls the sync receivers in one
  ``sync_to_async(thread_sensitive=True)`` call (per-thread state such as the
  ORM's connections is what it is with Django), then runs the async ones
  concurrently; responses come sync receivers first, then async ones;
- every receiver of one send runs in one context, a copy of the caller's, and
  what they set in context variables is set in the caller's when the send ends;
- ``send_robust``/``asend_robust`` log failures on the ``django.dispatch``
  logger; receivers are checked for ``**kwargs`` only under ``settings.DEBUG``;
- Django's internals that real code uses are here with Django's shapes:
  ``lock``, ``receivers`` (a list that can be saved and assigned back),
  ``sender_receivers_cache``, ``_clear_dead_receivers()`` and
  ``_live_receivers(sender)`` (which tracing tools wrap).

:func:`install`, called before Django loads, makes ``django.dispatch.Signal``
this class, so Django's own signals and every app's are asyncsignal signals.
``asend`` runs sync receivers through asgiref, which needs asyncio.
"""

# Layout: _signal (the class: connecting, asend), _sends (send and send_robust,
# generated per payload names for speed), _internals (Django's internal names
# as views of the registry), _running (sync receivers in one thread call,
# async ones concurrently, Django's logging), _connecting (the DEBUG-only
# receiver check, policies for subclasses written for Django), _install.

from __future__ import annotations

try:
    import asgiref.sync  # noqa: F401
    import django  # noqa: F401  (the dependency this package is for)
except ImportError as _missing:  # pragma: no cover - tested in a venv without Django
    raise ImportError(
        "asyncsignal.django needs Django; install it with "
        "pip install 'asyncsignal[django]'"
    ) from _missing

from ._connecting import receiver as receiver
from ._install import install as install
from ._running import logger as logger
from ._signal import Signal as Signal

__all__ = ("Signal", "install", "receiver")

# Tracebacks, reprs and the docs show the public path.
for _public in (Signal, install, receiver):
    _public.__module__ = __name__
del _public
