"""Publishing raw bytes on a bridge's channel with the plain clients, as a
misbehaving or foreign process would. Blocking: call it in a worker thread
(``anyio.to_thread.run_sync``), which works under every test backend."""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import TYPE_CHECKING, Any

import nats
import redis.asyncio

if TYPE_CHECKING:
    from bridge_support.servers import Server


def origin_id(name: str) -> str:
    """The origin (32 hex digits) a raw test message from ``name`` carries."""
    return hashlib.md5(name.encode()).hexdigest()


def envelope(origin: str, number: int, /, **fields: Any) -> bytes:
    """A well-formed envelope of ``order_placed`` from :func:`origin_id`
    ``(origin)``, whose payload names ``origin`` (``seq`` and ``n`` are
    ``number``); ``fields`` override."""
    data: dict[str, Any] = {
        "v": 1,
        "origin": origin_id(origin),
        "signal": "order_placed",
        "sender": None,
        "kwargs": {"origin": origin, "n": number},
        "seq": number,
    }
    data.update(fields)
    return json.dumps(data).encode()


def publish_raw(
    server: Server, messages: list[bytes], channel: str = "asyncsignal"
) -> None:
    asyncio.run(_publish(server, messages, channel))


async def _publish(server: Server, messages: list[bytes], channel: str) -> None:
    if server.kind == "redis":
        client = redis.asyncio.Redis.from_url(server.url)
        try:
            pipeline = client.pipeline(transaction=False)
            for message in messages:
                pipeline.publish(channel, message)
            await pipeline.execute()
        finally:
            await client.aclose()
        return
    connection = await nats.connect(server.url)
    try:
        for message in messages:
            await connection.publish(channel, message)
        await connection.flush()
    finally:
        await connection.close()
