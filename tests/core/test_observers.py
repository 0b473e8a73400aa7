"""asyncsignal.add_observer: what an observer is told about sends, receivers
and subscriptions, in which context, and that a failing one breaks nothing."""

from __future__ import annotations

import contextvars
import logging
import sys
import threading
import time
from typing import Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest

import asyncsignal
from asyncsignal import AsyncSignal, Observer, ReceiverTimeout

if sys.version_info < (3, 11):  # pragma: no cover - covered by the Python 3.10 run
    from exceptiongroup import ExceptionGroup

from support.observing import Recorder, current


async def quick(**kwargs: Any) -> str:
    return current.get()


def plain(**kwargs: Any) -> str:
    return current.get()


def threaded(**kwargs: Any) -> str:
    return current.get()


async def failing(**kwargs: Any) -> None:
    raise ValueError("failing")


async def hanging(**kwargs: Any) -> None:
    await anyio.sleep_forever()


def test_add_observer_rejects_an_object_without_the_methods() -> None:
    with pytest.raises(TypeError, match=r"got object .* no send_started, send_ended"):
        asyncsignal.add_observer(object())  # type: ignore[arg-type]


def test_adding_twice_keeps_one_and_remove_says_whether_it_was_there() -> None:
    observer = Recorder()
    asyncsignal.add_observer(observer)
    asyncsignal.add_observer(observer)
    try:
        signal = AsyncSignal(name="twice")
        signal.send(None)
        assert [c[0] for c in observer.calls] == ["send_started", "send_ended"]
    finally:
        assert asyncsignal.remove_observer(observer)
    assert not asyncsignal.remove_observer(observer)
    signal.send(None)
    assert len(observer.calls) == 2


async def test_asend_tells_each_receiver_how_it_ran_and_its_outcome_in_its_own_context(
    recorder: Recorder,
) -> None:
    signal = AsyncSignal(name="order_placed")
    signal.connect(quick)
    signal.connect(plain)
    signal.connect(threaded, thread=True)
    signal.connect(failing)
    signal.connect(hanging, timeout=0.01)
    responses = await signal.asend_robust("shop", n=1)
    # Each receiver saw what the observer made current for it.
    assert [r for _, r in responses[:3]] == ["quick", "plain", "threaded"]
    assert type(responses[3][1]) is ValueError
    assert type(responses[4][1]) is ReceiverTimeout
    assert recorder.calls[0] == (
        "send_started",
        "order_placed",
        "asend_robust",
        "shop",
        5,
    )
    assert recorder.calls[-1] == ("send_ended", ("send", "order_placed"), None)
    assert recorder.hows() == {
        "quick": "task",
        "plain": "inline",
        "threaded": "thread",
        "failing": "task",
        "hanging": "task",
    }
    assert recorder.ended() == {
        "quick": ("response", None),
        "plain": ("response", None),
        "threaded": ("response", None),
        "failing": ("error", "ValueError"),
        "hanging": ("timeout", "ReceiverTimeout"),
    }
    assert current.get() == "-"


async def test_asend_tells_the_send_its_error(recorder: Recorder) -> None:
    signal = AsyncSignal(name="s")
    signal.connect(failing)
    signal.connect(plain)
    with pytest.raises(ValueError, match="failing"):
        await signal.asend(None)
    assert recorder.calls[-1] == ("send_ended", ("send", "s"), "ValueError")


async def test_a_cancelled_asend_tells_its_receivers_and_itself(
    recorder: Recorder,
) -> None:
    signal = AsyncSignal(name="c")
    started = anyio.Event()

    async def waiting(**kwargs: Any) -> None:
        started.set()
        await anyio.sleep_forever()

    signal.connect(waiting)
    async with anyio.create_task_group() as group:
        group.start_soon(signal.asend, None)
        await started.wait()
        group.cancel_scope.cancel()
    assert recorder.ended() == {
        "waiting": ("cancelled", anyio.get_cancelled_exc_class().__name__)
    }
    assert recorder.calls[-1][0] == "send_ended"
    # What asend raises: trio's nursery groups the cancellation.
    assert recorder.calls[-1][2] in (
        anyio.get_cancelled_exc_class().__name__,
        "BaseExceptionGroup",
    )


