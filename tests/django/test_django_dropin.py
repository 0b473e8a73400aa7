"""asyncsignal.django.Signal as Django 6.1's Signal: response order, context,
logger, stack depth, the DEBUG-only check, Django's internals, install().

Django's async code (asgiref) runs on asyncio only: async tests here run on the
asyncio backends."""

from __future__ import annotations

import contextvars
import logging
import subprocess
import sys
import textwrap
import weakref
from typing import Any

import pytest
from support.backends import ASYNCIO_BACKENDS, UNRETRIEVED_EAGER_TASK_EXCEPTION

pytest.importorskip("django")

import asyncsignal.django as dj
from asyncsignal.django import Signal

if sys.version_info < (3, 11):
    from exceptiongroup import ExceptionGroup

asyncio_only = pytest.mark.parametrize("anyio_backend", ASYNCIO_BACKENDS)
counter: contextvars.ContextVar[int] = contextvars.ContextVar("counter")


def sync_one(**kwargs: Any) -> str:
    return "sync"


async def async_one(**kwargs: Any) -> str:
    return "async"


async def increment(**kwargs: Any) -> int:
    counter.set(counter.get() + 1)
    return counter.get()


async def increment_too(**kwargs: Any) -> int:
    counter.set(counter.get() + 1)
    return counter.get()


def other_sync(**kwargs: Any) -> str:
    return "other"


def sync_increment(**kwargs: Any) -> int:
    counter.set(counter.get() + 1)
    return counter.get()


@asyncio_only
@pytest.mark.parametrize("method", ["asend", "asend_robust"])
async def test_asend_responds_sync_receivers_first(method: str) -> None:
    signal = Signal()
    signal.connect(async_one)
    signal.connect(sync_one)
    assert await getattr(signal, method)(None) == [
        (sync_one, "sync"),
        (async_one, "async"),
    ]


@pytest.mark.parametrize("method", ["send", "send_robust"])
def test_send_responds_sync_receivers_first(method: str) -> None:
    signal = Signal()
    signal.connect(async_one)
    signal.connect(sync_one, once=True)
    assert getattr(signal, method)(None) == [(sync_one, "sync"), (async_one, "async")]
    assert getattr(signal, method)(None) == [(async_one, "async")]


@asyncio_only
async def test_asend_shares_one_context_and_the_caller_gets_it() -> None:
    signal = Signal()
    signal.connect(increment)
    signal.connect(increment_too)
    signal.connect(sync_increment)
    counter.set(1)
    assert await signal.asend(None) == [
        (sync_increment, 2),
        (increment, 3),
        (increment_too, 4),
    ]
    assert counter.get() == 4


def test_send_shares_one_context_and_the_caller_gets_it() -> None:
    signal = Signal()
    signal.connect(increment)
    signal.connect(increment_too)

    def caller() -> tuple[Any, int]:
        counter.set(1)
        return signal.send(None), counter.get()

    responses, seen = contextvars.copy_context().run(caller)
    assert responses == [(increment, 2), (increment_too, 3)]
    assert seen == 3


@asyncio_only
async def test_sync_receivers_run_in_one_thread_call_and_inline_ones_here() -> None:
    import threading

    signal = Signal()
    threads: list[int] = []

    def record(**kwargs: Any) -> None:
        threads.append(threading.get_ident())

    def record_too(**kwargs: Any) -> None:
        threads.append(threading.get_ident())

    def inline(**kwargs: Any) -> None:
        threads.append(threading.get_ident())

    signal.connect(record)
    signal.connect(record_too)
    signal.connect(inline, thread=False)
    await signal.asend(None)
    assert threads[0] == threads[1] != threading.get_ident() == threads[2]


@asyncio_only
async def test_a_timed_sync_receiver_runs_with_the_async_ones() -> None:
    signal = Signal()
    signal.connect(async_one)
    signal.connect(sync_one, timeout=5)
    assert await signal.asend(None) == [(async_one, "async"), (sync_one, "sync")]


