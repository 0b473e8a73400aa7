"""A thread receiver's limiter token (``_backends._threads._TokenedCall``): given
back exactly once, whether the call is abandoned before it starts, while it
runs, or outlives its event loop.
"""

from __future__ import annotations

import asyncio

from asyncsignal._backends._threads import _TokenedCall

# -- a thread receiver's limiter token (_backends._threads._TokenedCall) ----
# The races between the waiting task and the worker thread, one step at a time.


def test_a_thread_call_abandoned_before_it_starts_returns_its_token_once() -> None:
    calls: list[str] = []
    released: list[str] = []
    loop = asyncio.new_event_loop()
    try:
        tokened = _TokenedCall(
            lambda: calls.append("call"), lambda: released.append("token"), loop
        )
        tokened.stop_waiting()  # cancelled before a worker took the call up
        assert released == ["token"]
        assert tokened() is None  # the worker, late: the call is skipped
        assert calls == []
        assert released == ["token"]
    finally:
        loop.close()


def test_a_thread_call_abandoned_while_running_returns_its_token_when_it_ends() -> None:
    released: list[str] = []
    loop = asyncio.new_event_loop()
    try:

        def call() -> str:
            tokened.stop_waiting()  # the waiting task gives up meanwhile
            assert released == []
            return "done"

        tokened = _TokenedCall(call, lambda: released.append("token"), loop)
        assert tokened() == "done"
        assert released == []  # handed to the loop's thread
        loop.call_soon(loop.stop)
        loop.run_forever()
        assert released == ["token"]
    finally:
        loop.close()


def test_a_thread_call_outliving_its_event_loop_drops_its_token() -> None:
    released: list[str] = []
    loop = asyncio.new_event_loop()

    def call() -> None:
        tokened.stop_waiting()
        loop.close()  # the loop, and the limiter with it, are gone

    tokened = _TokenedCall(call, lambda: released.append("token"), loop)
    assert tokened() is None
    assert released == []
