"""The :class:`Bridge`: its configuration, its state, and running it (``async
with``, :meth:`Bridge.wait_connected`). The module docstring of
:mod:`asyncsignal.bridge` says what a bridge promises."""

from __future__ import annotations

import logging
import math
import sys
import uuid
from contextvars import ContextVar
from functools import partial
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel

from .._seam import asend_robust_offering, subscribe, subscribers, unsubscribe
from .._signal import AsyncSignal
from .._subscriptions import NeverFull
from .._tasks import asyncio_running
from ._backend_glue import LoopTask, bell
from ._buffers import DropWarning, Inbox, Outbox
from ._codecs import Codec
from ._envelope import MAX_NAME, Wire
from ._helper_thread import Runner
from ._origins import Origins
from ._reject import Reject
from ._senders import resolve_sender
from ._session import Down, State, serve
from ._signing import keys_of
from ._urls import PublicUrl

if sys.version_info < (3, 11):  # pragma: no cover - covered by the Python 3.10 run
    from exceptiongroup import BaseExceptionGroup

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from types import TracebackType

    from typing_extensions import Self

    from .._subscriptions import Event, Subscriber
    from ._session import Up
    from ._transports.base import Broker

__all__ = ("SIGNED_MAX_AGE", "Bridge")

logger = logging.getLogger("asyncsignal.bridge")

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

#: Seconds a signed event is accepted for after it was sent (see Origins).
SIGNED_MAX_AGE = 300.0