@asyncio_only
async def test_errors_of_async_receivers_are_raised_after_all_ran() -> None:
    signal = Signal()

    async def fails(**kwargs: Any) -> None:
        raise ValueError("one")

    async def fails_too(**kwargs: Any) -> None:
        raise KeyError("two")

    signal.connect(fails)
    with pytest.raises(ValueError, match="one"):
        await signal.asend(None)
    signal.connect(fails_too)
    with pytest.raises(ExceptionGroup) as raised:
        await signal.asend(None)
    assert [type(e) for e in raised.value.exceptions] == [ValueError, KeyError]


@asyncio_only
async def test_robust_failures_are_logged_on_django_dispatch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    signal = Signal()

    def fails(**kwargs: Any) -> None:
        raise ValueError("sync failed")

    async def fails_async(**kwargs: Any) -> None:
        raise ValueError("async failed")

    def not_a_coroutine_after_all(**kwargs: Any) -> None:
        raise TypeError("at call")

    signal.connect(fails)
    signal.connect(fails_async)
    with caplog.at_level(logging.ERROR, logger="django.dispatch"):
        responses = await signal.asend_robust(None)
        assert [type(r) for _, r in responses] == [ValueError, ValueError]
    assert [r.name for r in caplog.records] == ["django.dispatch"] * 2
    assert "in Signal.send_robust() (sync failed)" in caplog.records[0].getMessage()
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="django.dispatch"):
        responses = await anyio_to_thread(signal.send_robust)
    assert [str(r) for _, r in responses] == ["sync failed", "async failed"]


async def anyio_to_thread(function: Any) -> Any:
    import anyio.to_thread

    return await anyio.to_thread.run_sync(function, None)


def test_no_frame_between_send_and_a_sync_receiver() -> None:
    signal = Signal()
    callers: list[str] = []

    def record(**kwargs: Any) -> None:
        callers.append(sys._getframe(1).f_code.co_name)

    signal.connect(record)
    signal.send(None)
    signal.send_robust(None)
    signal.connect(async_one)
    signal.send(None)
    assert callers == ["send", "send_robust", "send"]


def test_kwargs_are_checked_only_under_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    signal = Signal()

    def no_kwargs(sender: Any) -> None:
        pass

    signal.connect(no_kwargs)  # Django unconfigured: DEBUG is off
    assert dj._connecting._debug() is False
    monkeypatch.setattr(dj._connecting, "_debug", lambda: True)
    with pytest.raises(ValueError, match=r"^Signal receivers must accept keyword"):
        signal.connect(no_kwargs, dispatch_uid="again")
    with pytest.raises(TypeError, match=r"^Signal receivers must be callable\."):
        signal.connect(42)  # type: ignore[call-overload]


def test_use_caching_positionally_as_in_django() -> None:
    assert Signal(True).use_caching is True  # type: ignore[arg-type]


def test_receivers_is_djangos_list_and_can_be_saved_and_assigned_back() -> None:
    signal = Signal()

    class Sender:
        pass

    strong = lambda **kwargs: "strong"  # noqa: E731
    signal.connect(sync_one, sender=Sender)
    signal.connect(strong, weak=False, dispatch_uid="uid")
    signal.connect(async_one, sender=1)
    entries = signal.receivers
    assert entries[0][0] == (id(sync_one), id(Sender))
    assert isinstance(entries[0][1], weakref.ref)
    assert entries[0][1]() is sync_one
    assert entries[0][2]() is Sender
    assert entries[0][3] is False
    assert entries[1] == (("uid", id(None)), strong, None, False)
    assert entries[2][2] is None
    assert entries[2][3] is True
    with signal.lock:  # reversion's mute_signals, verbatim in shape
        paused = signal.receivers[:]
        signal.receivers = []
        signal.sender_receivers_cache.clear()
    assert signal.receivers == []
    assert signal.send(Sender) == []
    signal.connect(other_sync)
    with signal.lock:
        signal.receivers = paused + signal.receivers
        signal.sender_receivers_cache.clear()
    assert len(signal.sender_receivers_cache) == 0
    assert "senders" in repr(signal.sender_receivers_cache)
    assert [r for r, _ in signal.send(Sender)] == [sync_one, strong, other_sync]
    with pytest.raises(TypeError, match="only entries read from this"):
        signal.receivers = [(("x", 0), sync_one, None, False)]
    with pytest.raises(TypeError, match="only entries read from this"):
        signal.receivers = (
            Signal().receivers + [entries[0]][:0] + [_entry_of_another_signal()]
        )


