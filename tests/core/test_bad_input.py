"""Misuse gets a clear error naming the argument, what was expected and what was
given, and changes nothing. One test per row of the error table in
docs/semantics.rst ("Errors for bad input"), in its order; each covers every
variant of its row."""

from __future__ import annotations

import functools
import gc
import subprocess
import sys
import textwrap
import warnings
from typing import TYPE_CHECKING, Any

import pytest
from receivers import Sender, make_async, make_sync

from asyncsignal import AsyncSignal, receiver

if TYPE_CHECKING:
    from collections.abc import Callable


def ok(**kwargs: Any) -> str:
    return "ok"


def connected_signal() -> tuple[AsyncSignal, Sender]:
    """A signal with ``ok`` connected for any sender, and a sender."""
    signal = AsyncSignal()
    signal.connect(ok)
    return signal, Sender()


def assert_unchanged(signal: AsyncSignal, sender: Sender) -> None:
    assert list(signal.receivers) == [ok]
    assert signal.send(sender) == [(ok, "ok")]


# -- connect(42) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "given"),
    [(42, "int 42"), ("handler", "str 'handler'"), (None, "NoneType None")],
    ids=["int", "str", "none"],
)
def test_connect_rejects_a_non_callable_receiver(bad: Any, given: str) -> None:
    signal, sender = connected_signal()
    with pytest.raises(TypeError, match=f"^receiver must be callable, got {given}$"):
        signal.connect(bad, sender=sender)
    assert_unchanged(signal, sender)


# -- connect(f) where def f(sender): ... --------------------------------------------


def no_kwargs(sender: object) -> None:
    """A receiver that forgot **kwargs."""


def varargs_only(*args: Any) -> None:
    """Positional arguments only."""


class WithoutKwargs:
    def __init__(self, sender: object) -> None:
        """A class whose constructor takes no **kwargs."""

    def __call__(self, sender: object) -> None:
        """Callable, but without **kwargs."""

    def method(self, sender: object) -> None:
        """A method without **kwargs."""


class Opaque:
    """A callable whose signature cannot be determined."""

    @property
    def __signature__(self) -> Any:
        raise ValueError("no signature found")

    def __call__(self, **kwargs: Any) -> None:
        """Never connected."""


@pytest.mark.parametrize(
    ("make_bad", "message"),
    [
        (lambda: no_kwargs, r"no_kwargs must accept .* signature is \(sender"),
        (lambda: varargs_only, r"varargs_only must accept .* is \(\*args"),
        (lambda: WithoutKwargs(None).method, r"WithoutKwargs\.method must accept"),
        (lambda: WithoutKwargs(None), r"WithoutKwargs object at .* must accept"),
        (lambda: WithoutKwargs, r"WithoutKwargs must accept"),
        (lambda: functools.partial(no_kwargs), r"functools\.partial\(.*no_kwargs"),
        (lambda: print, r"builtins\.print must accept"),
        (lambda: lambda sender: None, r"<lambda> must accept"),
        (lambda: dict, r"dict must accept .* signature cannot be inspected"),
        (lambda: Opaque(), r"Opaque object at .* signature cannot be inspected"),
    ],
    ids=[
        "function",
        "varargs-only",
        "bound-method",
        "callable-object",
        "class",
        "partial",
        "builtin",
        "lambda",
        "builtin-class-without-signature",
        "signature-raises",
    ],
)
def test_connect_rejects_a_receiver_without_var_keywords(
    make_bad: Callable[[], Any], message: str
) -> None:
    signal, sender = connected_signal()
    bad = make_bad()
    with pytest.raises(ValueError, match=message) as caught:
        signal.connect(bad, sender=sender, weak=False)
    assert r"keyword arguments (**kwargs)" in str(caught.value)
    assert_unchanged(signal, sender)


# -- connect(obj) with obj not weakly referenceable -----------------------------


class Slotted:
    __slots__ = ()

    def __call__(self, **kwargs: Any) -> str:
        return "slotted"

    def method(self, **kwargs: Any) -> str:
        return "slotted method"


@pytest.mark.parametrize(
    ("make_bad", "name"),
    [(lambda: Slotted(), "Slotted object"), (lambda: Slotted().method, "Slotted")],
    ids=["object", "method-of-object"],
)
def test_connect_rejects_a_receiver_that_cannot_be_weakly_referenced(
    make_bad: Callable[[], Callable[..., str]], name: str
) -> None:
    signal, sender = connected_signal()
    bad = make_bad()
    with pytest.raises(
        TypeError,
        match=rf"{name}.* cannot be weakly referenced \(Slotted objects do not "
        r"support weak references\); connect it with weak=False",
    ):
        signal.connect(bad, sender=sender)
    assert_unchanged(signal, sender)
    # As the message says:
    signal.connect(bad, sender=sender, weak=False)
    assert signal.send(sender) == [(ok, "ok"), (bad, bad())]


# -- connect(f, dispatch_uid=["a"]) ---------------------------------------------


@pytest.mark.parametrize(
    ("uid", "given"),
    [(["a"], r"list \['a'\]"), ({"a": 1}, r"dict \{'a': 1\}"), ({"a"}, r"set \{'a'\}")],
    ids=["list", "dict", "set"],
)
@pytest.mark.parametrize("method", ["connect", "disconnect"])
def test_an_unhashable_dispatch_uid_is_rejected(
    method: str, uid: Any, given: str
) -> None:
    signal, sender = connected_signal()
    with pytest.raises(
        TypeError, match=f"^dispatch_uid must be hashable, got {given}$"
    ):
        getattr(signal, method)(ok, sender=sender, dispatch_uid=uid)
    assert_unchanged(signal, sender)


