"""The bridge's NATS protocol reader (``_transports/nats_parser.py``), without
a server: fed the same bytes, split anywhere, it hands over what nats-py's
own parser hands over, in the same order."""

from __future__ import annotations

import itertools
from typing import Any

import anyio
import nats.aio.client
import nats.errors
import nats.protocol.parser
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from asyncsignal.bridge._transports.nats_parser import MessageParser, parses_messages


class Recorder:
    """What nats-py's parser calls on its client, recorded."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []

    def deliver(self, messages: list[bytes]) -> bool:
        assert messages
        for data in messages:
            assert type(data) is bytes
            self.seen.append(("msg", data))
        return False

    async def _process_msg(
        self, sid: int, subject: bytes, reply: bytes, data: bytes, headers: Any
    ) -> None:
        self.deliver([data])

    async def _process_ping(self) -> None:
        self.seen.append(("ping", None))

    async def _process_pong(self) -> None:
        self.seen.append(("pong", None))

    async def _process_info(self, info: dict[str, Any]) -> None:
        self.seen.append(("info", info))

    async def _process_err(self, error: str) -> None:
        self.seen.append(("err", error))


def msg(payload: bytes, reply: bytes = b"") -> bytes:
    reply_part = b" " + reply if reply else b""
    return b"MSG bench 1%s %d\r\n%s\r\n" % (reply_part, len(payload), payload)


payloads = st.binary(max_size=40) | st.sampled_from(
    [b"", b"\r\n", b"MSG bench 1 3\r\nabc\r\n", b"PING\r\n", b'{"v":1}']
)
frames = st.one_of(
    payloads.map(msg),
    payloads.map(lambda p: msg(p, reply=b"_INBOX.x")),
    payloads.map(
        lambda p: b"HMSG bench 1 12 %d\r\nNATS/1.0\r\n\r\n%s\r\n" % (12 + len(p), p)
    ),
    st.sampled_from(
        [b"PING\r\n", b"PONG\r\n", b"+OK\r\n", b'INFO {"max_payload":1}\r\n']
    ),
)


async def feed(parser: nats.protocol.parser.Parser, reads: list[bytes]) -> None:
    for each in reads:
        await parser.parse(each)


def split(stream: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(cut, len(stream)) for cut in cuts})
    bounds = [0, *points, len(stream)]
    return [stream[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(frames, max_size=12), st.lists(st.integers(0, 400), max_size=8))
@example([msg(b"a" * 10)] * 3, [5, 18, 19, 20, 21])
def test_it_hands_over_what_nats_py_hands_over(
    frames: list[bytes], cuts: list[int]
) -> None:
    reads = split(b"".join(frames), cuts)
    stock, ours = Recorder(), Recorder()
    anyio.run(feed, nats.protocol.parser.Parser(stock), reads)
    parser = MessageParser(ours, ours.deliver)  # type: ignore[arg-type]
    anyio.run(feed, parser, reads)
    assert ours.seen == stock.seen


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # nats-py: asyncio only
async def test_a_read_is_delivered_at_once_then_the_dispatcher_runs() -> None:
    order: list[str] = []

    def deliver(messages: list[bytes]) -> bool:
        order.append(f"delivered {b' '.join(messages).decode()}")
        return True  # it woke the dispatcher

    async def other() -> None:
        order.append("other task")

    client = Recorder()
    client.deliver = deliver  # type: ignore[method-assign]  # nats-py's parser too
    parser = MessageParser(client, deliver)  # type: ignore[arg-type]
    async with anyio.create_task_group() as group:
        group.start_soon(other)
        await parser.parse(msg(b"1") + msg(b"2") + msg(b"3")[:-3])
        order.append("parsed")
        await parser.parse(msg(b"3")[-3:] + b"PING\r\n" + msg(b"4"))
    assert order == [
        "delivered 1 2",
        "other task",
        "parsed",
        "delivered 3",  # the frame split across reads, then the PING's read
        "delivered 4",  # by nats-py's parser, after the PING
    ]


def test_a_nats_py_client_has_what_the_reader_needs() -> None:
    """Fails on a nats-py without them: its own parser would then read the
    messages, correct but slower."""
    assert parses_messages(nats.aio.client.Client())


@pytest.mark.parametrize(
    "change",
    ["no parser", "another parser", "no buffer", "another state"],
)
def test_a_client_without_them_keeps_its_own_parser(change: str) -> None:
    client = nats.aio.client.Client()
    if change == "no parser":
        del client._ps
    elif change == "another parser":
        client._ps = type("Parser", (nats.protocol.parser.Parser,), {})(client)
    elif change == "no buffer":
        client._ps.buf = b""  # type: ignore[assignment]
    else:
        client._ps.state = -1
    assert not parses_messages(client)


@pytest.mark.parametrize(
    "frame",
    [
        b"MSG bench 1 " + b"9" * 5000 + b"\r\n",  # int() would refuse it
        b"MSG bench 1 x\r\n",
        b"NOPE\r\n",
    ],
    ids=["a size of 5000 digits", "a size that is no number", "an unknown frame"],
)
def test_a_malformed_frame_is_nats_pys_protocol_error(frame: bytes) -> None:
    for parser in (
        nats.protocol.parser.Parser(Recorder()),
        MessageParser(Recorder(), Recorder().deliver),  # type: ignore[arg-type]
    ):
        with pytest.raises(nats.errors.ProtocolError):
            anyio.run(feed, parser, [msg(b"ok") + frame])
