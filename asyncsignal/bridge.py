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

Events cross as JSON (see ``asyncsignal/_broker_envelope.py`` for the
envelope): never pickled, and no name that arrives is ever imported.
"""

from __future__ import annotations

import math
import uuid
from contextvars import ContextVar
from functools import partial
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel

from ._broker_envelope import Codec, Reject, RemoteSender, Wire, resolve_sender
from ._broker_link import (
    Down,
    Inbox,
    LoopTask,
    Outbox,
    Runner,
    State,
    bell,
    logger,
    serve,
)
from ._broker_url import PublicUrl
from ._signal import AsyncSignal
from ._subscriptions import NeverFull
from ._tasks import asyncio_running

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

    from typing_extensions import Self

    from ._broker_link import Broker
    from ._subscriptions import Event, Subscriber

__all__ = ("Bridge", "RemoteSender")

#: The bridge whose dispatcher is delivering an incoming event in this context:
#: its shares then publish nothing.
_delivering: ContextVar[Bridge | None] = ContextVar(
    "asyncsignal.bridge.delivering", default=None
)

_SCHEMES = {
    "redis": "redis",
    "rediss": "redis",
    "unix": "redis",
    "nats": "nats",
    "tls": "nats",
    "memory": "memory",
}

#: Origins whose last sequence number is remembered, to count missed events.
_ORIGINS_KEPT = 1024


class Bridge:
    """Shares signals with every process connected to the same broker and
    channel.

    :param url: ``redis://`` / ``rediss://`` / ``unix://`` (Redis or Valkey,
        needs ``asyncsignal[redis]``), ``nats://`` / ``tls://`` (NATS, needs
        ``asyncsignal[nats]``), or ``memory://[name]``: bridges of this
        process entered with the same URL, for tests.
    :param channel: the Redis channel or NATS subject; applications that
        share a broker use different channels.
    :param max_event_bytes: the largest encoded event; a send whose event is
        larger raises ``TypeError``.
    :param max_buffer_bytes: bound of the outgoing buffer (events not yet
        published, plus one batch in flight) and of the incoming one.
    :param timeout: seconds for connecting and for a round trip to the broker;
        a broker that takes longer counts as lost. Idle connections are
        checked this often.

    Works on asyncio, uvloop and trio. On trio, the broker's client (an asyncio
    library) runs on an asyncio event loop in a helper thread; receivers still
    run in the trio task of the dispatcher.

    The URL appears in logs, errors and ``repr`` without its credentials (user
    info, tokens, query parameters but a few numeric ones); a URL that cannot
    be read unambiguously (an unencoded ``/``, ``?`` or ``#`` in a password)
    appears as ``<a malformed URL>``.

    :ivar disconnected: sent (``sender=bridge, error=exception``) when the
        bridge loses the broker, or cannot reach it when it starts:
        ``exception`` is a builtin ``ConnectionError`` whose ``__cause__`` is
        the broker client's own error.
    :ivar reconnected: sent (``sender=bridge, lost=count, downtime=seconds``)
        when it is connected again; ``lost`` counts this process's events that
        were not published meanwhile.
    """

    def __init__(
        self,
        url: str,
        *,
        channel: str = "asyncsignal",
        max_event_bytes: int = 256 * 1024,
        max_buffer_bytes: int = 16 * 1024 * 1024,
        timeout: float = 5.0,
    ) -> None:
        if not isinstance(url, str):
            raise TypeError(f"url must be a str, got {type(url).__name__} {url!r}")
        scheme = url.partition("://")[0] if "://" in url else ""
        if scheme not in _SCHEMES:
            raise ValueError(
                "Bridge URL must start with one of "
                f"{', '.join(s + '://' for s in _SCHEMES)}, got {_redact(url)!r}"
            )
        if (
            not isinstance(channel, str)
            or not channel
            or any(c.isspace() or c in "*>" for c in channel)
        ):
            raise ValueError(
                "channel must be a non-empty str without spaces, '*' or '>', "
                f"got {channel!r}"
            )
        _check_size("max_event_bytes", max_event_bytes, 64)
        _check_size("max_buffer_bytes", max_buffer_bytes, max_event_bytes)
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, (int, float))
            or not (timeout > 0 and math.isfinite(timeout))
        ):
            raise ValueError(
                f"timeout must be a positive number of seconds, got {timeout!r}"
            )
        self.url: str = url
        self._public_url = PublicUrl(url)
        self.channel: str = channel
        self.timeout: float = float(timeout)
        self.max_event_bytes: int = max_event_bytes
        self.max_buffer_bytes: int = max_buffer_bytes
        self._kind = _SCHEMES[scheme]
        self.disconnected: AsyncSignal = AsyncSignal(
            ["error"], name="Bridge.disconnected"
        )
        self.reconnected: AsyncSignal = AsyncSignal(
            ["lost", "downtime"], name="Bridge.reconnected"
        )
        self._wire = Wire(uuid.uuid4().hex, max_event_bytes)
        self._shares: dict[str, _Share] = {}
        self._outbox = Outbox(max_buffer_bytes)
        self._state = State()
        self._running: tuple[Runner, LoopTask] | None = None
        # From the start of __aenter__ to the end of __aexit__: set before
        # entering awaits anything, so that a second entry fails at once.
        self._entered = False
        self._last_seq: dict[str, int] = {}
        self._received = self._missed = self._rejected = 0

    def __repr__(self) -> str:
        state = (
            "not running"
            if self._running is None
            else "connected"
            if self.connected
            else "disconnected"
        )
        return (
            f"<Bridge {self._public_url} channel={self.channel!r} {state}, "
            f"{len(self._shares)} shared signals>"
        )

    # -- configuration -----------------------------------------------------------

    def share(self, *signals: AsyncSignal) -> None:
        """Share ``signals`` with the other processes, from the next send on
        (while the bridge runs). Sharing a signal again does nothing.

        Every process must share a signal under the same ``name``: events
        are matched by name.

        :raises TypeError: not a signal.
        :raises ValueError: a signal without a name, or whose name another
            signal of this bridge has.
        """
        for signal in signals:
            if not isinstance(signal, AsyncSignal):
                raise TypeError(
                    f"share() takes signals, got {type(signal).__name__} {signal!r}"
                )
            name = signal.name
            if not isinstance(name, str) or not name:
                raise ValueError(
                    f"share() needs signals with a name, unique in the "
                    f"application: {signal!r} has none; create it with "
                    "AsyncSignal(name=...)"
                )
            existing = self._shares.get(name)
            if existing is not None:
                if existing.signal is signal:
                    continue
                raise ValueError(
                    f"this bridge shares another signal named {name!r} already"
                )
        for signal in signals:
            name = signal.name
            assert name is not None
            if name not in self._shares:
                share = _Share(self, signal)
                if self._running is not None:
                    share.subscribe()
                self._shares[name] = share

    def register_codec(
        self,
        type: type[Any],
        encode: Callable[[Any], Any],
        decode: Callable[[Any], Any],
        *,
        name: str | None = None,
    ) -> None:
        """Let values of ``type`` (and its subclasses) cross as senders and in
        payloads: ``encode(value)`` must return JSON data, from which
        ``decode`` rebuilds the value in the receiving process. Every process
        registers the same codecs (matched by ``name``, by default
        ``"module:qualname"`` of the type). Types JSON already handles (``str``,
        ``int``, ``dict``… and their subclasses) never reach a codec.

        :raises ValueError: ``type`` or ``name`` has a codec already.
        """
        if name is None:
            name = f"{type.__module__}:{type.__qualname__}"
        self._wire.add_codec(Codec(name, type, encode, decode))

    # -- state ------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether the bridge is connected to the broker now."""
        return self._state.connected

    @property
    def published(self) -> int:
        """Events of this process handed to the broker."""
        return self._outbox.published

    @property
    def lost(self) -> int:
        """Events of this process that were not published: sent while
        disconnected, dropped from a full buffer, or in flight when a
        connection broke."""
        return self._outbox.lost

    @property
    def received(self) -> int:
        """Events of other processes delivered to this process's receivers."""
        return self._received

    @property
    def missed(self) -> int:
        """Events of other processes known not to have arrived here (gaps in
        their sequence numbers)."""
        return self._missed

    @property
    def rejected(self) -> int:
        """Incoming messages that could not be delivered (not an envelope of
        this version, an unknown codec, a payload the signal refuses);
        each is logged."""
        return self._rejected

    # -- running ------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        """Connect, subscribe and start sharing.

        Returns once the first connection attempt has succeeded (then nothing
        another process publishes afterwards is missed) or failed (then the
        bridge keeps retrying in the background, and ``disconnected`` is sent;
        :meth:`wait_connected` waits for the connection).

        :raises ImportError: the client library of the URL's broker is missing.
        :raises RuntimeError: the bridge is running already (or still
            starting or stopping, in another task), or a signal it shares is
            shared by another running bridge.
        """
        if self._entered:
            raise RuntimeError(f"{self!r} is running already")
        broker = self._make_broker()
        for share in self._shares.values():
            share.check_free()
        self._entered = True
        self._state.set_running(True)
        try:
            return await self._start(broker)
        except BaseException:
            self._state.set_running(False)
            self._entered = False
            raise

    async def _start(self, broker: Broker) -> Self:
        # A new origin per run, not per object: processes forked from one that
        # made the bridge (gunicorn --preload) must not take each other's
        # events for their own echoes.
        self._wire.rebase(uuid.uuid4().hex)
        inbox = Inbox(self.max_buffer_bytes, self._wire.echo_prefix)
        first_attempt = bell()
        runner = Runner(
            partial(
                serve,
                broker,
                self._outbox,
                inbox,
                self._state,
                self.timeout,
                self._public_url,
                first_attempt.ring,
            ),
            # redis.asyncio and nats-py need asyncio: on trio they get a
            # loop of their own in a helper thread.
            in_thread=not asyncio_running(),
        )
        dispatcher = LoopTask(partial(self._dispatch, inbox))
        dispatcher.start()
        runner.start()
        try:
            # The attempt is bounded by `timeout`; this bound is a safety net.
            with anyio.move_on_after(self.timeout + 5):
                await first_attempt.wait()
            for share in self._shares.values():
                share.subscribe()
        except BaseException:
            self._unsubscribe_all()
            await self._shut_down(runner, dispatcher)
            raise
        self._running = (runner, dispatcher)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop sharing, publish what is still queued (when the block ended
        normally and the broker is connected; at most ``timeout`` seconds),
        then disconnect. Incoming events not yet delivered are dropped.
        Exceptions of the block propagate unchanged."""
        running, self._running = self._running, None
        assert running is not None, "__aexit__ without __aenter__"
        self._state.set_running(False)
        self._unsubscribe_all()
        try:
            if exc_type is None and self.connected:
                with anyio.move_on_after(self.timeout):
                    await self._outbox.wait_idle()
        finally:
            try:
                await self._shut_down(*running)
            finally:
                self._entered = False

    async def wait_connected(self) -> None:
        """Wait until the bridge is connected to the broker; return at once if
        it is. Events sent before are lost (see :class:`Bridge`); once this
        returns, the bridge is subscribed, and events sent are published (until
        the connection breaks again). Call it inside ``async with bridge:``,
        from the bridge's event loop or another; cancelling it (e.g. with
        ``anyio.fail_after``) only stops the wait.

        :raises RuntimeError: the bridge is not running (outside ``async
            with``), or stopped while this waited.
        """
        if self._running is None:
            raise RuntimeError(
                f"{self!r} is not running: wait_connected() waits inside "
                "'async with bridge:'"
            )
        await anyio.lowlevel.checkpoint()
        if not await self._state.wait_connected():
            raise RuntimeError(f"{self!r} stopped before it connected")

    def _make_broker(self) -> Broker:
        kind = self._kind
        try:
            if kind == "redis":
                from ._broker_redis import RedisBroker

                return RedisBroker(self.url, self.channel, self.timeout)
            if kind == "nats":
                from ._broker_nats import NatsBroker

                return NatsBroker(
                    self.url, self.channel, self.timeout, self.max_event_bytes
                )
        except ImportError as error:
            client = "redis-py" if kind == "redis" else "nats-py"
            raise ImportError(
                f"Bridge({_redact(self.url)!r}) needs {client}; install it with "
                f"pip install 'asyncsignal[{kind}]'"
            ) from error
        from ._broker_memory import MemoryBroker

        return MemoryBroker(self.url)

    async def _shut_down(self, runner: Runner, dispatcher: LoopTask) -> None:
        with anyio.CancelScope(shield=True):
            if not await runner.stop(self.timeout + 5):  # pragma: no cover
                logger.error(
                    "bridge %s: the broker connection did not close in time",
                    _redact(self.url),
                )
            self._outbox.close()
            await dispatcher.stop()

    def _unsubscribe_all(self) -> None:
        for share in self._shares.values():
            share.unsubscribe()

    # -- incoming events ----------------------------------------------------------

    async def _dispatch(self, inbox: Inbox) -> None:
        while True:
            for item in await inbox.take():
                if isinstance(item, bytes):
                    await self._deliver(item)
                elif isinstance(item, Down):
                    await self.disconnected.asend_robust(self, error=item.error)
                else:
                    await self.reconnected.asend_robust(
                        self, lost=item.lost, downtime=item.downtime
                    )
            # Receivers that never suspend must not starve the event loop; and
            # meanwhile the broker's reader fills the next batch.
            await anyio.lowlevel.checkpoint()

    async def _deliver(self, data: bytes) -> None:
        try:
            origin, seq, name, sender, kwargs = self._wire.decode(data)
        except Reject as error:
            self._reject(error, data)
            return
        self._count(origin, seq)
        share = self._shares.get(name)
        if share is None:
            return  # a signal that this process does not share
        signal = share.signal
        if sender is not None:
            try:
                sender = resolve_sender(signal, sender)
            except Reject as error:
                self._reject(error, data)
                return
        self._received += 1
        token = _delivering.set(self)
        try:
            await signal._asend_robust(sender, kwargs, share.others())
        except Exception as error:
            # Receivers' errors are logged by asend_robust; this is the send
            # itself refusing the payload (a typed signal's check).
            self._reject(error, data)
        finally:
            _delivering.reset(token)

    def _count(self, origin: str, seq: int) -> None:
        last_seq = self._last_seq
        last = last_seq.pop(origin, None)
        if last is not None:
            if seq > last + 1:
                self._missed += seq - last - 1
            elif seq <= last:  # late, or repeated: a gap counted already
                seq = last
        last_seq[origin] = seq  # last in the dict: the most recently heard
        if len(last_seq) > _ORIGINS_KEPT:
            del last_seq[next(iter(last_seq))]

    def _reject(self, error: Exception, data: bytes) -> None:
        self._rejected += 1
        logger.warning(
            "bridge %s dropped an incoming message: %s; the message began %r",
            _redact(self.url),
            error,
            data[:200],
        )


class _Share(NeverFull):
    """The subscriber a bridge registers on each signal it shares: it encodes
    every send into the outbox (the sender's thread, before any receiver runs)."""

    __slots__ = ("_bridge", "_name", "_others", "_outbox", "_seen", "_wire", "signal")

    #: Every send, whatever its sender.
    sender = None

    def __init__(self, bridge: Bridge, signal: AsyncSignal) -> None:
        self._bridge = bridge
        self.signal = signal
        self._name = signal.name or ""
        self._outbox = bridge._outbox
        self._wire = bridge._wire
        self._seen: tuple[Subscriber, ...] = ()
        self._others: tuple[Subscriber, ...] = ()

    def check_free(self) -> None:
        """:raises RuntimeError: another running bridge shares the signal."""
        for other in self.signal._subscriptions:
            if isinstance(other, _Share) and other is not self:
                raise RuntimeError(
                    f"{self.signal!r} is shared by {other._bridge!r} already: "
                    "a signal is shared by one running bridge at a time"
                )

    def others(self) -> tuple[Subscriber, ...]:
        """The signal's subscriptions but this one, which incoming events skip
        (the dispatcher's task only)."""
        subscriptions = self.signal._subscriptions
        if subscriptions is not self._seen:  # replaced on every change
            self._seen = subscriptions
            self._others = tuple(s for s in subscriptions if s is not self)
        return self._others

    def subscribe(self) -> None:
        self.check_free()
        self.signal._subscribe(self)

    def unsubscribe(self) -> None:
        self.signal._unsubscribe(self)

    def put_nowait(self, event: Event) -> bool:
        """Encode and queue ``event``; never waits, never refuses.

        :raises TypeError: the event cannot cross (see :class:`Bridge`).
        """
        if _delivering.get() is self._bridge:
            return True  # an incoming event's consequence: local only
        self._outbox.put(self._wire.encode(self._name, event.sender, event.kwargs))
        return True


def _check_size(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum:,}, got {value:,}")


def _redact(url: str) -> str:
    """``url`` without its credentials, for logs and errors."""
    return PublicUrl(url).text
