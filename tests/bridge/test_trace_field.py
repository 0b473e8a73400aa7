"""The envelope's ``trace`` field (``bridge/_trace.py``): what a send writes,
and what decoding an untrusted one does: a valid field is read, any other is
ignored with its reason (the event itself is still delivered), never an
exception; over real brokers, ignored fields are counted and never echoed."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import pytest
from bridge_support.peers import Peer
from bridge_support.raw import envelope, publish_raw
from hypothesis import given
from hypothesis import strategies as st

from asyncsignal.bridge._envelope import Wire
from asyncsignal.bridge._signing import keys_of
from asyncsignal.bridge._trace import MAX_BAGGAGE, MAX_TRACESTATE, check_trace

if TYPE_CHECKING:
    from bridge_support.servers import Server

pytest_plugins = ["bridge_support.fixtures"]

ORIGIN = "0123456789abcdef" * 2
PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def decode(data: bytes, wire: Wire | None = None) -> Any:
    return (wire or Wire(ORIGIN, 256 * 1024)).decode(data)


def test_a_send_writes_its_trace_as_a_versioned_object_before_seq() -> None:
    wire = Wire(ORIGIN, 256 * 1024)
    trace = {"traceparent": PARENT, "tracestate": "congo=t61rcWkgMzE", "baggage": "a=1"}
    data = wire.finish(wire.encode("order_placed", None, {"n": 1}, trace), 3)
    assert data.endswith(
        b'"kwargs":{"n":1},"trace":{"v":1,"traceparent":"'
        + PARENT.encode()
        + b'","tracestate":"congo=t61rcWkgMzE","baggage":"a=1"},"seq":3}'
    )
    event = decode(data)
    assert event.trace == trace
    assert event.trace_ignored is None
    assert event.kwargs == {"n": 1}


def test_a_signed_envelope_carries_and_verifies_its_trace() -> None:
    wire = Wire(ORIGIN, 256 * 1024, keys_of("s3cret"))
    data = wire.finish(wire.encode("x", None, {}, {"traceparent": PARENT}), 1)
    assert decode(data, wire).trace == {"traceparent": PARENT}
    tampered = data.replace(b"b7ad6b7169203331", b"b7ad6b7169203332")
    with pytest.raises(Exception, match="signature"):
        decode(tampered, wire)


def test_a_send_leaves_out_a_trace_that_would_not_pass() -> None:
    wire = Wire(ORIGIN, 256 * 1024)
    body = wire.encode("x", None, {}, {"traceparent": "not one"})
    assert b'"trace"' not in body
    body = wire.encode(
        "x", None, {}, {"traceparent": PARENT, "baggage": "b" * (MAX_BAGGAGE + 1)}
    )
    assert b'"trace"' not in body


@pytest.mark.parametrize(
    ("trace", "reason"),
    [
        ("00-abc", "not an object"),
        ({"v": 2, "traceparent": PARENT}, "not of version 1"),
        ({"v": True, "traceparent": PARENT}, "not of version 1"),
        ({"v": 1, "traceparent": PARENT, "extra": "x"}, "unknown fields"),
        ({"v": 1}, "traceparent"),
        ({"v": 1, "traceparent": PARENT.upper()}, "traceparent"),
        ({"v": 1, "traceparent": "01" + PARENT[2:]}, "traceparent"),
        ({"v": 1, "traceparent": PARENT + "-00"}, "traceparent"),
        ({"v": 1, "traceparent": "00-" + "0" * 32 + PARENT[35:]}, "traceparent"),
        ({"v": 1, "traceparent": PARENT[:36] + "0" * 16 + PARENT[52:]}, "traceparent"),
        ({"v": 1, "traceparent": PARENT[:34] + "g" + PARENT[35:]}, "traceparent"),
        ({"v": 1, "traceparent": 7}, "traceparent"),
        (
            {"v": 1, "traceparent": PARENT, "tracestate": "s" * (MAX_TRACESTATE + 1)},
            "tracestate",
        ),
        ({"v": 1, "traceparent": PARENT, "tracestate": ["a"]}, "tracestate"),
        ({"v": 1, "traceparent": PARENT, "baggage": "caf\u00e9=1"}, "baggage"),
        ({"v": 1, "traceparent": PARENT, "baggage": "a=1\nb=2"}, "baggage"),
    ],
)
def test_a_malformed_trace_is_ignored_with_a_reason_and_the_event_kept(
    trace: Any, reason: str
) -> None:
    data = json.dumps(
        {
            "v": 1,
            "origin": ORIGIN,
            "signal": "s",
            "sender": None,
            "kwargs": {"n": 1},
            "trace": trace,
            "seq": 1,
        }
    ).encode()
    event = decode(data)
    assert event.trace is None
    assert reason in event.trace_ignored
    assert event.kwargs == {"n": 1}
    # The reason never repeats what arrived.
    assert "caf" not in event.trace_ignored
    assert PARENT not in event.trace_ignored


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=80),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(st.text(max_size=12), inner, max_size=5)
        ),
        max_leaves=20,
    )
)
def test_check_trace_never_raises(trace: Any) -> None:
    fields, reason = check_trace(trace)
    if trace is None:  # no field at all
        assert (fields, reason) == (None, None)
    else:
        assert (fields is None) != (reason is None)


async def test_brokers_deliver_events_with_bad_traces_count_them_and_echo_nothing(
    broker: Server, caplog: pytest.LogCaptureFixture
) -> None:
    peer = Peer(broker.url)
    secret = "s" * 40 + "SECRET-BAGGAGE"
    bad = envelope(
        "x", 1, trace={"v": 1, "traceparent": PARENT, "baggage": secret + "\x07"}
    )
    huge = envelope(
        "x", 2, trace={"v": 1, "traceparent": PARENT, "tracestate": "t" * 100_000}
    )
    good = envelope("x", 3, trace={"v": 1, "traceparent": PARENT})
    with caplog.at_level(logging.DEBUG, logger="asyncsignal.bridge"):
        async with peer.bridge:
            await anyio.to_thread.run_sync(publish_raw, broker, [bad, huge, good])
            await peer.wait_orders(3)
    assert peer.numbers("x") == [1, 2, 3]
    assert peer.bridge.trace_ignored == 2
    assert peer.bridge.rejected == 0
    assert "SECRET-BAGGAGE" not in caplog.text
    assert "t" * 200 not in caplog.text