def _entry_of_another_signal() -> Any:
    other = Signal()
    other.connect(sync_one)
    return other.receivers[0]


def test_replace_leaves_out_the_dead_and_repeats(collect: Any) -> None:
    signal = Signal()

    class Sender:
        pass

    def dies(**kwargs: Any) -> None:
        pass

    sender: Any = Sender()
    signal.connect(dies)
    signal.connect(sync_one, sender=sender)
    saved = signal.receivers
    del dies, sender
    collect()
    signal.receivers = saved + saved
    assert signal.receivers == []
    signal.connect(sync_one)
    live = signal.receivers
    signal.receivers = live + live  # a repeat is kept once
    assert signal.receivers == live


def test_clear_dead_receivers_and_live_receivers(collect: Any) -> None:
    signal = Signal()

    def dies(**kwargs: Any) -> None:
        pass

    signal.connect(dies)
    signal.connect(sync_one)
    signal.connect(async_one)
    del dies
    collect()
    with signal.lock:
        signal._clear_dead_receivers()
    assert len(signal.receivers) == 2
    assert signal._live_receivers(None) == ([sync_one], [async_one])


@asyncio_only
async def test_a_replaced_live_receivers_is_what_sends_run() -> None:
    seen: list[object] = []

    class Traced(Signal):
        def _live_receivers(self, sender: object) -> Any:
            sync, async_ = super()._live_receivers(sender)
            seen.append(sender)
            return sync, async_

    signal = Traced()
    signal.connect(sync_one)
    signal.connect(async_one)
    assert await signal.asend(1) == [(sync_one, "sync"), (async_one, "async")]
    assert await signal.asend_robust(2) == [(sync_one, "sync"), (async_one, "async")]
    assert await anyio_to_thread(signal.send) == [
        (sync_one, "sync"),
        (async_one, "async"),
    ]
    assert await anyio_to_thread(signal.send_robust) == [
        (sync_one, "sync"),
        (async_one, "async"),
    ]
    signal.disconnect(async_one)
    assert signal.send(3) == [(sync_one, "sync")]
    assert seen == [1, 2, None, None, 3]


def test_a_subclass_connect_without_policies_takes_them() -> None:
    class Lazy(Signal):  # as Django's ModelSignal
        def connect(  # type: ignore[override]
            self,
            receiver: Any,
            sender: Any = None,
            weak: bool = True,
            dispatch_uid: Any = None,
            apps: Any = None,
        ) -> None:
            super().connect(receiver, sender, weak=weak, dispatch_uid=dispatch_uid)

    signal = Lazy()
    signal.connect(sync_one, once=True)  # type: ignore[call-arg]
    signal.connect(other_sync)
    assert [r for r, _ in signal.send(None)] == [sync_one, other_sync]
    assert [r for r, _ in signal.send(None)] == [other_sync]
    with pytest.raises(ValueError, match="needs an async receiver or thread=True"):
        Lazy(thread=False).connect(other_sync, timeout=1)  # type: ignore[call-arg]


def test_asend_of_sync_receivers_needs_asyncio() -> None:
    trio = pytest.importorskip("trio")
    signal = Signal()
    signal.connect(sync_one)
    with pytest.raises(RuntimeError, match="needs asyncio"):
        trio.run(signal.asend, None)
    timed = Signal()
    timed.connect(sync_one, timeout=1)
    with pytest.raises(RuntimeError, match="needs asyncio"):
        trio.run(timed.asend, None)


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_install_makes_djangos_signals_asyncsignal_signals() -> None:
    done = _python(
        """
        import asyncsignal.django
        asyncsignal.django.install()
        asyncsignal.django.install()  # harmless
        import django.dispatch
        from django.conf import settings
        settings.configure()
        import django
        django.setup()
        from django.db.models.signals import post_save
        from django.core.signals import request_finished
        assert isinstance(post_save, asyncsignal.django.Signal)
        assert isinstance(request_finished, asyncsignal.django.Signal)
        assert django.dispatch.Signal is asyncsignal.django.Signal
        class Order: pass
        def saved(sender, **kwargs): return "saved"
        post_save.connect(saved, sender=Order, thread=False)
        assert post_save.send(Order) == [(saved, "saved")]
        print("ok")
        """
    )
    assert done.stdout.strip() == "ok", done.stderr


