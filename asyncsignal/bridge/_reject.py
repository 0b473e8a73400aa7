"""Why an incoming message is not delivered: :class:`Reject`, whose message
says so in a phrase ("it is not JSON"), showing at most a few characters of
what arrived (:func:`short_repr`)."""

from __future__ import annotations

from .._callables import describe

__all__ = ("Reject", "short_repr", "shorten")


class Reject(ValueError):
    """An incoming message that cannot be delivered (logged by the bridge)."""


def short_repr(value: object) -> str:
    return shorten(repr(value) if not callable(value) else describe(value))


def shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
