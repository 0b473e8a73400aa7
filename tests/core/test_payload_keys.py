"""Payload keyword names: every ``str`` that ``django.dispatch.Signal`` passes on
reaches receivers unchanged through every send method.

``send`` calls plain sync receivers through code generated for each set of
payload keys; Python's parser NFKC-normalises identifiers ("\u210c" becomes "H"),
rejects keywords and ``__debug__``, so only keys that survive it unchanged may
take that path. These tests compare every method with Django's ``send`` on
arbitrary keys, and pin the keys that once broke the generated path.
"""

from __future__ import annotations

import functools
from typing import Any

import anyio
import django.dispatch
import pytest
from hypothesis import given
from hypothesis import strategies as st
from receivers import METHODS, send_by

import asyncsignal
from asyncsignal import AsyncSignal

#: Keys that are not plain, NFKC-stable identifiers, and their look-alikes.
TRICKY_KEYS = (
    "a-b",
    "",
    "1x",
    "class",
    "None",
    "__debug__",
    "match",
    "\u210c",
    "H",
    "\ufb01",
    "fi",
    "x\u0301",
    "_asyncsignal_r",
    "_asyncsignal_signal",
)

#: Pairs that NFKC-normalise to the same identifier.
COLLIDING = ({"H": 1, "\u210c": 2}, {"fi": 1, "\ufb01": 2}, {"\u210c": 1, "\u210d": 2})

KEYS = st.one_of(st.text(max_size=6), st.sampled_from(TRICKY_KEYS)).filter(
    lambda key: key not in ("signal", "sender")
)
PAYLOADS = st.one_of(
    st.dictionaries(KEYS, st.integers(), max_size=4), st.sampled_from(COLLIDING)
)


def recording(seen: list[dict[str, Any]]) -> Any:
    def receiver(**kwargs: Any) -> int:
        kwargs.pop("signal")
        seen.append(kwargs)
        return len(seen)

    return receiver


def sends_by_django(named: dict[str, Any]) -> tuple[list[Any], list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []
    signal = django.dispatch.Signal()
    for _ in range(2):
        signal.connect(recording(seen), weak=False)
    return [response for _, response in signal.send(None, **named)], seen


def sends_by(
    signal: AsyncSignal, method: str, named: dict[str, Any]
) -> tuple[list[Any], list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []
    for _ in range(2):
        signal.connect(recording(seen), weak=False)
    responses = anyio.run(functools.partial(send_by, method, signal, None, **named))
    return [response for _, response in responses], seen


def any_payload(sender: object, **kwargs: Any) -> None:
    """A typed signal's prototype that takes any payload."""


@given(named=PAYLOADS)
def test_every_send_method_passes_any_str_key_on_as_django_does(
    named: dict[str, Any],
) -> None:
    expected = sends_by_django(named)
    for method in METHODS:
        assert sends_by(AsyncSignal(), method, named) == expected, method
        typed = asyncsignal.define(any_payload)
        assert sends_by(typed, method, named) == expected, method
    # Twice: a key set's second send takes whatever the first one cached.
    assert sends_by(AsyncSignal(), "send", named) == expected


@pytest.mark.parametrize("named", COLLIDING, ids=repr)
def test_send_passes_keys_that_normalise_to_the_same_identifier(
    named: dict[str, Any],
) -> None:
    signal = AsyncSignal()
    seen: list[dict[str, Any]] = []
    signal.connect(recording(seen), weak=False)
    for _ in range(2):
        signal.send(None, **named)
    assert seen == [{"sender": None, **named}] * 2


@pytest.mark.parametrize("key", TRICKY_KEYS)
def test_send_passes_a_key_that_is_no_plain_identifier_unchanged_every_time(
    key: str,
) -> None:
    signal = AsyncSignal()
    seen: list[dict[str, Any]] = []
    signal.connect(recording(seen), weak=False)
    for value in range(3):
        signal.send(None, **{key: value})
    assert seen == [{"sender": None, key: value} for value in range(3)]


@pytest.mark.parametrize("method", METHODS)
async def test_every_method_passes_normalisable_keys_to_async_and_thread_receivers(
    method: str,
) -> None:
    signal = AsyncSignal()
    seen: list[dict[str, Any]] = []

    async def async_receiver(**kwargs: Any) -> None:
        kwargs.pop("signal")
        seen.append(kwargs)

    signal.connect(async_receiver, weak=False)
    signal.connect(recording(seen), weak=False, thread=True)
    named = {"\u210c": 1, "H": 2, "class": 3, "a-b": 4}
    if method.startswith("send"):
        await anyio.to_thread.run_sync(
            functools.partial(getattr(signal, method), None, **named)
        )
    else:
        await send_by(method, signal, None, **named)
    assert seen == [{"sender": None, **named}] * 2
