"""Delivering incoming events: the bridge's :class:`Dispatcher` takes what the
broker sent from the inbox, checks it (envelope, origin, sender), runs the
receivers, and logs and counts what it rejects. A receiver's
``KeyboardInterrupt`` or ``SystemExit`` stops delivery and cancels the
``async with bridge:`` block, as it would leave a local ``asend``."""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

import anyio
import anyio.lowlevel

from .._observers import OBSERVERS, incoming
from .._seam import asend_robust_offering
from ._buffers import DropWarning
from ._origins import Origins
from ._reject import Reject
from ._senders import resolve_sender
from ._session import Down
from ._share import delivering

if sys.version_info < (3, 11):  # pragma: no cover - covered by the Python 3.10 run
    from exceptiongroup import BaseExceptionGroup

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ._bridge import Bridge
    from ._buffers import Inbox
    from ._envelope import Wire
    from ._session import Up
    from ._share import Share
    from ._urls import PublicUrl

__all__ = ("Dispatcher",)

logger = logging.getLogger("asyncsignal.bridge")

#: How much of a rejected message's reason and bytes a log line shows.
_REASON_SHOWN, _BYTES_SHOWN = 300, 100


class Dispatcher:
    """Delivers a bridge's incoming events and connection changes (its
    dispatcher task only). Made once per bridge: its counts and its table of
    origins span the bridge's runs."""

    __slots__ = (
        "_bridge",
        "_origins",
        "_rejections",
        "_shares",
        "_url",
        "_wire",
        "block",
        "interrupt",
        "received",
        "rejected",
        "trace_ignored",
    )

    def __init__(
        self,
        bridge: Bridge,
        wire: Wire,
        shares: Mapping[str, Share],
        url: PublicUrl,
        max_age: float | None,
    ) -> None:
        self._bridge = bridge
        self._wire = wire
        self._shares = shares
        self._url = url
        self._origins = Origins(max_age)
        #: Events delivered, messages rejected, and events delivered without
        #: the trace context they carried (see _trace.py).
        self.received = self.rejected = self.trace_ignored = 0
        self._rejections = DropWarning(
            "bridge %(url)s rejected %(count)d incoming message(s); the last "
            "because %(reason)s; it began %(head)r"
        )
        #: The scope of the ``async with`` block (a new one each run, made
        #: before the dispatcher starts: a scope needs a running backend),
        #: cancelled when a receiver of an incoming event raises
        #: KeyboardInterrupt or SystemExit, which is kept in ``interrupt``.
        self.block: anyio.CancelScope
        self.interrupt: BaseException | None = None

    @property
    def missed(self) -> int:
        """Events of other processes known not to have arrived here."""
        return self._origins.missed

    def new_block(self) -> None:
        """Make the scope of the next run's block (see :attr:`block`)."""
        self.block, self.interrupt = anyio.CancelScope(), None

    async def run(self, inbox: Inbox) -> None:
        """Deliver incoming events and connection changes, in order, until
        cancelled; nothing that arrives or that a receiver raises ends it,
        but ``KeyboardInterrupt`` and ``SystemExit``: they end the block."""
        cancelled = anyio.get_cancelled_exc_class()
        while True:
            batch = await inbox.take()
            # Incoming events' receivers run with `delivering` set (their
            # sends stay local), connection changes' without: set once a batch.
            token = delivering.set(self._bridge)
            try:
                for item in batch:
                    try:
                        # Not a method: a coroutine less per incoming event.
                        if isinstance(item, bytes):
                            await self._deliver(item)
                        else:
                            await self._change(item)
                    except cancelled:
                        raise  # the bridge is stopping
                    except BaseException as error:
                        if not _interrupts(error):
                            # asend_robust logged an Exception; this is another
                            # BaseException (GeneratorExit, a custom one).
                            logger.error(
                                "bridge %s: a receiver of an incoming event "
                                "raised %s; delivery goes on",
                                self._url,
                                type(error).__name__,
                                exc_info=error,
                            )
                            continue
                        # As it would leave a local asend: out of the block.
                        self.interrupt = error
                        self.block.cancel()  # nothing if the block has ended
                        return
            finally:
                delivering.reset(token)
            # Receivers that never suspend must not starve the event loop; and
            # meanwhile the broker's reader fills the next batch.
            await anyio.lowlevel.checkpoint()

    async def _change(self, change: Down | Up) -> None:
        """Send the ``disconnected`` or ``reconnected`` signal, whose
        receivers' sends publish (``delivering`` unset)."""
        token = delivering.set(None)
        try:
            if isinstance(change, Down):
                await self._bridge.disconnected.asend_robust(
                    self._bridge, error=change.error
                )
            else:
                await self._bridge.reconnected.asend_robust(
                    self._bridge, lost=change.lost, downtime=change.downtime
                )
        finally:
            delivering.reset(token)

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
        self.received += 1
        if envelope.trace_ignored is not None:
            self.trace_ignored += 1
            logger.debug(
                "bridge %s ignored the trace of %r: %s",
                self._url,
                data[:_BYTES_SHOWN],
                envelope.trace_ignored,
            )
        try:
            if envelope.trace is not None and OBSERVERS:
                with incoming(signal, envelope.trace):
                    await asend_robust_offering(
                        signal, sender, envelope.kwargs, share.others()
                    )
            else:
                await asend_robust_offering(
                    signal, sender, envelope.kwargs, share.others()
                )
        except Exception as error:
            # Receivers' errors are logged by asend_robust; this is the send
            # itself refusing the payload (a typed signal's check).
            self._reject(error, data)

    def _reject(self, error: Exception, data: bytes) -> None:
        self.rejected += 1
        url, head = self._url, data[:_BYTES_SHOWN]
        reason = str(error)
        if len(reason) > _REASON_SHOWN:
            reason = reason[: _REASON_SHOWN - 3] + "..."
        logger.debug("bridge %s rejected %r: %s", url, head, reason)
        self._rejections.add(1, url=url, reason=reason, head=head)


def _interrupts(error: BaseException) -> bool:
    """Whether ``error`` is (or a group holds) a ``KeyboardInterrupt`` or a
    ``SystemExit``."""
    if isinstance(error, BaseExceptionGroup):
        return any(map(_interrupts, error.exceptions))
    return isinstance(error, (KeyboardInterrupt, SystemExit))
