"""Drop-in for ``django.dispatch``: ``from asyncsignal.django import Signal, receiver``.

Needs Django (``pip install 'asyncsignal[django]'``). :class:`Signal` is an
:class:`~asyncsignal.AsyncSignal` whose sync receivers behave under ``asend``
as Django's do: they run through asgiref's
``sync_to_async(thread_sensitive=True)``, so per-thread state such as the
ORM's database connections is what it is with ``django.dispatch.Signal``.
Async receivers run concurrently; ``send`` from sync code calls sync receivers
in the caller's thread, then runs the async ones through asgiref's
``async_to_sync``, as Django does, so their thread-sensitive calls (the async
ORM) come back to the sending thread: inside ``transaction.atomic()`` they see
its connection, and a sync view under an ASGI server does not deadlock.
``asend`` needs asyncio (asgiref runs only there).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

try:
    import django  # noqa: F401  (the dependency this module is for)
    from asgiref.sync import async_to_sync, sync_to_async
except ImportError as _missing:  # pragma: no cover - tested in a venv without Django
    raise ImportError(
        "asyncsignal.django needs Django; install it with "
        "pip install 'asyncsignal[django]'"
    ) from _missing

from ._backends import asyncio_running
from ._signal import AsyncSignal, receiver

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Iterable

T = TypeVar("T")

__all__ = ("Signal", "receiver")


class Signal(AsyncSignal):
    """``django.dispatch.Signal`` with asyncsignal's dispatch.

    Sync receivers default to ``thread=True``: under ``asend`` each runs through
    ``sync_to_async(thread_sensitive=True)`` (Django's own ``asend`` runs them
    all in one such call). ``connect(..., thread=False)`` keeps one inline.
    """

    __slots__ = ()

    def __init__(
        self,
        providing_args: Iterable[str] | None = None,
        use_caching: bool = False,
        *,
        name: str | None = None,
        thread: bool = True,
        timeout: float | None = None,
    ) -> None:
        super().__init__(
            providing_args, use_caching, name=name, thread=thread, timeout=timeout
        )

    async def _run_in_thread(self, call: Callable[[], Any]) -> Any:
        if not asyncio_running():
            raise RuntimeError(
                "asyncsignal.django.Signal.asend() runs sync receivers through "
                "asgiref's sync_to_async, which needs asyncio; on trio use "
                "asyncsignal.Signal(thread=True)"
            )
        return await sync_to_async(call, thread_sensitive=True)()

    def _run_from_sync(
        self, func: Callable[..., Coroutine[Any, Any, T]], *args: Any
    ) -> T:
        return async_to_sync(func)(*args)
