"""Weak means weak: receivers are held weakly unless ``weak=False``; a dead
receiver is never called and its registration disappears, even when it dies
during a send or while asend is in flight; no cache, view or kept error keeps a
receiver alive.

Sender lifetimes are covered by test_registry_senders.py.
"""

from __future__ import annotations

import gc
import sys
import weakref
from typing import TYPE_CHECKING, Any

import anyio
import pytest
from receivers import Sender, Target, called, make_async, make_sync

from asyncsignal import AsyncSignal, WeakReceiverWarning

if sys.version_info < (3, 11):
    from exceptiongroup import ExceptionGroup

if TYPE_CHECKING:
    from collections.abc import Callable

Collect = Any  # the ``collect`` fixture from conftest.py: call it to run the GC


def test_weak_receiver_registration_disappears_when_it_is_collected(
    collect: Collect,
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    signal.connect(make_sync(log, "kept"), weak=False)
    temporary = signal.connect(make_sync(log, "temporary"))
    assert len(signal.receivers) == 2
    ref = weakref.ref(temporary)
    del temporary
    collect()
    assert ref() is None
    assert len(signal.receivers) == 1
    assert called(signal) == ["kept"]
    assert log == ["kept"]


def test_weak_lambda_connected_without_a_reference_is_gone_immediately(
    collect: Collect,
) -> None:
    signal = AsyncSignal()
    with pytest.warns(WeakReceiverWarning, match="connected weakly"):
        signal.connect(lambda **kwargs: "lost")
    collect()
    assert len(signal.receivers) == 0
    assert not signal.receivers
    assert not signal.has_listeners()
    assert signal.send(None) == []


def test_weak_false_keeps_an_otherwise_unreferenced_receiver_alive(
    collect: Collect,
) -> None:
    signal = AsyncSignal()
    signal.connect(lambda **kwargs: "kept", weak=False)
    collect()
    assert len(signal.receivers) == 1
    assert called(signal) == ["kept"]


def test_weak_bound_method_survives_the_temporary_bound_method_object(
    collect: Collect,
) -> None:
    signal = AsyncSignal()
    target = Target("alive")
    signal.connect(target.method)  # the bound method object dies right away
    collect()
    assert len(signal.receivers) == 1
    assert signal.send(None) == [(target.method, "alive.method")]


def test_weak_bound_method_registration_disappears_with_its_instance(
    collect: Collect,
) -> None:
    signal = AsyncSignal()
    target = Target()
    signal.connect(target.method)
    ref = weakref.ref(target)
    assert called(signal) == ["target.method"]
    del target
    collect()
    assert ref() is None
    assert len(signal.receivers) == 0
    assert signal.send(None) == []


def test_weak_false_bound_method_keeps_its_instance_alive(collect: Collect) -> None:
    signal = AsyncSignal()
    target = Target("strong")
    ref = weakref.ref(target)
    signal.connect(target.method, weak=False)
    del target
    collect()
    assert ref() is not None
    assert called(signal) == ["strong.method"]


def test_no_cache_or_view_keeps_a_weak_receiver_alive(collect: Collect) -> None:
    signal = AsyncSignal()
    sender = Sender()
    log: list[str] = []
    any_sender = signal.connect(make_sync(log, "any"))
    specific = signal.connect(make_sync(log, "specific"), sender=sender)
    target = Target()
    signal.connect(target.method, sender=sender)
    # Exercise every read path so that every cache is populated.
    assert called(signal) == ["any"]
    assert called(signal, sender) == ["any", "specific", "target.method"]
    assert len(signal.send_robust(sender)) == 3
    assert signal.has_listeners(sender)
    assert any_sender in signal.receivers
    assert list(signal.receivers) == [any_sender, specific, target.method]
    assert "3 receivers" in repr(signal)
    refs: list[weakref.ref[Any]] = [
        weakref.ref(any_sender),
        weakref.ref(specific),
        weakref.ref(target),
    ]
    del any_sender, specific, target
    collect()
    assert [ref() for ref in refs] == [None, None, None]
    assert len(signal.receivers) == 0
    assert signal.send(sender) == []
    assert not signal.has_listeners(sender)


def test_receivers_dying_inside_the_garbage_collector_leave_the_registry_consistent(
    collect: Collect,
) -> None:
    # Receivers in reference cycles die inside the cyclic GC, which runs their
    # weak-reference callbacks there; the registry stays consistent.
    signal = AsyncSignal()
    survivors: list[Target] = []
    for index in range(50):
        target = Target(f"t{index}")
        target.cycle = target  # type: ignore[attr-defined]
        signal.connect(target.method)
        if index % 10 == 0:
            survivors.append(target)
    del target
    collect()
    assert len(signal.receivers) == len(survivors)
    assert called(signal) == [f"{t.name}.method" for t in survivors]


# -- receivers dying during a dispatch ------------------------------------------


def _killer_and_victim(
    log: list[str],
) -> tuple[Callable[..., str], Callable[..., str]]:
    """A receiver that drops the last reference to the other one (and collects)."""
    holder = [make_sync(log, "victim")]

    def killer(**kwargs: Any) -> str:
        holder.clear()
        gc.collect()
        return "killed"

    return killer, holder[0]


@pytest.mark.parametrize("method", ["send", "send_robust"])
def test_send_skips_a_receiver_that_dies_during_the_send(method: str) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    killer, victim = _killer_and_victim(log)
    signal.connect(killer)
    signal.connect(victim)
    del victim
    assert getattr(signal, method)(None) == [(killer, "killed")]
    assert log == []
    assert list(signal.receivers) == [killer]


@pytest.mark.parametrize("method", ["asend", "asend_robust"])
async def test_asend_skips_a_receiver_that_dies_during_the_send(method: str) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    killer, victim = _killer_and_victim(log)
    signal.connect(killer)
    signal.connect(victim)
    del victim
    assert await getattr(signal, method)(None) == [(killer, "killed")]
    assert log == []
    assert list(signal.receivers) == [killer]


async def test_asend_skips_receivers_that_died_before_it_started(
    collect: Collect,
) -> None:
    signal = AsyncSignal()
    log: list[str] = []
    kept = signal.connect(make_async(log, "kept"))
    signal.connect(make_async(log, "dead"))
    collect()
    assert await signal.asend(None) == [(kept, "kept")]
    assert log == ["kept:start", "kept:end"]


async def test_receiver_and_sender_dying_while_asend_is_in_flight() -> None:
    """Dropping our references while the receiver runs: the dispatch keeps what
    it started with; the registration goes once the dispatch lets go of the
    receiver, and nothing is left once the sender dies too."""
    signal = AsyncSignal()
    sender = Sender()
    midway = anyio.Event()
    proceed = anyio.Event()

    class Listener:
        async def on_event(self, **kwargs: Any) -> str:
            midway.set()
            await proceed.wait()
            return "listener"

    listener = Listener()
    listener_alive = weakref.ref(listener)
    signal.connect(listener.on_event, sender=sender)

    async def send(results: list[Any], sender: Sender) -> None:
        results.extend(await signal.asend(sender))

    results: list[Any] = []
    async with anyio.create_task_group() as group:
        group.start_soon(send, results, sender)
        await midway.wait()
        del listener
        gc.collect()
        # The in-flight dispatch holds the bound method, and with it the
        # listener, which is therefore still registered.
        assert listener_alive() is not None
        assert len(signal.receivers) == 1
        proceed.set()
    assert [response for _, response in results] == ["listener"]
    del results
    gc.collect()
    assert listener_alive() is None
    assert len(signal.receivers) == 0
    sender_alive = weakref.ref(sender)
    del sender
    gc.collect()
    assert sender_alive() is None
    assert not signal.has_listeners(Sender())


async def test_a_kept_receiver_error_does_not_keep_other_receivers_alive() -> None:
    """A robust response (or a raised error) keeps the dispatch frame alive
    through its traceback; that frame must not hold every receiver."""
    signal = AsyncSignal()
    log: list[str] = []
    bystander = make_sync(log, "bystander")

    def fails(**kwargs: Any) -> None:
        raise ValueError("kept by the caller")

    async def fails_async(**kwargs: Any) -> None:
        raise KeyError("kept by the caller")

    signal.connect(fails)
    signal.connect(fails_async)
    signal.connect(bystander)
    responses = await signal.asend_robust(None)
    kept_errors = [responses[0][1], responses[1][1]]
    with pytest.raises(ExceptionGroup) as raised:
        await signal.asend(None)
    alive = weakref.ref(bystander)
    del responses, bystander
    gc.collect()
    assert alive() is None
    assert [type(e) for e in kept_errors] == [ValueError, KeyError]
    assert [type(e) for e in raised.value.exceptions] == [ValueError, KeyError]


def test_a_kept_send_robust_error_does_not_keep_other_receivers_alive() -> None:
    """As for asend above, on the sync path."""
    signal = AsyncSignal()
    log: list[str] = []
    bystander = make_sync(log, "bystander")
    signal.connect(
        make_sync(log, "fails", raises=ValueError("kept by the caller")), weak=False
    )
    signal.connect(bystander)
    responses = signal.send_robust(None)
    kept_error = responses[0][1]
    del responses
    alive = weakref.ref(bystander)
    del bystander
    gc.collect()
    assert isinstance(kept_error, ValueError)
    assert alive() is None