def test_send_tells_inline_receivers_and_its_first_error(recorder: Recorder) -> None:
    signal = AsyncSignal(name="sync")

    def broken(**kwargs: Any) -> None:
        raise KeyError("broken")

    signal.connect(plain)
    signal.connect(broken)
    signal.connect(threaded, thread=True)
    with pytest.raises(KeyError):
        signal.send(None)
    assert recorder.ended() == {
        "plain": ("response", None),
        "broken": ("error", "KeyError"),
    }
    assert recorder.calls[-1] == ("send_ended", ("send", "sync"), "KeyError")
    recorder.calls.clear()
    responses = signal.send_robust(None)
    assert responses[0][1] == "plain"
    ended: tuple[Any, ...] = recorder.calls[-1]
    assert recorder.hows() == {
        "plain": "inline",
        "broken": "inline",
        "threaded": "inline",
    }
    assert ended == ("send_ended", ("send", "sync"), None)


def test_send_runs_async_receivers_observed_on_its_loop(recorder: Recorder) -> None:
    signal = AsyncSignal(name="mixed")
    signal.connect(plain)
    signal.connect(quick)
    signal.connect(hanging, timeout=0.01)
    with pytest.raises(ReceiverTimeout):
        signal.send(None)
    assert recorder.hows() == {"plain": "inline", "quick": "task", "hanging": "task"}
    assert recorder.ended()["quick"] == ("response", None)
    assert recorder.ended()["hanging"] == ("timeout", "ReceiverTimeout")


async def test_send_from_a_worker_thread_keeps_the_callers_context(
    recorder: Recorder,
) -> None:
    signal = AsyncSignal(name="worker")
    seen: list[str] = []

    def receiver(**kwargs: Any) -> None:
        seen.append(current.get())

    signal.connect(receiver)
    token = current.set("caller")
    try:
        await anyio.to_thread.run_sync(lambda: signal.send(None))
    finally:
        current.reset(token)
    assert seen == ["receiver"]
    assert recorder.hows() == {"receiver": "inline"}


async def test_receivers_context_changes_reach_the_sender_when_observed(
    recorder: Recorder,
) -> None:
    by_task: contextvars.ContextVar[str] = contextvars.ContextVar("task", default="")
    inline: contextvars.ContextVar[str] = contextvars.ContextVar("inline", default="")
    signal = AsyncSignal(name="ctx")

    async def setter(**kwargs: Any) -> None:
        by_task.set("async")

    def sync_setter(**kwargs: Any) -> None:
        inline.set("sync")

    signal.connect(setter)
    signal.connect(sync_setter)
    await signal.asend(None)
    assert (by_task.get(), inline.get()) == ("async", "sync")
    # The observer's own variable is reset in each receiver's context.
    assert current.get() == "-"


async def test_a_failing_receivers_context_changes_reach_the_sender_when_observed(
    recorder: Recorder,
) -> None:
    """What a receiver set before raising is handed back as on success; what
    the observer set around it and reset is not."""
    by_receiver: contextvars.ContextVar[str] = contextvars.ContextVar(
        "by_receiver", default=""
    )

    async def sets_and_fails(**kwargs: Any) -> None:
        by_receiver.set("failed")
        raise ValueError("after setting")

    async def sees(**kwargs: Any) -> str:
        return by_receiver.get()

    signal = AsyncSignal(name="failing_setter")
    signal.connect(sets_and_fails)
    signal.connect(sees)
    responses = await signal.asend_robust(None)
    assert isinstance(responses[0][1], ValueError)
    assert by_receiver.get() == "failed"
    assert current.get() == "-"


async def test_send_started_returning_none_skips_the_receivers() -> None:
    class SendsOnly(Recorder):
        def send_started(
            self, signal: Any, method: str, sender: Any, receivers: int
        ) -> Any:
            super().send_started(signal, method, sender, receivers)
            return None

    observer = SendsOnly()
    asyncsignal.add_observer(observer)
    try:
        signal = AsyncSignal(name="skip")
        signal.connect(quick)
        signal.connect(plain)
        assert [r for _, r in await signal.asend(None)] == ["-", "-"]
    finally:
        asyncsignal.remove_observer(observer)
    assert {c[0] for c in observer.calls} == {"send_started", "send_ended"}


