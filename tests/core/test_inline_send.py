"""``send``'s generated callers (``_inline_send``): one per set of payload keys,
up to a bound.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from asyncsignal import AsyncSignal, _inline_send

if TYPE_CHECKING:
    import pytest


def test_sends_past_the_bound_on_generated_callers_use_the_generic_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``send`` generates a caller per set of payload keys, up to
    ``_SEND_CALLERS_LIMIT`` of them; other key sets then share the generic
    caller, which passes their keys on just the same."""
    monkeypatch.setattr(_inline_send, "_send_callers", {})
    signal = AsyncSignal()
    seen: list[dict[str, Any]] = []

    def receiver(**kwargs: Any) -> None:
        seen.append(kwargs)

    signal.connect(receiver)
    last = _inline_send._SEND_CALLERS_LIMIT + 1
    for number in range(last + 1):
        signal.send(None, **{f"key{number}": number})
    assert len(_inline_send._send_callers) == _inline_send._SEND_CALLERS_LIMIT
    assert seen[-1] == {"signal": signal, "sender": None, f"key{last}": last}