def test_install_too_late_says_where_to_call_it() -> None:
    done = _python(
        """
        import django.core.signals
        import asyncsignal.django
        try:
            asyncsignal.django.install()
        except RuntimeError as error:
            print(error)
        """
    )
    assert "django.core.signals.request_finished" in done.stdout, done.stderr
    assert "manage.py" in done.stdout


def test_install_before_django_dispatch_is_imported() -> None:
    done = _python(
        """
        import sys
        import asyncsignal.django
        assert "django.core.signals" not in sys.modules
        asyncsignal.django.install()
        import django.dispatch
        print(django.dispatch.Signal is asyncsignal.django.Signal)
        """
    )
    assert done.stdout.strip() == "True", done.stderr


# -- the rest of Signal's paths: checks, subscriptions, dead and once receivers -----


def test_a_payload_check_and_subscriptions_see_every_send_method() -> None:
    from asyncsignal import _seam
    from asyncsignal.testing import capture

    signal = Signal()
    checked: list[str] = []
    _seam.set_payload_check(signal, lambda method, named: checked.append(method))
    with capture(signal) as events:
        assert signal.send(None, x=1) == []  # nothing connected at all
        signal.connect(sync_one, sender=object)
        assert signal.send(None, x=1) == []  # nothing for this sender
        assert signal.send_robust(None, x=1) == []
    assert checked == ["send", "send", "send_robust"]
    assert len(events) == 3


@asyncio_only
async def test_asend_checks_publishes_and_returns_nothing_without_receivers() -> None:
    from asyncsignal import _seam
    from asyncsignal.testing import capture

    signal = Signal()
    checked: list[str] = []
    _seam.set_payload_check(signal, lambda method, named: checked.append(method))
    with capture(signal) as events:
        assert await signal.asend(None) == []
        assert await _seam.asend_robust_offering(signal, None, {}, ()) == []
    assert checked == ["asend", "asend_robust"]
    assert len(events) == 1  # the bridge's path offered it to no one


def test_a_weakly_connected_lambda_warns() -> None:
    from asyncsignal import WeakReceiverWarning

    with pytest.warns(WeakReceiverWarning, match="connected weakly"):
        Signal().connect(lambda **kwargs: None)


def test_pending_policies_of_other_receivers_are_left_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        dj._connecting, "_pending_policies", {(0, 0): (None, True, None, False)}
    )
    signal = Signal()
    signal.connect(sync_one)
    assert dj._connecting._pending_policies == {(0, 0): (None, True, None, False)}


@asyncio_only
async def test_dead_and_claimed_receivers_are_skipped_by_every_path(
    collect: Any,
) -> None:
    signal = Signal()

    def dies(**kwargs: Any) -> str:
        return "dead"

    async def dies_async(**kwargs: Any) -> str:
        return "dead"

    signal.connect(dies)
    signal.connect(dies, sender=int, thread=True)
    signal.connect(dies_async)
    signal.connect(dies_async, sender=int, timeout=5)
    signal.connect(sync_one, once=True)
    signal.connect(async_one, once=True)
    signal.connect(other_sync, thread=False)
    del dies, dies_async
    collect()
    assert await signal.asend(None) == [
        (sync_one, "sync"),
        (other_sync, "other"),
        (async_one, "async"),
    ]
    # The once receivers are gone; the dead ones are skipped everywhere.
    assert await signal.asend(None) == [(other_sync, "other")]
    assert signal.send(None) == [(other_sync, "other")]
    assert signal.send_robust(None) == [(other_sync, "other")]
    assert signal._live_receivers(None) == ([other_sync], [])


def test_send_skips_dead_receivers_and_claimed_once_ones(collect: Any) -> None:
    signal = Signal()

    def dies(**kwargs: Any) -> str:
        return "dead"

    signal.connect(dies)
    signal.connect(sync_one, once=True)
    signal.connect(other_sync)
    del dies
    collect()
    assert signal.send(None) == [(sync_one, "sync"), (other_sync, "other")]
    assert signal.send(None) == [(other_sync, "other")]


