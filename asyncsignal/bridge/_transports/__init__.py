"""The brokers a bridge talks to, one module each, behind the protocols of
``base.py``. A broker's module is imported only when a bridge uses it: its
client library is an optional extra."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._urls import PublicUrl

if TYPE_CHECKING:
    from .base import Broker

__all__ = ("SCHEMES", "make_broker")

#: The URL schemes a bridge takes, and the kind of broker (and of extra) each
#: needs.
SCHEMES = {
    "redis": "redis",
    "rediss": "redis",
    "unix": "redis",
    "nats": "nats",
    "tls": "nats",
    "memory": "memory",
}


def make_broker(url: str, channel: str, timeout: float, max_event_bytes: int) -> Broker:
    """The broker of ``url`` (whose scheme is one of :data:`SCHEMES`).

    :raises ImportError: its client library is missing (the message says
        which extra installs it).
    """
    kind = SCHEMES[url.partition("://")[0]]
    try:
        if kind == "redis":
            from .redis import RedisBroker

            return RedisBroker(url, channel, timeout)
        if kind == "nats":
            from .nats import NatsBroker

            return NatsBroker(url, channel, timeout, max_event_bytes)
    except ImportError as error:
        client = "redis-py" if kind == "redis" else "nats-py"
        raise ImportError(
            f"Bridge({PublicUrl(url).text!r}) needs {client}; install it with "
            f"pip install 'asyncsignal[{kind}]'"
        ) from error
    from .memory import MemoryBroker

    return MemoryBroker(url)
