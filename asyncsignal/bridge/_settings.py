"""The checks of ``Bridge(...)``'s arguments, with the errors a caller sees."""

from __future__ import annotations

import math

from ._transports import SCHEMES
from ._urls import PublicUrl

__all__ = ("check_channel", "check_size", "check_timeout", "check_url")


def check_url(url: object) -> None:
    if not isinstance(url, str):
        raise TypeError(f"url must be a str, got {type(url).__name__} {url!r}")
    scheme = url.partition("://")[0] if "://" in url else ""
    if scheme not in SCHEMES:
        raise ValueError(
            "Bridge URL must start with one of "
            f"{', '.join(s + '://' for s in SCHEMES)}, got {PublicUrl(url).text!r}"
        )


def check_channel(channel: object) -> None:
    if (
        not isinstance(channel, str)
        or not channel
        or any(c.isspace() or c in "*>" for c in channel)
    ):
        raise ValueError(
            "channel must be a non-empty str without spaces, '*' or '>', "
            f"got {channel!r}"
        )


def check_size(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum:,}, got {value:,}")


def check_timeout(timeout: object) -> None:
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not (timeout > 0 and math.isfinite(timeout))
    ):
        raise ValueError(
            f"timeout must be a positive number of seconds, got {timeout!r}"
        )
