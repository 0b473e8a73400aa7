"""Redis and Valkey pub/sub through redis-py's asyncio client (``redis.asyncio``).

Each session holds two connections: one subscribed to the bridge's channel,
one publishing. redis-py's own retries are switched off: a failed command ends
the session, and the bridge's session loop reconnects (and resubscribes) with
its backoff, so that every outage is seen, counted and announced.
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

__all__ = ("RedisBroker",)


class RedisBroker:
    __slots__ = ("_channel", "_timeout", "_url")

    def __init__(self, url: str, channel: str, timeout: float) -> None:
        self._url = url
        self._channel = channel.encode()
        self._timeout = timeout

    async def connect(self, deliver: Callable[[bytes], bool]) -> _RedisSession:
        client: redis.asyncio.Redis = redis.asyncio.Redis.from_url(
            self._url,
            retry=Retry(NoBackoff(), 0),
            socket_timeout=self._timeout,
            socket_connect_timeout=self._timeout,
        )
        session = _RedisSession(client, self._channel, deliver)
        try:
            await session.subscribe()
        except BaseException:
            await uninterrupted(session.aclose())
            raise
        return session


class _RedisSession:
    __slots__ = ("_channel", "_client", "_deliver", "_pubsub")

    def __init__(
        self,
        client: redis.asyncio.Redis,
        channel: bytes,
        deliver: Callable[[bytes], bool],
    ) -> None:
        self._client = client
        self._channel = channel
        self._deliver = deliver
        self._pubsub: PubSub = client.pubsub()

    async def subscribe(self) -> None:
        await self._pubsub.subscribe(self._channel)
        # Read the confirmation (the first reply to SUBSCRIBE): from then on,
        # nothing published to the channel is missed.
        await self._pubsub.get_message(timeout=None)
        # And open the publishing connection now, not at the first send.
        await self._client.ping()

    async def publish(self, batch: list[bytes]) -> None:
        channel = self._channel
        if len(batch) == 1:
            await self._client.publish(channel, batch[0])
            return
        # One round trip for the batch (not a transaction).
        pipeline = self._client.pipeline(transaction=False)
        for data in batch:
            pipeline.publish(channel, data)
        await pipeline.execute()

    async def receive(self) -> None:
        deliver, get_message = self._deliver, self._pubsub.get_message
        while True:
            # Blocking, on a connection subscribed to one channel: the only
            # replies are its messages.
            message: Any = await get_message(timeout=None)
            if deliver(message["data"]):
                await asyncio.sleep(0)  # the dispatcher first

    async def ping(self) -> None:
        await self._client.ping()

    async def aclose(self) -> None:
        try:
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]
        finally:
            await self._client.aclose()
