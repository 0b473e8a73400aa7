"""Misuse gets a clear error naming the argument, what was expected and what was
given, and changes nothing. One test per row of README's error table."""

from __future__ import annotations

import functools
import gc
import subprocess
import sys
import textwrap
import warnings
from typing import Any

import pytest

from asyncsignal import AsyncSignal, receiver


def ok(**kwargs: Any) -> str:
    return "ok"


def no_kwargs(sender: object) -> None:
    """A receiver that forgot **kwargs."""


class Slotted:
    __slots__ = ()

    def __call__(self, **kwargs: Any) -> None:
        """Callable, but cannot be weakly referenced."""


def connected_signal() -> AsyncSignal:
    signal = AsyncSignal()
    signal.connect(ok)
    return signal


def test_connect_rejects_non_callable_receiver_and_changes_nothing() -> None:
    signal = connected_signal()
    with pytest.raises(TypeError, match=r"receiver must be callable, got int 42"):
        signal.connect(42)  # type: ignore[type-var]
    assert list(signal.receivers) == [ok]


def test_connect_rejects_receiver_without_var_keywords_naming_it() -> None:
    signal = connected_signal()
    with pytest.raises(
        ValueError, match=r"no_kwargs must accept keyword arguments"
    ) as e:
        signal.connect(no_kwargs)
    assert "(sender: 'object')" in str(e.value) or "(sender: object)" in str(e.value)
    assert list(signal.receivers) == [ok]


def test_connect_rejects_partial_without_var_keywords() -> None:
    signal = AsyncSignal()
    with pytest.raises(ValueError, match=r"functools\.partial\(.*no_kwargs"):
        signal.connect(functools.partial(no_kwargs))
    assert not signal.receivers


class Opaque:
    """A callable whose signature cannot be determined."""

    @property
    def __signature__(self) -> Any:
        raise ValueError("no signature found")

    def __call__(self, **kwargs: Any) -> None:
        """Never connected."""


def test_connect_rejects_uninspectable_receiver() -> None:
    signal = AsyncSignal()
    with pytest.raises(ValueError, match="signature cannot be inspected"):
        signal.connect(Opaque())
    assert not signal.receivers


def test_connect_weakly_rejects_object_without_weak_reference_support() -> None:
    signal = AsyncSignal()
    target = Slotted()
    with pytest.raises(TypeError, match=r"cannot be weakly referenced.*weak=False"):
        signal.connect(target)
    assert not signal.receivers
    signal.connect(target, weak=False)
    assert list(signal.receivers) == [target]


def test_connect_rejects_unhashable_dispatch_uid() -> None:
    signal = connected_signal()
    with pytest.raises(
        TypeError, match=r"dispatch_uid must be hashable, got list \['a'\]"
    ):
        signal.connect(ok, dispatch_uid=["a"])  # type: ignore[arg-type]
    assert list(signal.receivers) == [ok]


def test_disconnect_without_receiver_or_uid_is_a_type_error() -> None:
    signal = connected_signal()
    with pytest.raises(TypeError, match="needs the receiver or its dispatch_uid"):
        signal.disconnect()
    assert list(signal.receivers) == [ok]


def test_payload_named_signal_is_rejected_before_any_receiver_runs() -> None:
    signal = AsyncSignal()
    calls: list[str] = []

    def record(**kwargs: Any) -> None:
        calls.append("called")

    signal.connect(record)
    for method in (signal.send, signal.send_robust):
        with pytest.raises(TypeError, match="payload argument named 'signal'"):
            method(None, signal="mine")
    assert calls == []


@pytest.mark.anyio
async def test_async_payload_named_signal_is_rejected_before_any_receiver_runs() -> (
    None
):
    signal = AsyncSignal()
    calls: list[str] = []

    async def record(**kwargs: Any) -> None:
        calls.append("called")

    signal.connect(record)
    for method in (signal.asend, signal.asend_robust):
        with pytest.raises(TypeError, match="payload argument named 'signal'"):
            await method(None, signal="mine")
    assert calls == []


def test_payload_named_sender_is_rejected_by_python_itself() -> None:
    signal = connected_signal()
    with pytest.raises(TypeError, match="multiple values for argument 'sender'"):
        signal.send(None, **{"sender": 1})


def test_providing_args_must_not_be_a_bare_string() -> None:
    with pytest.raises(TypeError, match=r"providing_args must be an iterable"):
        AsyncSignal(providing_args="instance")
    with pytest.raises(TypeError, match=r"providing_args must be an iterable"):
        AsyncSignal(providing_args=3)  # type: ignore[arg-type]


def test_receiver_decorator_rejects_non_signals() -> None:
    with pytest.raises(TypeError, match=r"receiver\(\) takes a signal"):
        receiver("post_save")  # type: ignore[arg-type]


def test_sync_receiver_returning_a_coroutine_gets_it_back_unawaited() -> None:
    """A sync function is a sync receiver: its return value is its response,
    even a coroutine. It is not awaited; close or await it yourself."""
    signal = AsyncSignal()

    async def work() -> str:
        return "done"

    def returns_coroutine(**kwargs: Any) -> Any:
        return work()

    signal.connect(returns_coroutine)
    ((_, response),) = signal.send(None)
    assert response.__class__.__name__ == "coroutine"
    response.close()


def test_unawaited_asend_warns_and_leaves_the_signal_intact() -> None:
    signal = AsyncSignal()
    calls: list[str] = []

    def record(**kwargs: Any) -> None:
        calls.append("called")

    signal.connect(record)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        signal.asend(None)  # type: ignore[unused-coroutine]
        gc.collect()
    assert any("was never awaited" in str(w.message) for w in caught)
    assert calls == []
    assert signal.send(None) == [(record, None)]


def test_weak_references_die_quietly_at_interpreter_shutdown() -> None:
    """Receivers and senders collected while the interpreter shuts down (and
    sends made from atexit) must not print 'Exception ignored' errors."""
    script = textwrap.dedent(
        """
        import atexit
        from asyncsignal import AsyncSignal

        signal = AsyncSignal()

        class Sender:
            pass

        class Listener:
            def on_event(self, **kwargs):
                return "heard"

        senders = [Sender() for _ in range(50)]
        listeners = [Listener() for _ in range(50)]
        for sender, listener in zip(senders, listeners):
            signal.connect(listener.on_event, sender=sender)

        async def on_any(**kwargs):
            return "async"

        signal.connect(on_any)

        def at_exit():
            assert signal.send(senders[0])[0][1] == "heard"

        atexit.register(at_exit)
        """
    )
    result = subprocess.run(
        [sys.executable, "-X", "dev", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
