"""Reading the NATS protocol for the bridge's one subscription: the ``MSG``
frames in the bytes the server sends are cut out here, and the payloads of a
read handed to the bridge at once; whatever else arrives is left to nats-py's
own parser.

nats-py's parser (2.x) matches a regular expression and fills a dict per
frame, removes each frame from the front of its buffer, copies each payload
twice and awaits a coroutine per message: 1.5 µs per message, where this
loop takes 0.6 (3.12, 64 KB reads of 350-byte messages, measured here).

This leans on nats-py's internals: its client's parser (``Client._ps``, made
in ``__init__``), the parser's ``buf``, ``state`` and ``parse()``, and its
``AWAITING_CONTROL_LINE`` state. :func:`parses_messages` checks them; a
client without them keeps nats-py's parser (tests/bridge/test_nats_parser.py
notices the change).
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

import nats.aio.client
import nats.protocol.parser

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ("MessageParser", "parses_messages")

#: A message without a reply subject: ``MSG <subject> <sid> <bytes>\r\n``
#: (a size of over 10 digits is nats-py's to refuse, as a protocol error).
_MSG = re.compile(rb"MSG [^ \r\n]+ [0-9]+ ([0-9]{1,10})\r\n")
_CONTROL_LINE_MAX = nats.protocol.parser.MAX_CONTROL_LINE_SIZE
_CRLF = b"\r\n"


def parses_messages(client: nats.aio.client.Client) -> bool:
    """Whether ``client`` has the internals :class:`MessageParser` needs."""
    parser = getattr(client, "_ps", None)
    return (
        type(parser) is nats.protocol.parser.Parser
        and isinstance(getattr(parser, "buf", None), bytearray)
        and getattr(parser, "state", None)
        == getattr(nats.protocol.parser, "AWAITING_CONTROL_LINE", object())
    )


class MessageParser(nats.protocol.parser.Parser):
    """nats-py's parser, reading the ``MSG`` frames without a reply subject
    itself, and handing the payloads of each read to ``deliver`` at once
    (which returns whether it woke the bridge's dispatcher: the reader then
    yields once, so that the dispatcher runs first). The session holds one
    subscription and sends no requests, so every message is the bridge's.

    Any other frame (``PING``, ``PONG``, ``INFO``, ``+OK``, ``-ERR``,
    ``HMSG``, a ``MSG`` with a reply subject), and whatever follows it in the
    same read, goes to nats-py's ``parse()``, once the payloads before it are
    delivered; so does every read while nats-py's parser is in the middle of
    a frame.
    """

    def __init__(
        self,
        client: nats.aio.client.Client,
        deliver: Callable[[list[bytes]], bool],
    ) -> None:
        super().__init__(client)
        self._deliver = deliver

    async def parse(self, data: bytes = b"") -> None:
        if self.state != nats.protocol.parser.AWAITING_CONTROL_LINE:
            await super().parse(data)
            return
        buffer = self.buf
        if buffer:  # the start of a frame, left by the last read
            data = b"".join((buffer, data))
            buffer.clear()
        payloads: list[bytes] = []
        match, end, at = _MSG.match, len(data), 0
        while (frame := match(data, at)) is not None:
            start = frame.end()
            stop = start + int(frame[1])
            if stop + 2 > end:
                break  # the rest of its payload comes with the next read
            payloads.append(data[start:stop])
            at = stop + 2
        if payloads and self._deliver(payloads):
            await asyncio.sleep(0)  # the dispatcher first
        if at == end:
            return
        buffer += data[at:]
        # A frame whose control line is complete but is no MSG of ours (the
        # loop ended on no match), or a control line over the protocol's
        # length: nats-py's parse() decides. Anything else is the start of a
        # frame, whose rest comes next.
        if frame is None and (_CRLF in buffer or len(buffer) >= _CONTROL_LINE_MAX):
            await super().parse()
