"""What kind of callable a receiver is: checked once, at ``connect``."""

from __future__ import annotations

import functools
import inspect
from types import FunctionType, MethodType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ("check_receiver", "describe", "is_async_callable")


def describe(receiver: object) -> str:
    """A short, human-readable name for a receiver, for errors and logs."""
    if isinstance(receiver, functools.partial):
        return f"functools.partial({describe(receiver.func)}, ...)"
    name = getattr(receiver, "__qualname__", None)
    if isinstance(name, str):
        module = getattr(receiver, "__module__", None)
        return f"{module}.{name}" if isinstance(module, str) else name
    return repr(receiver)


def is_async_callable(receiver: Callable[..., Any]) -> bool:
    """True if calling ``receiver`` returns a coroutine to await.

    Covers ``async def`` functions and methods, ``functools.partial`` of them,
    objects marked with ``inspect.markcoroutinefunction``, and instances whose
    ``__call__`` is ``async def``.
    """
    while isinstance(receiver, functools.partial):
        receiver = receiver.func
    if inspect.iscoroutinefunction(receiver):
        return True
    if isinstance(receiver, (FunctionType, MethodType, type)):
        return False
    return inspect.iscoroutinefunction(getattr(receiver, "__call__", None))  # noqa: B004


def _accepts_var_keywords(receiver: Callable[..., Any]) -> bool:
    # Plain functions and bound methods answer from their code flags, which
    # costs nothing; everything else goes through inspect.signature.
    func = receiver.__func__ if isinstance(receiver, MethodType) else receiver
    if isinstance(func, FunctionType):
        return bool(func.__code__.co_flags & inspect.CO_VARKEYWORDS)
    try:
        parameters = inspect.signature(receiver).parameters.values()
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"receiver {describe(receiver)} must accept keyword arguments "
            f"(**kwargs), but its signature cannot be inspected: {exc}"
        ) from None
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


def check_receiver(receiver: object) -> bool:
    """Validate a receiver for ``connect`` and return whether it is async.

    :raises TypeError: if ``receiver`` is not callable.
    :raises ValueError: if it cannot accept ``**kwargs``.
    """
    if not callable(receiver):
        raise TypeError(
            f"receiver must be callable, got {type(receiver).__name__} {receiver!r}"
        )
    if not _accepts_var_keywords(receiver):
        raise ValueError(
            f"receiver {describe(receiver)} must accept keyword arguments "
            f"(**kwargs), but its signature is {inspect.signature(receiver)}: "
            "signals call receivers as receiver(signal=..., sender=..., **named)"
        )
    return is_async_callable(receiver)
