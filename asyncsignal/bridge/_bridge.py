"""The :class:`Bridge`: its configuration, its state, and running it (``async
with``, :meth:`Bridge.wait_connected`). The module docstring of
:mod:`asyncsignal.bridge` says what a bridge promises."""

from __future__ import annotations

import itertools
import uuid
import weakref
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel

from .._signal import AsyncSignal
from ._buffers import Outbox
from ._codecs import Codec, class_codec
from ._envelope import Wire
from ._incoming import Dispatcher
from ._run import Run, start_run
from ._session import State
from ._settings import check_channel, check_size, check_timeout, check_url
from ._share import Share, is_new_share
from ._signing import keys_of
from ._transports import make_broker
from ._urls import PublicUrl

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from types import TracebackType

    from typing_extensions import Self

    from ._transports.base import Broker

__all__ = ("SIGNED_MAX_AGE", "Bridge", "live_bridges")

#: Every bridge not yet garbage collected, numbered in the order they were
#: made, for metrics (opentelemetry.py).
_BRIDGES: weakref.WeakKeyDictionary[Bridge, int] = weakref.WeakKeyDictionary()
_made = itertools.count(1)


def live_bridges() -> list[tuple[int, Bridge]]:
    """The bridges of this process that have not been garbage collected, each
    with its number: 1 for the first bridge the process made, and so on."""
    return [(number, bridge) for bridge, number in list(_BRIDGES.items())]


#: Seconds a signed event is accepted for after it was sent (see Origins).
SIGNED_MAX_AGE = 300.0


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
        check_url(url)
        check_channel(channel)
        check_size("max_event_bytes", max_event_bytes, 64)
        check_size("max_buffer_bytes", max_buffer_bytes, max_event_bytes)
        check_timeout(timeout)
        self.url: str = url
        self._public_url = PublicUrl(url)
        self.channel: str = channel
        self.timeout: float = float(timeout)
        self.max_event_bytes: int = max_event_bytes
        self.max_buffer_bytes: int = max_buffer_bytes
        self.disconnected: AsyncSignal = AsyncSignal(
            ["error"], name="Bridge.disconnected"
        )
        self.reconnected: AsyncSignal = AsyncSignal(
            ["lost", "downtime"], name="Bridge.reconnected"
        )
        keys = () if secret is None else keys_of(secret)
        self._wire = Wire(uuid.uuid4().hex, max_event_bytes, keys)
        self._shares: dict[str, Share] = {}
        self._outbox = Outbox(max_buffer_bytes, self._wire.finish)
        self._state = State()
        self._running: Run | None = None
        # From the start of __aenter__ to the end of __aexit__: set before
        # entering awaits anything, so that a second entry fails at once.
        self._entered = False
        self._dispatcher = Dispatcher(
            self,
            self._wire,
            self._shares,
            self._public_url,
            SIGNED_MAX_AGE if keys else None,
        )
        _BRIDGES[self] = next(_made)

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
            signal of this bridge, or of this call, has.
        """
        # All checked before any is shared: against the shares, and against
        # the signals listed before it (a name listed twice names one signal).
        new: dict[str, AsyncSignal] = {}
        for signal in signals:
            if not is_new_share(signal, self._shares):
                continue
            name = signal.name
            assert name is not None
            if new.setdefault(name, signal) is not signal:
                raise ValueError(f"share() got two signals named {name!r}")
        for name, signal in new.items():
            share = Share(self, signal, self._outbox, self._wire)
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

        ``Decimal``, ``datetime``, ``date``, ``time``, ``UUID`` and ``Enum``
        members need no registration (built-in codecs); a codec registered
        for one of these types replaces the built-in one. ``decode`` gets
        untrusted data: whatever it raises rejects the event (logged,
        counted in :attr:`rejected`) instead of delivering it.

        :raises ValueError: ``type`` or ``name`` has a codec already.
        """
        if name is None:
            name = f"{type.__module__}:{type.__qualname__}"
        self._wire.add_codec(Codec(name, type, encode, decode))

    def register(self, cls: type[Any], *, name: str | None = None) -> None:
        """Let instances of ``cls``, a dataclass or a pydantic model, cross as
        senders and in payloads, in one line::

            bridge.register(Order)

        A pydantic model (any class with ``model_dump`` and
        ``model_validate``) crosses as ``model_dump(mode="json")`` and is
        rebuilt, and validated, with ``model_validate``. A dataclass crosses
        as its ``__init__`` fields, each a value that can cross (JSON data,
        a value of a built-in codec, an instance of another registered
        type), and is rebuilt by calling ``cls(**fields)``. Every process
        registers it, under the same ``name`` (by default
        ``"module:qualname"``). An instance arrives as a new object: a
        receiver connected for one instance as its sender does not get it,
        receivers connected for any sender do.

        :raises TypeError: ``cls`` is not a class, or neither a dataclass nor
            a pydantic model (use :meth:`register_codec`).
        :raises ValueError: ``cls`` or ``name`` has a codec already.
        """
        encode, decode = class_codec(cls)
        self.register_codec(cls, encode, decode, name=name)

    # -- state ------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether the bridge is connected to the broker now (and delivering:
        never once a receiver's ``KeyboardInterrupt`` stopped it)."""
        return self._state.connected and self._dispatcher.interrupt is None

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
        return self._dispatcher.received

    @property
    def missed(self) -> int:
        """Events of other processes known not to have arrived here (gaps in
        their sequence numbers)."""
        return self._dispatcher.missed

    @property
    def trace_ignored(self) -> int:
        """Events of other processes delivered without the trace context they
        carried, because it was malformed or over its bounds (see
        ``asyncsignal/bridge/_trace.py``); each logged at debug level."""
        return self._dispatcher.trace_ignored

    @property
    def rejected(self) -> int:
        """Incoming messages that were not delivered: over ``max_event_bytes``
        or the other limits of the envelope, not an envelope of this version,
        not validly signed (with ``secret``), a repeat or a replay of an
        event delivered already, an unknown codec, a payload the signal
        refuses. Logged at most every 5 seconds as a warning (each one at
        debug level), with the reason and the message's first bytes."""
        return self._dispatcher.rejected

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
        broker = make_broker(self.url, self.channel, self.timeout, self.max_event_bytes)
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
        self._running = await start_run(
            broker,
            self._wire,
            self._outbox,
            self._state,
            self._dispatcher,
            max_buffer_bytes=self.max_buffer_bytes,
            timeout=self.timeout,
            public_url=self._public_url,
            subscribe=self._subscribe_all,
            unsubscribe=self._unsubscribe_all,
        )
        # Left by __aexit__: it spans the block.
        self._dispatcher.block.__enter__()
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
        if self._dispatcher.block.__exit__(exc_type, exc, tb):
            exc_type = exc = None
        self._state.set_running(False)
        self._unsubscribe_all()
        try:
            if exc_type is None and self.connected:
                with anyio.move_on_after(self.timeout):
                    await self._outbox.wait_idle()
        finally:
            try:
                await running.stop()
            finally:
                self._entered = False
        interrupt = self._dispatcher.interrupt
        if interrupt is not None:
            raise interrupt from exc

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

    def _subscribe_all(self) -> None:
        for share in self._shares.values():
            share.subscribe()

    def _unsubscribe_all(self) -> None:
        for share in self._shares.values():
            share.unsubscribe()
