"""``timeout=``: async and thread receivers cancelled after a time limit, their
outcome a ``ReceiverTimeout``; the checks of the argument at ``connect``.
"""

from __future__ import annotations

import logging
import math
import pickle
import sys
from typing import TYPE_CHECKING, Any

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread
import pytest
from receivers import (
    TIMEOUT,
    Blocker,
    errors_of,
    make_async,
    make_sync,
    records_of,
    sleeper,
)

from asyncsignal import AsyncSignal, ReceiverTimeout

if sys.version_info < (3, 11):
    from exceptiongroup import (  # type: ignore[import-not-found, unused-ignore]
        ExceptionGroup,
    )

if TYPE_CHECKING:
    from collections.abc import Callable


#: Longer than TIMEOUT: a sibling still running when a timeout fires.
LONGER = TIMEOUT + 0.03


class Delay:
    """Something a recording receiver waits for: the time to pass."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    async def wait(self) -> None:
        await anyio.sleep(self.seconds)


# -- timeout= -----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["async", "thread"])
async def test_timed_out_receiver_raises_receiver_timeout_after_its_siblings(
    anyio_backend: Any, kind: str
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    blocker = Blocker("blocked_in_thread")
    slow: Callable[..., Any]
    if kind == "async":
        slow = sleeper(log, "slow")
        signal.connect(slow, timeout=TIMEOUT)
    else:
        slow = blocker
        signal.connect(slow, thread=True, timeout=TIMEOUT)
    signal.connect(make_async(log, "sibling", wait_for=Delay(LONGER)), weak=False)

    try:
        with pytest.raises(ReceiverTimeout) as info:
            await signal.asend(None)
        # Isolated: the sibling ran on past the timeout, to its end.
        assert "sibling:end" in log
        error = info.value
        assert isinstance(error, TimeoutError)
        assert error.receiver is slow
        assert error.timeout == TIMEOUT
        assert slow.__qualname__ in str(error)
        assert f"{TIMEOUT:g} s" in str(error)
        if kind == "async":
            assert "slow:cancelled" in log
        else:
            # A thread cannot be cancelled: it is no longer awaited.
            assert not blocker.finished.is_set()
    finally:
        if kind == "thread":
            await blocker.release_and_join()


@pytest.mark.parametrize("kind", ["async", "thread"])
async def test_asend_robust_returns_and_logs_a_receiver_timeout(
    anyio_backend: Any, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    blocker = Blocker("blocked_in_thread")
    slow: Callable[..., Any] = sleeper(log, "slow") if kind == "async" else blocker
    signal.connect(slow, thread=kind == "thread", timeout=TIMEOUT)
    sibling = make_async(log, "sibling", wait_for=Delay(LONGER))
    signal.connect(sibling)

    try:
        with caplog.at_level(logging.ERROR, logger="asyncsignal"):
            responses = await signal.asend_robust(None)
    finally:
        blocker.release.set()

    assert len(responses) == 2
    assert responses[0][0] is slow
    timeout = responses[0][1]
    assert isinstance(timeout, ReceiverTimeout)
    assert (timeout.receiver, timeout.timeout) == (slow, TIMEOUT)
    assert responses[1] == (sibling, "sibling")
    (record,) = records_of(caplog)
    assert errors_of(record) is timeout
    message = record.getMessage()
    assert "asend_robust()" in message
    assert slow.__qualname__ in message
    if kind == "thread":
        await blocker.release_and_join()


async def test_receiver_timeout_is_in_the_exception_group_in_connection_order(
    anyio_backend: Any,
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    first = ValueError("first")
    third = KeyError("third")
    slow = sleeper(log, "slow")
    signal.connect(make_async(log, "first", raises=first), weak=False)
    signal.connect(slow, timeout=TIMEOUT)
    signal.connect(make_sync(log, "third", raises=third), weak=False)

    with pytest.raises(ExceptionGroup) as info:
        await signal.asend(None)

    one, timeout, three = info.value.exceptions
    assert (one, three) == (first, third)
    assert isinstance(timeout, ReceiverTimeout)
    assert timeout.receiver is slow


async def test_receivers_that_finish_within_their_timeout_are_unaffected(
    anyio_backend: Any,
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    coroutine = make_async(log, "coroutine", wait_for=Delay(0.01))
    immediate = make_async(log, "immediate")
    function = make_sync(log, "function")
    # Timeouts no loaded machine reaches: only "finished in time" is tested.
    signal.connect(coroutine, timeout=60)
    signal.connect(immediate, timeout=60)
    signal.connect(function, thread=True, timeout=60)

    assert await signal.asend(None) == [
        (coroutine, "coroutine"),
        (immediate, "immediate"),
        (function, "function"),
    ]


async def test_signal_timeout_default_applies_to_async_and_thread_receivers_only(
    anyio_backend: Any,
) -> None:
    signal = AsyncSignal(timeout=TIMEOUT)
    log: list[str] = []
    blocker = Blocker()
    slow = sleeper(log, "slow")
    inline = make_sync(log, "inline")
    signal.connect(slow)
    signal.connect(inline)  # no error: the default skips inline receivers
    signal.connect(blocker, thread=True)

    try:
        responses = await signal.asend_robust(None)
    finally:
        await blocker.release_and_join()

    assert [r for r, _ in responses] == [slow, inline, blocker]
    assert responses[1][1] == "inline"
    for index in (0, 2):
        error = responses[index][1]
        assert isinstance(error, ReceiverTimeout)
        assert error.timeout == TIMEOUT


async def test_explicit_timeout_overrides_the_signal_default(
    anyio_backend: Any,
) -> None:
    signal = AsyncSignal(timeout=0.01)
    log: list[str] = []
    patient = make_async(log, "patient", wait_for=Delay(0.05))
    signal.connect(patient, timeout=0.3)

    assert await signal.asend(None) == [(patient, "patient")]


@pytest.mark.parametrize("method", ["send", "send_robust"])
def test_send_from_sync_code_applies_timeouts_to_async_receivers(
    method: str, caplog: pytest.LogCaptureFixture
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    slow = sleeper(log, "slow")
    signal.connect(slow, timeout=TIMEOUT)
    signal.connect(make_async(log, "sibling", wait_for=Delay(LONGER)), weak=False)

    with caplog.at_level(logging.ERROR, logger="asyncsignal"):
        if method == "send":
            with pytest.raises(ReceiverTimeout) as info:
                signal.send(None)
            error: BaseException = info.value
        else:
            responses = signal.send_robust(None)
            error = responses[0][1]
            (record,) = records_of(caplog)
            assert "send_robust()" in record.getMessage()
            assert "asend" not in record.getMessage()
            assert errors_of(record) is error

    assert isinstance(error, ReceiverTimeout)
    assert error.receiver is slow
    assert "sibling:end" in log
    assert "slow:cancelled" in log


def test_explicit_timeout_for_an_inline_sync_receiver_is_a_value_error() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    inline = make_sync(log, "inline")

    with pytest.raises(ValueError, match=r"timeout=1\b.*inline"):
        signal.connect(inline, timeout=1)
    assert len(signal.receivers) == 0

    threaded = AsyncSignal(thread=True)
    with pytest.raises(ValueError, match=r"timeout=1\b.*inline"):
        threaded.connect(inline, thread=False, timeout=1)
    assert len(threaded.receivers) == 0


BAD_TIMEOUTS = [
    pytest.param(0, ValueError, "0", id="zero"),
    pytest.param(-1, ValueError, "-1", id="negative"),
    pytest.param(-0.5, ValueError, "-0.5", id="negative-float"),
    pytest.param(math.nan, ValueError, "nan", id="nan"),
    pytest.param(math.inf, ValueError, "inf", id="inf"),
    pytest.param("1", TypeError, "'1'", id="string"),
    pytest.param(True, TypeError, "True", id="bool"),
    pytest.param([1], TypeError, r"\[1\]", id="list"),
]


@pytest.mark.parametrize("kind", ["async", "thread"])
@pytest.mark.parametrize(("value", "error", "shown"), BAD_TIMEOUTS)
def test_bad_timeout_at_connect_names_the_argument_and_connects_nothing(
    kind: str, value: Any, error: type[Exception], shown: str
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    existing = make_sync(log, "existing")
    signal.connect(existing)
    target: Callable[..., Any] = (
        make_async(log, "target") if kind == "async" else make_sync(log, "target")
    )

    with pytest.raises(error, match=rf"timeout.*{shown}"):
        signal.connect(target, thread=kind == "thread" or None, timeout=value)

    assert list(signal.receivers) == [existing]


@pytest.mark.parametrize(("value", "error", "shown"), BAD_TIMEOUTS)
def test_bad_signal_timeout_names_the_argument(
    value: Any, error: type[Exception], shown: str
) -> None:
    with pytest.raises(error, match=rf"timeout.*{shown}"):
        AsyncSignal(timeout=value)


@pytest.mark.parametrize("value", ["yes", 1, None, 0.0])
def test_bad_signal_thread_names_the_argument(value: Any) -> None:
    with pytest.raises(TypeError, match=rf"thread.*{value!r}"):
        AsyncSignal(thread=value)


@pytest.mark.parametrize(
    ("argument", "value"),
    [("thread", "yes"), ("thread", 1), ("once", None), ("once", "yes"), ("once", 1)],
)
def test_bad_policy_flag_at_connect_names_it_and_connects_nothing(
    argument: str, value: Any
) -> None:
    signal = AsyncSignal()
    log: list[str] = []

    with pytest.raises(TypeError, match=rf"{argument}.*{value!r}"):
        signal.connect(make_sync(log, "target"), weak=False, **{argument: value})
    assert len(signal.receivers) == 0


def test_receiver_timeout_survives_pickling() -> None:
    error = ReceiverTimeout("receiver", 1.5)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.receiver, copy.timeout, str(copy)) == ("receiver", 1.5, str(error))
