"""Sync or async: decided once, at connect, for every kind of callable.

An async receiver is awaited by send without an event loop, makes send refuse
inside one and gets its own task in asend; a sync receiver is simply called.
"""

from __future__ import annotations

import functools
import inspect
import sys
from typing import TYPE_CHECKING, Any

import pytest
from receivers import Target, async_function, sync_function

from asyncsignal import AsyncSignal

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine


class CallableObject:
    def __call__(self, **kwargs: Any) -> str:
        return "callable object"


class AsyncCallableObject:
    async def __call__(self, **kwargs: Any) -> str:
        return "async callable object"


class ConstructedReceiver:
    """A class used as a receiver: calling it builds an instance."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs


def sync_function_with_arg(*, suffix: str, **kwargs: Any) -> str:
    return f"sync partial {suffix}"


async def async_function_with_arg(*, suffix: str, **kwargs: Any) -> str:
    return f"async partial {suffix}"


# (factory, expected response); the factory's result is kept alive by the test.
ASYNC_RECEIVERS = [
    pytest.param(lambda: async_function, "async function", id="async-def"),
    pytest.param(lambda: Target("t").amethod, "t.amethod", id="async-method"),
    pytest.param(lambda: Target.aclassmethod, "aclassmethod", id="async-classmethod"),
    pytest.param(
        lambda: functools.partial(async_function_with_arg, suffix="x"),
        "async partial x",
        id="partial-of-async",
    ),
    pytest.param(
        lambda: functools.partial(
            functools.partial(async_function_with_arg, suffix="y")
        ),
        "async partial y",
        id="nested-partial-of-async",
    ),
    pytest.param(
        lambda: AsyncCallableObject(),
        "async callable object",
        id="async-dunder-call",
    ),
]
if sys.version_info >= (3, 12):  # inspect.markcoroutinefunction is new in 3.12

    async def _coroutine(value: str) -> str:
        return value

    def _marked_function() -> Callable[..., Any]:
        def marked(**kwargs: Any) -> Coroutine[Any, Any, str]:
            return _coroutine("marked function")

        return inspect.markcoroutinefunction(marked)

    class MarkedCallable:
        def __call__(self, **kwargs: Any) -> Coroutine[Any, Any, str]:
            return _coroutine("marked object")

    def _marked_object() -> Callable[..., Any]:
        return inspect.markcoroutinefunction(MarkedCallable())

    ASYNC_RECEIVERS += [
        pytest.param(
            _marked_function,
            "marked function",
            id="markcoroutinefunction-function",
        ),
        pytest.param(
            _marked_object, "marked object", id="markcoroutinefunction-object"
        ),
    ]

SYNC_RECEIVERS = [
    pytest.param(lambda: sync_function, "sync function", id="function"),
    pytest.param(lambda: Target("t").method, "t.method", id="bound-method"),
    pytest.param(lambda: CallableObject(), "callable object", id="callable-object"),
    pytest.param(
        lambda: functools.partial(sync_function_with_arg, suffix="z"),
        "sync partial z",
        id="partial-of-sync",
    ),
]


@pytest.mark.parametrize(("make", "expected"), ASYNC_RECEIVERS)
def test_async_receiver_is_awaited_by_send_without_event_loop(
    make: Callable[[], Callable[..., Any]], expected: str
) -> None:
    signal = AsyncSignal()
    handler = signal.connect(make(), weak=False)
    assert signal.send(None) == [(handler, expected)]


@pytest.mark.parametrize(("make", "expected"), ASYNC_RECEIVERS)
async def test_async_receiver_is_recognised_so_send_in_event_loop_refuses(
    make: Callable[[], Callable[..., Any]], expected: str
) -> None:
    signal = AsyncSignal()
    handler = signal.connect(make(), weak=False)
    with pytest.raises(RuntimeError, match="asend"):
        signal.send(None)
    assert await signal.asend(None) == [(handler, expected)]


@pytest.mark.parametrize(("make", "expected"), SYNC_RECEIVERS)
async def test_sync_receiver_is_recognised_so_send_in_event_loop_calls_it(
    make: Callable[[], Callable[..., Any]], expected: str
) -> None:
    signal = AsyncSignal()
    handler = signal.connect(make(), weak=False)
    assert signal.send(None) == [(handler, expected)]
    assert await signal.asend(None) == [(handler, expected)]


async def test_lambda_and_class_receivers_are_sync() -> None:
    signal = AsyncSignal()
    handler = signal.connect(lambda **kwargs: "lambda", weak=False)
    signal.connect(ConstructedReceiver)
    (first, second) = signal.send(None, x=1)
    assert first == (handler, "lambda")
    assert second[0] is ConstructedReceiver
    assert isinstance(second[1], ConstructedReceiver)
    assert second[1].kwargs == {"signal": signal, "sender": None, "x": 1}
