"""Redis and Valkey pub/sub through redis-py's asyncio client (``redis.asyncio``).

Each session holds two connections: one subscribed to the bridge's channel,
one publishing (the heartbeat's pings go there too). redis-py's own retries
are switched off: a failed command ends the session, and the bridge's session
loop reconnects (and resubscribes) with its backoff, so that every outage is
seen, counted and announced.

The publishing connection is the session's own, made by the client's pool but
never returned to it, and driven through redis-py's connection interface
(``send_packed_command``, ``read_response``), not through the pool, its lock
and the retry wrapper of the client's commands: that path is the latency of
every event (the client's ``publish()`` took about 30 µs more of CPU per call,
measured here with redis-py 8.1).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import redis.asyncio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from .base import uninterrupted

if TYPE_CHECKING:
    from collections.abc import Callable

    from redis.asyncio.client import PubSub
    from redis.asyncio.connection import AbstractConnection

__all__ = ("RedisBroker",)


class RedisBroker:
    __slots__ = ("_channel", "_timeout", "_url")

    def __init__(self, url: str, channel: str, timeout: float) -> None:
        self._url = url
        self._channel = channel.encode()
        self._timeout = timeout

    async def connect(self, deliver: Callable[[list[bytes]], bool]) -> _RedisSession:
        client: redis.asyncio.Redis = redis.asyncio.Redis.from_url(
            self._url,
            retry=Retry(NoBackoff(), 0),
            socket_timeout=self._timeout,
            socket_connect_timeout=self._timeout,
            # RESP2 (redis-py 8 speaks RESP3 by default): its parser takes
            # about 4 us less of CPU per incoming message; pub/sub needs
            # nothing of RESP3. A URL's ?protocol= still wins.
            protocol=2,
        )
        session = _RedisSession(client, self._channel, deliver)
        try:
            await session.subscribe()
        except BaseException:
            await uninterrupted(session.aclose())
            raise
        return session


class _RedisSession:
    __slots__ = (
        "_channel",
        "_client",
        "_deliver",
        "_publish_head",
        "_publisher",
        "_publishing",
        "_pubsub",
    )

    def __init__(
        self,
        client: redis.asyncio.Redis,
        channel: bytes,
        deliver: Callable[[list[bytes]], bool],
    ) -> None:
        self._client = client
        self._channel = channel
        #: RESP's PUBLISH <channel>, up to the message (an array of 3 bulk strings).
        self._publish_head = b"*3\r\n$7\r\nPUBLISH\r\n$%d\r\n%s\r\n" % (
            len(channel),
            channel,
        )
        self._deliver = deliver
        self._pubsub: PubSub = client.pubsub()
        pool = client.connection_pool
        self._publisher: AbstractConnection = pool.make_connection()  # type: ignore[no-untyped-call]
        #: Held for a command and its replies on the publishing connection:
        #: the publisher's and the heartbeat's tasks share it.
        self._publishing = asyncio.Lock()

    async def subscribe(self) -> None:
        await self._pubsub.subscribe(self._channel)
        # Read the confirmation (the first reply to SUBSCRIBE): from then on,
        # nothing published to the channel is missed.
        await self._pubsub.get_message(timeout=None)
        # And open the publishing connection now, not at the first send.
        await self._publisher.connect()  # type: ignore[no-untyped-call]
        await self.ping()

    async def publish(self, batch: list[bytes]) -> None:
        # A batch takes one write and one round trip (not a transaction). The
        # commands are packed here: RESP's bulk strings are length-prefixed,
        # so a message needs no escaping, and redis-py's pack_command() took
        # 1.9 us per message of the publisher's CPU, against 0.2 us.
        head = self._publish_head
        await self._round_trip(
            [b"%s$%d\r\n%s\r\n" % (head, len(data), data) for data in batch],
            len(batch),
        )

    async def _round_trip(self, command: list[bytes], replies: int) -> None:
        publisher = self._publisher
        async with self._publishing:
            # No health check: the heartbeat checks the broker.
            await publisher.send_packed_command(command, False)
            for _ in range(replies):
                # Raises an error reply; a broken connection raises
                # ConnectionError (redis-py's) and ends the session.
                await publisher.read_response()

    async def receive(self) -> None:
        deliver, read = self._deliver, self._pubsub.parse_response
        while True:
            # Blocking, on a connection subscribed to one channel: the only
            # replies are its messages, [b"message", channel, data], which
            # get_message() would turn into a dict (2 us more per message).
            response: Any = await read(block=True)
            if response[0] == b"message" and deliver([response[2]]):
                await asyncio.sleep(0)  # the dispatcher first

    async def ping(self) -> None:
        await self._round_trip(self._publisher.pack_command("PING"), 1)

    async def aclose(self) -> None:
        try:
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]
        finally:
            try:
                await self._publisher.disconnect()
            finally:
                await self._client.aclose()