def test_a_failing_observer_is_logged_once_and_breaks_no_send(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken(Observer):
        def send_started(self, *args: Any) -> Any:
            raise RuntimeError("observer bug")

        def events_dropped(self, *args: Any) -> None:
            raise RuntimeError("observer bug")

    broken, recorder = Broken(), Recorder()
    asyncsignal.add_observer(broken)
    asyncsignal.add_observer(recorder)
    try:
        signal = AsyncSignal(name="robust")
        signal.connect(plain)
        with caplog.at_level(logging.ERROR, logger="asyncsignal"):
            assert [r for _, r in signal.send(None)] == ["plain"]
            assert [r for _, r in signal.send(None)] == ["plain"]
    finally:
        asyncsignal.remove_observer(broken)
        asyncsignal.remove_observer(recorder)
    failures = [r for r in caplog.records if "raised in send_started()" in r.message]
    assert len(failures) == 1
    assert failures[0].exc_info is not None
    assert "observer bug" in str(failures[0].exc_info[1])
    # The other observer was told about both sends and their receivers.
    assert [c[0] for c in recorder.calls].count("receiver_ended") == 2


async def test_a_subscription_that_drops_tells_the_observers(
    recorder: Recorder,
) -> None:
    signal = AsyncSignal(name="dropping")
    async with signal.subscribe(max_buffer=1) as events:
        await signal.asend(None)
        await signal.asend(None)
        signal.send(None)
        assert events.dropped == 2
    drops = [c for c in recorder.calls if c[0] == "events_dropped"]
    assert drops == [
        ("events_dropped", "dropping", 1, 1),
        ("events_dropped", "dropping", 2, 1),
    ]


async def test_several_failing_receivers_end_the_send_with_their_group(
    recorder: Recorder,
) -> None:
    signal = AsyncSignal(name="group")

    async def other(**kwargs: Any) -> None:
        raise KeyError("other")

    signal.connect(failing)
    signal.connect(other)
    with pytest.raises(ExceptionGroup):
        await signal.asend(None)
    assert recorder.calls[-1][2] == "ExceptionGroup"


async def test_a_thread_receiver_that_times_out_is_told_so(recorder: Recorder) -> None:
    signal = AsyncSignal(name="slow thread")
    release = threading.Event()

    def blocking(**kwargs: Any) -> None:
        release.wait(5)

    signal.connect(blocking, thread=True, timeout=0.01)
    try:
        responses = await signal.asend_robust(None)
    finally:
        release.set()
    assert type(responses[0][1]) is ReceiverTimeout
    assert recorder.ended() == {"blocking": ("timeout", "ReceiverTimeout")}
    assert recorder.hows() == {"blocking": "thread"}


def test_observed_receivers_duration_is_measured() -> None:
    durations: list[float] = []

    class Timing(Observer):
        def receiver_ended(
            self, context: Any, outcome: str, error: Any, duration: float
        ) -> None:
            durations.append(duration)

    def sleepy(**kwargs: Any) -> None:
        time.sleep(0.002)

    observer = Timing()
    asyncsignal.add_observer(observer)
    try:
        signal = AsyncSignal(name="timed")
        signal.connect(sleepy)
        signal.send(None)
    finally:
        asyncsignal.remove_observer(observer)
    assert len(durations) == 1
    assert durations[0] >= 0.002


PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


class Carrier(Recorder):
    """Gives every shared send a trace context, records the deliveries."""

    def outgoing(self, signal: AsyncSignal) -> dict[str, str]:
        return {"traceparent": PARENT, "baggage": "tenant=acme"}

    def incoming_started(self, signal: AsyncSignal, fields: Any) -> Any:
        self.log("incoming_started", signal.name, dict(fields))
        return "delivery"

    def incoming_ended(self, context: Any) -> None:
        self.log("incoming_ended", context)


class Failing(Observer):
    """Raises in every method."""

    def send_started(self, *args: Any) -> Any:
        return "started"

    def send_ended(self, *args: Any) -> None:
        raise RuntimeError("send_ended")

    def receiver_started(self, *args: Any) -> Any:
        raise RuntimeError("receiver_started")

    def receiver_ended(self, *args: Any) -> None:
        raise RuntimeError("receiver_ended")

    def events_dropped(self, *args: Any) -> None:
        raise RuntimeError("events_dropped")

    def outgoing(self, *args: Any) -> Any:
        raise RuntimeError("outgoing")

    def incoming_started(self, *args: Any) -> Any:
        raise RuntimeError("incoming_started")

    def incoming_ended(self, *args: Any) -> None:
        raise RuntimeError("incoming_ended")


class EndsOnly(Recorder):
    """Fails only when a receiver or a delivery ends."""

    def receiver_ended(self, *args: Any) -> None:
        raise RuntimeError("receiver_ended")

    def incoming_ended(self, context: Any) -> None:
        raise RuntimeError("incoming_ended")


async def round_trip(*observers: Observer) -> tuple[list[object], AsyncSignal]:
    """One event from a bridge to another over memory://, observed; returns
    what the receiving receiver got, and the sending signal."""
    from asyncsignal.bridge import Bridge

    sending, receiving = AsyncSignal(name="crossing"), AsyncSignal(name="crossing")
    got: list[object] = []
    arrived = anyio.Event()

    async def remote(**kwargs: Any) -> None:
        got.append(kwargs["n"])
        arrived.set()

    receiving.connect(remote)
    first, second = Bridge("memory://observed"), Bridge("memory://observed")
    first.share(sending)
    second.share(receiving)
    for observer in observers:
        asyncsignal.add_observer(observer)
    try:
        async with first, second:
            async with sending.subscribe(max_buffer=1):
                await sending.asend(None, n=1)
                await sending.asend(None, n=2)
            with anyio.fail_after(10):
                while len(got) < 2:
                    await arrived.wait()
                    arrived = anyio.Event()
    finally:
        for observer in observers:
            asyncsignal.remove_observer(observer)
    return got, sending


async def test_every_failing_hook_is_logged_once_and_nothing_else_changes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    carrier, failing, ends_only = Carrier(), Failing(), EndsOnly()
    with caplog.at_level(logging.ERROR, logger="asyncsignal"):
        got, _ = await round_trip(failing, carrier, ends_only)
    assert got == [1, 2]
    failed = sorted(
        (record.args[1], str(record.exc_info[1]))  # type: ignore[index]
        for record in caplog.records
        if "(logged once)" in record.getMessage() and record.exc_info
    )
    # Once each; a method whose *_started call failed is not told the end.
    assert failed == sorted(
        [
            ("send_ended", "send_ended"),
            ("receiver_started", "receiver_started"),
            ("events_dropped", "events_dropped"),
            ("outgoing", "outgoing"),
            ("incoming_started", "incoming_started"),
            ("receiver_ended", "receiver_ended"),  # EndsOnly's
            ("incoming_ended", "incoming_ended"),  # EndsOnly's
        ]
    )
    # The carrier's fields crossed (the failing observer came first) and
    # the receiving side was told about both deliveries, in order.
    deliveries = [c for c in carrier.calls if c[0].startswith("incoming")]
    fields = {"traceparent": PARENT, "baggage": "tenant=acme"}
    assert (
        deliveries
        == [
            ("incoming_started", "crossing", fields),
            ("incoming_ended", "delivery"),
        ]
        * 2
    )


@pytest.mark.parametrize("fails_in", ["receiver_started", "receiver_ended"])
@pytest.mark.parametrize("outcome", ["response", "error"])
async def test_a_lone_observer_failing_around_async_receivers_changes_nothing(
    fails_in: str, outcome: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The only observer (the path a tracer takes) raises when async
    receivers start or end: logged once, every receiver still runs, the
    send's result is unchanged, the observer is still told what it can be."""

    class FailsIn(Recorder):
        def receiver_started(self, *args: Any) -> Any:
            context = super().receiver_started(*args)
            if fails_in == "receiver_started":
                current.reset(context[1])
                raise RuntimeError(fails_in)
            return context

        def receiver_ended(self, *args: Any) -> None:
            super().receiver_ended(*args)
            if fails_in == "receiver_ended":
                raise RuntimeError(fails_in)

    signal = AsyncSignal(name="lone")
    seen: list[str] = []

    async def first(**kwargs: Any) -> str:
        await anyio.lowlevel.checkpoint()
        seen.append(current.get())
        if outcome == "error":
            raise ValueError("first")
        return "first"

    async def second(**kwargs: Any) -> str:
        seen.append(current.get())
        return "second"

    signal.connect(first)
    signal.connect(second)
    observer = FailsIn()
    asyncsignal.add_observer(observer)
    try:
        with caplog.at_level(logging.ERROR, logger="asyncsignal"):
            responses = await signal.asend_robust(None)
    finally:
        asyncsignal.remove_observer(observer)
    assert [type(r).__name__ for _, r in responses] == (
        ["ValueError", "str"] if outcome == "error" else ["str", "str"]
    )
    logged = [r for r in caplog.records if "(logged once)" in r.getMessage()]
    assert [str(r.exc_info[1]) for r in logged if r.exc_info] == [fails_in]
    if fails_in == "receiver_started":
        assert sorted(seen) == ["-", "-"]
        assert observer.ended() == {}
    else:
        assert sorted(seen) == ["first", "second"]
        assert observer.ended() == {
            "first": (outcome, "ValueError" if outcome == "error" else None),
            "second": ("response", None),
        }


async def test_an_observer_with_the_defaults_only_changes_nothing() -> None:
    class Quiet(Observer):
        pass

    got, _ = await round_trip(Quiet())
    assert got == [1, 2]


async def test_observed_sends_without_receivers_or_with_plain_sync_ones(
    recorder: Recorder,
) -> None:
    empty = AsyncSignal(name="empty")
    assert await empty.asend(None) == []
    assert await empty.asend_robust(None) == []
    plain_only = AsyncSignal(name="plain_only")
    plain_only.connect(plain)
    assert [r for _, r in await plain_only.asend(None)] == ["plain"]
    assert recorder.hows() == {"plain": "inline"}
    assert [c[2] for c in recorder.calls if c[0] == "send_started"] == [
        "asend",
        "asend_robust",
        "asend",
    ]


def test_send_started_returning_none_skips_the_receivers_of_send() -> None:
    class SendsOnly(Recorder):
        def send_started(self, *args: Any) -> Any:
            super().send_started(*args)
            return None

    observer = SendsOnly()
    asyncsignal.add_observer(observer)
    try:
        signal = AsyncSignal(name="skip_send")
        signal.connect(plain)
        signal.connect(threaded, thread=True)
        assert [r for _, r in signal.send(None)] == ["-", "-"]
    finally:
        asyncsignal.remove_observer(observer)
    assert [c[0] for c in observer.calls] == ["send_started", "send_ended"]


class Stop(BaseException):
    """Not an Exception: it aborts a send."""


async def test_a_receivers_base_exception_is_its_error_and_the_others_cancelled(
    recorder: Recorder,
) -> None:
    signal = AsyncSignal(name="stopping")
    started = anyio.Event()

    async def waiting(**kwargs: Any) -> None:
        started.set()
        await anyio.sleep_forever()

    async def stopping(**kwargs: Any) -> None:
        await started.wait()
        raise Stop

    signal.connect(waiting)
    signal.connect(stopping)
    with pytest.raises(Stop):
        await signal.asend(None)
    assert recorder.ended() == {
        "waiting": ("cancelled", anyio.get_cancelled_exc_class().__name__),
        "stopping": ("error", "Stop"),
    }


def test_a_sync_receivers_base_exception_is_its_error(recorder: Recorder) -> None:
    signal = AsyncSignal(name="sync_stop")

    def stopping(**kwargs: Any) -> None:
        raise Stop

    signal.connect(stopping)
    with pytest.raises(Stop):
        signal.send(None)
    assert recorder.ended() == {"stopping": ("error", "Stop")}
    assert recorder.calls[-1][2] == "Stop"


async def test_an_observer_without_its_own_delivery_hooks_gets_the_defaults() -> None:
    class Quiet(Observer):
        pass

    got, _ = await round_trip(Carrier(), Quiet())
    assert got == [1, 2]


async def test_a_lone_observer_failing_to_start_a_receiver_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class StartsBadly(Observer):
        def receiver_started(self, *args: Any) -> Any:
            raise RuntimeError("receiver_started")

    observer = StartsBadly()
    asyncsignal.add_observer(observer)
    try:
        signal = AsyncSignal(name="lone")
        signal.connect(quick)
        signal.connect(plain)
        with caplog.at_level(logging.ERROR, logger="asyncsignal"):
            responses = await signal.asend(None)
    finally:
        asyncsignal.remove_observer(observer)
    assert [r for _, r in responses] == ["-", "-"]
    assert len([r for r in caplog.records if "receiver_started()" in r.message]) == 1


def typed_prototype(sender: object, *, order_id: int) -> None:
    """A typed signal's prototype."""


async def test_a_typed_signals_refused_payload_ends_the_observed_send(
    recorder: Recorder,
) -> None:
    typed = asyncsignal.define(typed_prototype)

    def on_typed(sender: object, *, order_id: int, **kwargs: Any) -> None:
        """Connected to the typed signal."""

    typed.connect(on_typed)
    refused: dict[str, Any] = {"order_id": "seven", "extra": 1}
    with pytest.raises(TypeError):
        typed.send(None, **refused)
    with pytest.raises(TypeError):
        await typed.asend(None, **refused)
    assert typed.send(None, order_id=7) == [(on_typed, None)]
    ends = [c[2] for c in recorder.calls if c[0] == "send_ended"]
    assert ends == ["TypeError", "TypeError", None]