@asyncio_only
async def test_an_async_receiver_that_fails_to_start_is_isolated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(dj._connecting, "_debug", lambda: False)  # no check at connect
    signal = Signal()

    async def no_kwargs() -> str:  # Django checks this only under DEBUG
        return "never"

    signal.connect(no_kwargs, weak=False)
    signal.connect(async_one)
    [(receiver, error), (_, response)] = await signal.asend_robust(None)
    assert receiver is no_kwargs
    assert isinstance(error, TypeError)
    assert response == "async"


def test_install_when_only_the_dispatcher_module_was_replaced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import django.dispatch
    import django.dispatch.dispatcher

    monkeypatch.setattr(django.dispatch, "Signal", django.dispatch.Signal)
    monkeypatch.setattr(django.dispatch.dispatcher, "Signal", Signal)
    dj.install()
    assert django.dispatch.Signal is Signal  # type: ignore[comparison-overlap]


def _victim() -> Any:
    def victim(**kwargs: Any) -> str:
        return "victim"

    return victim


@pytest.mark.parametrize("method", ["send", "send_robust"])
@pytest.mark.parametrize("policy", [{}, {"once": True}])
def test_a_receiver_dropped_by_an_earlier_one_is_skipped(
    method: str, policy: dict[str, Any]
) -> None:
    signal = Signal()
    held = [_victim()]

    def drops_it(**kwargs: Any) -> str:
        held.clear()  # its last reference: the weak registration dies
        return "dropper"

    signal.connect(drops_it, weak=False)
    signal.connect(held[0], **policy)
    assert getattr(signal, method)(None) == [(drops_it, "dropper")]


@pytest.mark.parametrize("method", ["send", "send_robust"])
def test_a_once_receiver_claimed_by_a_nested_send_is_skipped(method: str) -> None:
    signal = Signal()
    nested: list[Any] = []
    depth = [0]

    def sends_again(**kwargs: Any) -> str:
        depth[0] += 1
        if depth[0] == 1:
            nested.append(getattr(signal, method)(None))
        return "outer"

    signal.connect(sends_again, weak=False)
    signal.connect(sync_one, once=True)
    assert getattr(signal, method)(None) == [(sends_again, "outer")]
    assert nested == [[(sends_again, "outer"), (sync_one, "sync")]]


@pytest.mark.parametrize(
    "anyio_backend",
    [
        pytest.param(*b.values, id=b.id, marks=UNRETRIEVED_EAGER_TASK_EXCEPTION)
        for b in ASYNCIO_BACKENDS
    ],
)
async def test_an_async_receivers_interrupt_leaves_asend_as_itself() -> None:
    signal = Signal()

    async def interrupts(**kwargs: Any) -> None:
        raise SystemExit("stop")

    signal.connect(interrupts, weak=False)
    with pytest.raises(SystemExit, match="stop"):
        await signal.asend(None)


def test_connect_without_a_receiver_is_a_decorator_with_the_options() -> None:
    signal = Signal()

    @signal.connect(weak=False, once=True)
    def handler(**kwargs: Any) -> str:
        return "h"

    assert signal.send(None) == [(handler, "h")]
    assert signal.send(None) == []  # once=True


def test_receiver_passes_any_connect_keyword_as_djangos_does() -> None:
    """Django's @receiver forwards **kwargs: a subclass's own connect keyword
    (ModelSignal's ``apps``) and asyncsignal's policies both reach connect."""
    seen: dict[str, Any] = {}

    class WithApps(Signal):
        def connect(  # type: ignore[override]
            self, receiver: Any, sender: object = None, apps: Any = None, **kw: Any
        ) -> Any:
            seen["apps"] = apps
            return super().connect(receiver, sender, **kw)

    signal = WithApps()

    @dj.receiver(signal, apps="the registry", weak=False, once=True)
    def handler(**kwargs: Any) -> str:
        return "h"

    assert seen == {"apps": "the registry"}
    assert signal.send(None) == [(handler, "h")]
    assert signal.send(None) == []  # once=True reached connect
    assert dj.receiver.__module__ == "asyncsignal.django"
    with pytest.raises(TypeError, match="receiver\\(\\) takes a signal"):
        dj.receiver(42)  # type: ignore[arg-type]
