"""``memory://``: a broker inside this process, for tests.

Every bridge entered with the same ``memory://name`` URL in this process
(any thread, any event loop) receives what the others publish, encoded and
decoded exactly as over a real broker. Nothing leaves the process and nothing
ever fails, so it does not exercise reconnection.
"""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ("MemoryBroker",)

#: URL -> the sessions connected to it; replaced, never mutated, under _LOCK.
_HUBS: dict[str, tuple[_MemorySession, ...]] = {}
_LOCK = threading.Lock()


class MemoryBroker:
    __slots__ = ("_url",)

    def __init__(self, url: str) -> None:
        self._url = url

    async def connect(self, deliver: Callable[[list[bytes]], bool]) -> _MemorySession:
        session = _MemorySession(self._url, deliver)
        with _LOCK:
            _HUBS[self._url] = (*_HUBS.get(self._url, ()), session)
        return session


class _MemorySession:
    __slots__ = ("_url", "deliver")

    def __init__(self, url: str, deliver: Callable[[list[bytes]], bool]) -> None:
        self._url = url
        self.deliver = deliver

    async def publish(self, batch: list[bytes]) -> None:
        for peer in _HUBS.get(self._url, ()):
            if peer is not self:
                peer.deliver(batch)

    async def receive(self) -> None:
        # Messages arrive through ``deliver``, called by the publishing peer;
        # this connection never fails.
        await asyncio.get_running_loop().create_future()

    async def ping(self) -> None:
        pass

    async def aclose(self) -> None:
        with _LOCK:
            peers = tuple(s for s in _HUBS.get(self._url, ()) if s is not self)
            if peers:
                _HUBS[self._url] = peers
            else:
                _HUBS.pop(self._url, None)