#: How much of a rejected message's reason and bytes a log line shows.
_REASON_SHOWN, _BYTES_SHOWN = 300, 100


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
    :param secret: authenticate events: a ``str`` or ``bytes``, or a list or
        tuple of them. Every envelope is then signed with the first
        (HMAC-SHA256 over its exact bytes) and accepted only if one of them
        verifies it, so a key rotates without downtime (list the new one
        second, then first everywhere, then drop the old one). An envelope
        without a valid signature is rejected before it is parsed, and so is
        a replay: an event this process has delivered, or one sent over
        :data:`SIGNED_MAX_AGE` seconds ago. The secret never appears in
        ``repr``, logs or errors.

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
        secret: str | bytes | Sequence[str | bytes] | None = None,
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
        keys = () if secret is None else keys_of(secret)
        self._wire = Wire(uuid.uuid4().hex, max_event_bytes, keys)
        self._shares: dict[str, _Share] = {}
        self._outbox = Outbox(max_buffer_bytes, self._wire.finish)
        self._state = State()
        self._running: tuple[Runner, LoopTask] | None = None
        # From the start of __aenter__ to the end of __aexit__: set before
        # entering awaits anything, so that a second entry fails at once.
        self._entered = False
        self._origins = Origins(SIGNED_MAX_AGE if keys else None)
        self._received = self._rejected = 0
        self._rejections = DropWarning(
            "bridge %(url)s rejected %(count)d incoming message(s); the last "
            "because %(reason)s; it began %(head)r"
        )
        #: The scope of the ``async with`` block (a new one each run, made
        #: before the dispatcher starts: a scope needs a running backend),
        #: cancelled when a receiver of an incoming event raises
        #: KeyboardInterrupt or SystemExit, which is kept in ``_interrupt``.
        self._block: anyio.CancelScope
        self._interrupt: BaseException | None = None

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
            if len(name) > MAX_NAME:
                raise ValueError(
                    f"share() takes signals named in at most {MAX_NAME} "
                    f"characters, got one of {len(name):,}"
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
        """Whether the bridge is connected to the broker now (and delivering:
        never once a receiver's ``KeyboardInterrupt`` stopped it)."""
        return self._state.connected and self._interrupt is None

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
        return self._origins.missed

    @property
    def rejected(self) -> int:
        """Incoming messages that were not delivered: over ``max_event_bytes``
        or the other limits of the envelope, not an envelope of this version,
        not validly signed (with ``secret``), a repeat or a replay of an
        event delivered already, an unknown codec, a payload the signal
        refuses. Logged at most every 5 seconds as a warning (each one at
        debug level), with the reason and the message's first bytes."""
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
        # Made now, so that the dispatcher can cancel it: entered once started.
        self._block, self._interrupt = anyio.CancelScope(), None
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
        # Left by __aexit__: it spans the block.
        self._block.__enter__()
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
        Exceptions of the block propagate unchanged.

        :raises KeyboardInterrupt: (or ``SystemExit``, or a group of them) what
            a receiver of an incoming event raised: it cancelled the block.
        """
        running, self._running = self._running, None
        assert running is not None, "__aexit__ without __aenter__"
        # True if the block ended by the cancellation an interrupt caused.
        if self._block.__exit__(exc_type, exc, tb):
            exc_type = exc = None
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
        if self._interrupt is not None:
            raise self._interrupt from exc

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
                from ._transports.redis import RedisBroker

                return RedisBroker(self.url, self.channel, self.timeout)
            if kind == "nats":
                from ._transports.nats import NatsBroker

                return NatsBroker(
                    self.url, self.channel, self.timeout, self.max_event_bytes
                )
        except ImportError as error:
            client = "redis-py" if kind == "redis" else "nats-py"
            raise ImportError(
                f"Bridge({_redact(self.url)!r}) needs {client}; install it with "
                f"pip install 'asyncsignal[{kind}]'"
            ) from error
        from ._transports.memory import MemoryBroker

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
        """Deliver incoming events and connection changes, in order, until
        cancelled; nothing that arrives or that a receiver raises ends it,
        but ``KeyboardInterrupt`` and ``SystemExit``: they end the block."""
        cancelled = anyio.get_cancelled_exc_class()
        while True:
            for item in await inbox.take():
                try:
                    await self._handle(item)
                except cancelled:
                    raise  # the bridge is stopping
                except BaseException as error:
                    if not _interrupts(error):
                        # asend_robust logged an Exception; this is another
                        # BaseException (GeneratorExit, a custom one).
                        logger.error(
                            "bridge %s: a receiver of an incoming event raised "
                            "%s; delivery goes on",
                            self._public_url,
                            type(error).__name__,
                            exc_info=error,
                        )
                        continue
                    # As it would leave a local asend: out of the block.
                    self._interrupt = error
                    self._block.cancel()  # nothing if the block has ended
                    return
            # Receivers that never suspend must not starve the event loop; and
            # meanwhile the broker's reader fills the next batch.
            await anyio.lowlevel.checkpoint()

    async def _handle(self, item: bytes | Down | Up) -> None:
        if isinstance(item, bytes):
            await self._deliver(item)
        elif isinstance(item, Down):
            await self.disconnected.asend_robust(self, error=item.error)
        else:
            await self.reconnected.asend_robust(
                self, lost=item.lost, downtime=item.downtime
            )

    async def _deliver(self, data: bytes) -> None:
        try:
            envelope = self._wire.decode(data)
            self._origins.admit(envelope)
        except Reject as error:
            self._reject(error, data)
            return
        share = self._shares.get(envelope.signal)
        if share is None:
            return  # a signal that this process does not share
        signal, sender = share.signal, envelope.sender
        if sender is not None:
            try:
                sender = resolve_sender(signal, sender)
            except Reject as error:
                self._reject(error, data)
                return
        self._received += 1
        token = _delivering.set(self)
        try:
            await asend_robust_offering(signal, sender, envelope.kwargs, share.others())
        except Exception as error:
            # Receivers' errors are logged by asend_robust; this is the send
            # itself refusing the payload (a typed signal's check).
            self._reject(error, data)
        finally:
            _delivering.reset(token)

    def _reject(self, error: Exception, data: bytes) -> None:
        self._rejected += 1
        url, head = self._public_url, data[:_BYTES_SHOWN]
        reason = str(error)
        if len(reason) > _REASON_SHOWN:
            reason = reason[: _REASON_SHOWN - 3] + "..."
        logger.debug("bridge %s rejected %r: %s", url, head, reason)
        self._rejections.add(1, url=url, reason=reason, head=head)


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
        for other in subscribers(self.signal):
            if isinstance(other, _Share) and other is not self:
                raise RuntimeError(
                    f"{self.signal!r} is shared by {other._bridge!r} already: "
                    "a signal is shared by one running bridge at a time"
                )

    def others(self) -> tuple[Subscriber, ...]:
        """The signal's subscriptions but this one, which incoming events skip
        (the dispatcher's task only)."""
        subscriptions = subscribers(self.signal)
        if subscriptions is not self._seen:  # replaced on every change
            self._seen = subscriptions
            self._others = tuple(s for s in subscriptions if s is not self)
        return self._others

    def subscribe(self) -> None:
        self.check_free()
        subscribe(self.signal, self)

    def unsubscribe(self) -> None:
        unsubscribe(self.signal, self)

    def put_nowait(self, event: Event) -> bool:
        """Encode and queue ``event``; never waits, never refuses.

        :raises TypeError: the event cannot cross (see :class:`Bridge`).
        """
        if _delivering.get() is self._bridge:
            return True  # an incoming event's consequence: local only
        self._outbox.put(self._wire.encode(self._name, event.sender, event.kwargs))
        return True


def _interrupts(error: BaseException) -> bool:
    """Whether ``error`` is (or a group holds) a ``KeyboardInterrupt`` or a
    ``SystemExit``."""
    if isinstance(error, BaseExceptionGroup):
        return any(map(_interrupts, error.exceptions))
    return isinstance(error, (KeyboardInterrupt, SystemExit))


def _check_size(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum:,}, got {value:,}")


def _redact(url: str) -> str:
    """``url`` without its credentials, for logs and errors."""
    return PublicUrl(url).text
