"""``WeakReceiverWarning``: a ``lambda`` or ``functools.partial`` connected
weakly would be collected at once; the warning points at the caller's line.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from typing import TYPE_CHECKING, Any

import pytest

from asyncsignal import AsyncSignal, WeakReceiverWarning, receiver

if TYPE_CHECKING:
    from collections.abc import Callable


# -- WeakReceiverWarning ------------------------------------------------------


def _decorated(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(**kwargs: Any) -> Any:
        return func(**kwargs)

    return wrapper


class _Holder:
    def method(self, **kwargs: Any) -> None:
        pass


def _plain(**kwargs: Any) -> None:
    pass


def this_line() -> int:
    """The line number of the caller's current line."""
    frame = inspect.currentframe()
    assert frame is not None
    assert frame.f_back is not None
    return frame.f_back.f_lineno


def test_weak_receiver_warning_is_a_user_warning() -> None:
    assert issubclass(WeakReceiverWarning, UserWarning)


@pytest.mark.parametrize("kind", ["lambda", "partial", "partial-of-async"])
def test_connecting_a_lambda_or_partial_weakly_warns_at_the_callers_line(
    kind: str,
) -> None:
    signal = AsyncSignal()

    async def coroutine(value: int, **kwargs: Any) -> None:
        pass

    target: Callable[..., Any]
    if kind == "lambda":
        target = lambda **kwargs: None  # noqa: E731
    elif kind == "partial":
        target = functools.partial(lambda value, **kwargs: None, 1)
    else:
        target = functools.partial(coroutine, 1)

    line = this_line() + 2
    with pytest.warns(WeakReceiverWarning, match="weak") as record:
        signal.connect(target)

    (warning,) = record
    assert warning.filename == __file__
    assert warning.lineno == line


def test_receiver_decorator_with_a_partial_warns_at_the_callers_line() -> None:
    signal = AsyncSignal()
    target = functools.partial(_plain)

    with pytest.warns(WeakReceiverWarning) as record:
        receiver(signal)(target)

    (warning,) = record
    assert warning.filename == __file__


@pytest.mark.parametrize(
    "kind",
    [
        "function",
        "decorated",
        "bound-method",
        "lambda-strong",
        "partial-strong",
        "decorator",
        "decorator-with-policies",
    ],
)
def test_no_weak_receiver_warning_for_receivers_that_live_on(kind: str) -> None:
    signal = AsyncSignal()
    holder = _Holder()
    decorated = _decorated(_plain)

    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        if kind == "function":
            signal.connect(_plain)
        elif kind == "decorated":
            signal.connect(decorated)
        elif kind == "bound-method":
            signal.connect(holder.method)
        elif kind == "lambda-strong":
            signal.connect(lambda **kwargs: None, weak=False)
        elif kind == "partial-strong":
            signal.connect(functools.partial(_plain), weak=False)
        elif kind == "decorator":

            @receiver(signal)
            def handler(**kwargs: Any) -> None:
                pass

        else:

            @receiver(signal, thread=True, once=True)
            def handler(**kwargs: Any) -> None:
                pass

    assert record == []
    assert len(signal.receivers) == 1
