"""What ``Bridge(...)`` and ``Bridge.share()`` refuse (``_settings.py``,
``_share.py``); no broker is involved."""

from __future__ import annotations

from typing import Any

import pytest

from asyncsignal import AsyncSignal
from asyncsignal.bridge import Bridge


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"url": 6379}, TypeError, "url must be a str, got int 6379"),
        ({"url": "http://x"}, ValueError, "must start with one of redis://"),
        ({"url": "redis"}, ValueError, "got 'redis'"),
        (
            {"url": "redis://u:secret@x", "channel": ""},
            ValueError,
            "channel must be a non-empty str",
        ),
        ({"channel": "a b"}, ValueError, "without spaces"),
        ({"channel": "a.*"}, ValueError, "got 'a.*'"),
        ({"channel": 7}, ValueError, "got 7"),
        ({"max_event_bytes": 10}, ValueError, "max_event_bytes must be at least 64"),
        ({"max_event_bytes": 1.5}, TypeError, "max_event_bytes must be an int"),
        ({"max_event_bytes": True}, TypeError, "got bool True"),
        (
            {"max_event_bytes": 2048, "max_buffer_bytes": 1024},
            ValueError,
            "max_buffer_bytes must be at least 2,048, got 1,024",
        ),
        ({"timeout": 0}, ValueError, "timeout must be a positive number"),
        ({"timeout": float("inf")}, ValueError, "got inf"),
        ({"timeout": "5"}, ValueError, "got '5'"),
        ({"timeout": True}, ValueError, "got True"),
    ],
)
def test_bad_configuration_is_refused(
    arguments: dict[str, Any], error: type[Exception], message: str
) -> None:
    options = {"url": "memory://", **arguments}
    with pytest.raises(error, match=message.replace("*", r"\*")):
        Bridge(**options)


def test_share_checks_its_signals() -> None:
    bridge = Bridge("memory://")
    first, same_name = AsyncSignal(name="x"), AsyncSignal(name="x")
    bridge.share(first)
    bridge.share(first)  # again: nothing happens
    with pytest.raises(ValueError, match="shares another signal named 'x' already"):
        bridge.share(AsyncSignal(name="y"), same_name)
    with pytest.raises(ValueError, match="needs signals with a name"):
        bridge.share(AsyncSignal())
    with pytest.raises(TypeError, match="share\\(\\) takes signals, got str 'x'"):
        bridge.share("x")  # type: ignore[arg-type]
    # Other processes would refuse its events: refused here first.
    with pytest.raises(ValueError, match="named in at most 256 characters, got"):
        bridge.share(AsyncSignal(name="n" * 257))
    # Two signals of one name in one call: refused, not the second dropped.
    with pytest.raises(ValueError, match="share\\(\\) got two signals named 'z'"):
        bridge.share(AsyncSignal(name="z"), AsyncSignal(name="z"))
    # Nothing was shared by the refused calls.
    assert repr(bridge).endswith("1 shared signals>")


def test_a_signal_listed_twice_in_one_call_is_shared_once() -> None:
    bridge = Bridge("memory://")
    signal = AsyncSignal(name="x")
    bridge.share(signal, signal)
    assert repr(bridge).endswith("1 shared signals>")
