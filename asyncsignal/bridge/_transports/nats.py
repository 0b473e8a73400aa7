"""NATS core pub/sub through nats-py.

The connection is made with ``no_echo`` (the server does not send a process
its own messages) and without nats-py's own reconnection: nats-py would buffer
publishes during an outage and replay them, unbounded by our buffer and unseen
by our counters. A lost connection ends the session instead, and the bridge's
session loop reconnects and resubscribes with its backoff.

Incoming messages go from the parser (``nats_parser.py``) straight to the
bridge's inbox (:class:`_Client`), which bounds them itself; nats-py's
per-subscription queue, and its slow-consumer limits, are not used. Outgoing
ones are added to nats-py's pending writes a batch at a time
(:meth:`_NatsSession.publish`).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

import nats
import nats.aio.client
import nats.errors

from .base import uninterrupted
from .nats_parser import MessageParser, parses_messages

if TYPE_CHECKING:
    from collections.abc import Callable


__all__ = ("NatsBroker",)


class NatsBroker:
    __slots__ = ("_max_bytes", "_subject", "_timeout", "_url")

    def __init__(self, url: str, subject: str, timeout: float, max_bytes: int) -> None:
        self._url = url
        self._subject = subject
        self._timeout = timeout
        self._max_bytes = max_bytes

    async def connect(self, deliver: Callable[[list[bytes]], bool]) -> _NatsSession:
        closed = asyncio.Event()
        errors: list[Exception] = []

        async def on_closed() -> None:
            closed.set()

        async def on_error(error: Exception) -> None:
            errors[:] = [error]  # the last one says why the connection closed

        client = _Client(deliver)
        try:
            await client.connect(
                servers=[self._url],
                allow_reconnect=False,
                connect_timeout=self._timeout,  # type: ignore[arg-type]
                flush_timeout=self._timeout,
                no_echo=True,
                # The Bridge checked the subject once (no spaces, no wildcards):
                # nats-py would match a regular expression on every publish.
                skip_subject_validation=True,
                name="asyncsignal",
                closed_cb=on_closed,
                error_cb=on_error,
                # One attempt at once: our session loop does the retrying.
                max_reconnect_attempts=1,
                reconnect_time_wait=0,
            )
        except BaseException as error:
            # A failed first connection leaves its socket open (nats-py 2.x).
            with contextlib.suppress(Exception):
                await uninterrupted(client.close())
            if isinstance(error, nats.errors.NoServersError) and errors:
                # Why the one server failed (a refusal, a timeout...).
                raise errors[-1] from error
            raise
        _end_session_when_a_client_task_fails(client, closed, errors)
        session = _NatsSession(client, self._subject, closed, errors)
        try:
            if client.max_payload < self._max_bytes:
                raise ValueError(
                    f"the NATS server accepts messages of up to "
                    f"{client.max_payload:,} bytes (its max_payload), less "
                    f"than the bridge's max_event_bytes={self._max_bytes:,}: "
                    "lower max_event_bytes or raise max_payload"
                )
            await session.subscribe(self._timeout)
        except BaseException:
            await uninterrupted(session.aclose())
            raise
        return session


def _end_session_when_a_client_task_fails(
    client: nats.aio.client.Client, closed: asyncio.Event, errors: list[Exception]
) -> None:
    """Make an error that escapes one of nats-py's own tasks end the session.

    When the connection is lost, nats-py (2.x) closes the client from its
    reader task, and an error raised while it flushes to the dead socket
    escapes that task; nothing of nats-py awaits it, so asyncio would report
    it as never retrieved, and the closed callback never comes. Retrieving it
    here makes it the reason the session ended (the bridge reconnects).
    """

    def retrieve(task: asyncio.Task[object]) -> None:
        if task.cancelled():
            return
        error = task.exception()
        if isinstance(error, Exception):
            errors[:] = [error]
            closed.set()

    for name in ("_reading_task", "_flusher_task", "_ping_interval_task"):
        task = getattr(client, name)
        assert isinstance(task, asyncio.Task), (name, task)  # nats-py's internals
        task.add_done_callback(retrieve)


class _Client(nats.aio.client.Client):
    """nats-py's client, handing each incoming message's payload straight to
    the bridge (``deliver``), as its parser reads it: :class:`MessageParser`,
    or nats-py's own parser calling :meth:`_process_msg` (the frames it
    leaves to nats-py, or all of them on a nats-py without the internals it
    needs).

    nats-py would build a ``Msg`` per message, queue it, and call a callback
    from the subscription's own task: about a sixth of a receiving process's
    CPU per event, measured here. The session holds one subscription and sends
    no requests, so every message is the bridge's.
    """

    def __init__(self, deliver: Callable[[list[bytes]], bool]) -> None:
        super().__init__()
        self.deliver = deliver
        if parses_messages(self):
            self._ps = MessageParser(self, deliver)

    async def _process_msg(
        self, sid: int, subject: bytes, reply: bytes, data: bytes, headers: bytes
    ) -> None:
        if self.deliver([data]):
            await asyncio.sleep(0)  # the dispatcher first


#: nats-py 2.x's pending writes, which :meth:`_NatsSession.publish` adds a
#: batch to at once; a client without them publishes each message through
#: its public ``publish()`` (tests/bridge/test_brokers.py notices the change).
BATCH_INTERNALS = ("_send_command", "_flush_pending", "_flush_queue")


def batches_writes(client: nats.aio.client.Client) -> bool:
    """Whether ``client`` has :data:`BATCH_INTERNALS`."""
    return all(hasattr(client, name) for name in BATCH_INTERNALS)


class _NatsSession:
    __slots__ = (
        "_batches",
        "_client",
        "_closed",
        "_errors",
        "_head",
        "_subject",
        "_timeout",
    )

    def __init__(
        self,
        client: _Client,
        subject: str,
        closed: asyncio.Event,
        errors: list[Exception],
    ) -> None:
        self._client = client
        self._subject = subject
        #: How each PUB command of the subject begins (no reply subject).
        self._head = f"PUB {subject} ".encode()
        self._batches = batches_writes(client)
        self._closed = closed
        self._errors = errors
        self._timeout = 0.0

    async def subscribe(self, timeout: float) -> None:
        self._timeout = timeout
        client = self._client
        # No callback: the client hands the messages to `deliver` itself.
        await client.subscribe(self._subject)
        # A PING/PONG round trip then confirms the server has the subscription,
        # but only once the SUB is on the wire: nats-py queues it for its
        # flusher task, while flush() writes its PING at once. A PONG that
        # overtook the SUB let other processes' next events miss this one.
        # nats-py has no event for "written" (its _flush_pending(force_flush=
        # True) would be one, but it swallows a cancellation), and the flusher
        # runs within a loop iteration or two.
        while client._pending:  # noqa: ASYNC110
            await asyncio.sleep(0)
        await client.flush(timeout)  # type: ignore[arg-type]

    async def publish(self, batch: list[bytes]) -> None:
        # What nats-py's publish() does for each message (a PUB command added
        # to its pending writes, its flusher task kicked if idle), once per
        # batch: its four coroutines per message took about a fifth of the
        # publishing process's CPU per event in bursts, measured here. The
        # bridge checked the subject, and every message's size against the
        # server's max_payload, when it connected.
        client = self._client
        if not self._batches:
            for data in batch:
                await client.publish(self._subject, data)
            return
        if not client.is_connected:
            raise nats.errors.ConnectionClosedError
        head = self._head
        await client._send_command(
            b"".join([b"%s%d\r\n%s\r\n" % (head, len(data), data) for data in batch])
        )
        queue = client._flush_queue
        assert queue is not None  # made by connect()
        if queue.empty():
            await client._flush_pending()

    async def receive(self) -> None:
        await self._closed.wait()
        reason = f": {self._errors[-1]!r}" if self._errors else ""
        raise ConnectionError(f"the NATS connection closed{reason}")

    async def ping(self) -> None:
        await self._client.flush(self._timeout)  # type: ignore[arg-type]

    async def aclose(self) -> None:
        await self._client.close()
