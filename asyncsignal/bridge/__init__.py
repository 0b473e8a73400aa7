"""Signals shared by every process of an application, over Redis/Valkey or NATS.

::

    from asyncsignal.bridge import Bridge

    bridge = Bridge("redis://127.0.0.1:6379/0")  # or "nats://...", "memory://"
    bridge.share(order_placed, cache_invalidated)  # signals with unique names
    async with bridge:  # e.g. in the ASGI lifespan
        await order_placed.asend(sender=None, order_id=7)

A send of a shared signal inside the ``async with`` block runs the local
receivers as always and returns only their responses. The event is also
published, and every other process in the bridge runs its own receivers for
it. Delivery is **at most once** (broker pub/sub):

- The event is encoded and queued when the send starts, in the sender's thread,
  before any receiver runs; what happens to the local receivers afterwards (an
  error, a cancellation) does not unpublish it. A send never waits for the
  broker: it queues into a bounded buffer that a publisher task drains.
- A process never receives its own events, and runs an incoming event's
  receivers once, with ``asend_robust``: their errors are logged there.
  Incoming events are delivered one after another, in the order each origin
  sent them. Sends made while an incoming event is being delivered (by its
  receivers, and by tasks they start) run locally only: every process derives
  them from the event itself, so publishing them again would multiply them.
- An event can be lost: while the broker is unreachable (sends then run their
  local receivers only, promptly), when the outgoing buffer is full (the oldest
  unpublished events are dropped), when a connection breaks with events in
  flight, or when a process is not subscribed yet. Losses are logged and
  counted (:attr:`Bridge.lost` here, :attr:`Bridge.missed` in processes that
  see the gap); the bridge reconnects by itself and sends
  :attr:`Bridge.disconnected` and :attr:`Bridge.reconnected` so that
  applications can resynchronise.

Events cross as JSON (see ``asyncsignal/bridge/_envelope.py`` for the
envelope): never pickled, and no name that arrives is ever imported. Every
incoming message is untrusted input: bounded in size and nesting, checked
field by field, signed and verified when the bridge has a ``secret``; one
that fails is counted in :attr:`Bridge.rejected`, logged, and the next is
delivered as usual.
"""

# The layout, from the application down to the broker:
#   _bridge.py          Bridge: configuration (_settings.py), state, running
#   _share.py           a shared signal's subscriber: each send into the outbox
#   _incoming.py        the dispatcher: incoming events to the receivers
#   _envelope.py        the wire format, with _codecs.py, _senders.py,
#                       _signing.py, _reject.py, _json.py, _limits.py
#                       (what an incoming one must be), _trace.py; _origins.py: who
#                       sent what
#   _buffers.py         the outbox and the inbox, between the two sides
#   _session.py         the (re)connect loop, on asyncio
#   _helper_thread.py   where that loop runs: this loop, or a thread on trio
#   _run.py             one run (async with): the session and the dispatcher
#   _transports/        one broker per file, behind base.py's protocols
#   _urls.py            broker URLs without their credentials

from ._bridge import SIGNED_MAX_AGE as SIGNED_MAX_AGE
from ._bridge import Bridge as Bridge
from ._senders import RemoteSender as RemoteSender

__all__ = ("Bridge", "RemoteSender")

# Show the public path in reprs, tracebacks and docs.
for _obj in (Bridge, RemoteSender):
    _obj.__module__ = __name__
del _obj