# -- disconnect() ---------------------------------------------------------------


@pytest.mark.parametrize("with_sender", [False, True])
def test_disconnect_without_receiver_or_uid_is_a_type_error(with_sender: bool) -> None:
    signal, sender = connected_signal()
    with pytest.raises(
        TypeError,
        match=r"^disconnect\(\) needs the receiver or its dispatch_uid, got neither$",
    ):
        signal.disconnect(sender=sender if with_sender else None)
    assert_unchanged(signal, sender)


# -- send(None, signal=x) (any send method) -------------------------------------


@pytest.mark.parametrize("with_async", [False, True], ids=["sync-only", "with-async"])
@pytest.mark.parametrize("method", ["send", "send_robust", "asend", "asend_robust"])
async def test_a_payload_named_signal_is_rejected_before_any_receiver_runs(
    method: str, with_async: bool
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    keep = [signal.connect(make_sync(log, "sync"))]
    if with_async:
        keep.append(signal.connect(make_async(log, "async")))

    async def send() -> object:
        result = getattr(signal, method)(None, signal="mine")
        return await result if method.startswith("a") else result

    with pytest.raises(
        TypeError, match=r"^send\(\)/asend\(\) got a payload argument named 'signal'"
    ):
        await send()
    assert log == []
    assert [r for r, _ in await signal.asend(None)] == keep


# -- send(None, **{"sender": x}) ------------------------------------------------


@pytest.mark.parametrize("method", ["send", "send_robust", "asend", "asend_robust"])
def test_a_payload_named_sender_is_rejected_by_python_itself(method: str) -> None:
    signal, sender = connected_signal()
    with pytest.raises(TypeError, match="multiple values for argument 'sender'"):
        getattr(signal, method)(None, **{"sender": sender})
    assert_unchanged(signal, sender)


# -- send(...) in an event loop's thread with async receivers connected ----------


@pytest.mark.parametrize("method", ["send", "send_robust"])
async def test_send_in_an_event_loop_thread_with_async_receivers_is_a_runtime_error(
    method: str,
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    keep = [
        signal.connect(make_sync(log, "sync-before")),
        signal.connect(make_async(log, "async")),
        signal.connect(make_sync(log, "sync-after")),
    ]
    with pytest.raises(
        RuntimeError,
        match=rf"^{method}\(\) was called from a running event loop while async "
        rf"receivers are connected; use 'await signal\.a{method}\(\.\.\.\)' instead$",
    ):
        getattr(signal, method)(None)
    assert log == []  # nothing ran
    assert [r for r, _ in await signal.asend(None)] == keep
    # Backends start async receivers at different times; each ran once.
    assert sorted(log) == ["async:end", "async:start", "sync-after", "sync-before"]


# -- AsyncSignal(providing_args="size") ---------------------------------------------


@pytest.mark.parametrize("providing_args", ["size", 42], ids=["str", "int"])
def test_providing_args_that_is_a_bare_string_or_not_iterable_is_a_type_error(
    providing_args: Any,
) -> None:
    with pytest.raises(
        TypeError,
        match=r"^providing_args must be an iterable of argument names such as "
        rf"\['instance', 'created'\], got {providing_args!r}$",
    ):
        AsyncSignal(providing_args=providing_args)


# -- @receiver("post_save") -----------------------------------------------------


@pytest.mark.parametrize(
    ("make_signals", "given"),
    [
        (lambda signal: "post_save", "str 'post_save'"),
        (lambda signal: [signal, 42], "int 42"),
        (lambda signal: (signal, None), "NoneType None"),
    ],
    ids=["str", "list-with-int", "tuple-with-none"],
)
def test_receiver_decorator_rejects_what_is_not_a_signal_and_connects_nothing(
    make_signals: Callable[[AsyncSignal], Any], given: str
) -> None:
    signal, sender = connected_signal()
    with pytest.raises(
        TypeError,
        match=r"^receiver\(\) takes a signal or a list or tuple of signals, "
        f"got {given}$",
    ):
        receiver(make_signals(signal))
    assert_unchanged(signal, sender)


# -- a sync receiver returns a coroutine ----------------------------------------------


def test_sync_receiver_returning_a_coroutine_gets_it_back_unawaited() -> None:
    """A sync function is a sync receiver: its return value is its response,
    even a coroutine. It is not awaited; close or await it yourself."""
    signal = AsyncSignal()

    async def work() -> None:
        """Never run: the coroutine is closed unstarted."""

    def returns_coroutine(**kwargs: Any) -> Any:
        return work()

    signal.connect(returns_coroutine)
    ((_, response),) = signal.send(None)
    assert response.__class__.__name__ == "coroutine"
    assert response.cr_code is work.__code__
    response.close()


# -- signal.asend(...) without await --------------------------------------------------


def test_unawaited_asend_warns_and_leaves_the_signal_intact() -> None:
    signal = AsyncSignal()
    log: list[str] = []
    record = signal.connect(make_sync(log, "record"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        signal.asend(None)  # type: ignore[unused-coroutine]
        gc.collect()
    [warning] = caught
    assert warning.category is RuntimeWarning
    assert str(warning.message).startswith(
        "coroutine 'AsyncSignal.asend' was never awaited"
    )
    assert log == []
    assert signal.send(None) == [(record, "record")]


# -- interpreter shutdown while receivers/senders die --------------------------------


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
