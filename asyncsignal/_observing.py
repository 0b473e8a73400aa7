"""A receiver run under observation: the observers' ``receiver_started`` and
``receiver_ended`` around it, in its own context, told how it ended (see
``_observers.Observer``).

Only observed sends come here (a ``_observers.Watch``): a sync receiver is
called between the two calls (:func:`observe_call`); an async receiver, or
the wait for a ``thread=True`` one, is awaited between them in its own task
(:func:`observe_task`).
"""

from __future__ import annotations

import sys
from contextvars import copy_context
from time import perf_counter
from typing import TYPE_CHECKING, Any

import anyio

from ._context import enter_shared, leave_shared
from ._errors import ReceiverTimeout
from ._observers import failed

if TYPE_CHECKING:
    import contextvars
    from collections.abc import Callable, Coroutine

    from ._backends import TaskRunner
    from ._observers import How, Observer, Outcome, Watch

__all__ = ("observe_call", "observe_task")

#: asyncio 3.10 cannot give a task a context: an observed receiver's task
#: starts in a copy of the sender's and takes the send's context itself.
_ENTERS_SHARED = sys.version_info < (3, 11)


def _receiver_started(
    watch: Watch, receiver: object, how: How
) -> list[tuple[Observer, Any]]:
    single = watch.single
    if single is not None:
        observer, send = single
        try:
            return [(observer, observer.receiver_started(send, receiver, how))]
        except Exception:
            failed(observer, "receiver_started")
            return []
    started = []
    for observer, send in watch.receiving:
        try:
            context = observer.receiver_started(send, receiver, how)
        except Exception:
            failed(observer, "receiver_started")
            continue
        started.append((observer, context))
    return started


def _receiver_ended(
    started: list[tuple[Observer, Any]],
    outcome: Outcome,
    error: BaseException | None,
    duration: float,
) -> None:
    for observer, context in reversed(started):
        try:
            observer.receiver_ended(context, outcome, error, duration)
        except Exception:
            failed(observer, "receiver_ended")


def observe_call(
    watch: Watch, how: How, receiver: Callable[..., Any], /, **kwargs: Any
) -> Any:
    """Call ``receiver(**kwargs)`` (a sync receiver, in this thread and
    context), telling the observers of ``watch``."""
    started = _receiver_started(watch, receiver, how)
    begin = perf_counter()
    try:
        response = receiver(**kwargs)
    except BaseException as error:
        _receiver_ended(started, "error", error, perf_counter() - begin)
        raise
    _receiver_ended(started, "response", None, perf_counter() - begin)
    return response


async def observe_task(
    watch: Watch,
    how: How,
    receiver: object,
    coro: Coroutine[Any, Any, Any],
    runner: TaskRunner,
    index: int,
    shared: contextvars.Context | None,
) -> Any:
    """Await ``coro`` (an async receiver's, or the wait for a ``thread=True``
    receiver) as ``runner``'s receiver ``index``, telling the observers of
    ``watch``, in the task's own context; if ``shared`` (the send's context)
    is given (``runner.coroutines_share``), hand back into it what the
    receiver set, having first taken its values on Python 3.10 (where the
    runner cannot start the task in a copy of it): one coroutine less than
    the runner's own ``run_sharing``.

    Once the task is cancelled, ``runner.limit_hit(index)`` says whether its time
    limit did it. The runner makes the receiver's :class:`~asyncsignal.ReceiverTimeout`
    after the task has ended; the observers get an equal one made here."""
    # enter_shared's and leave_shared's tests inline: no call in the common case.
    if _ENTERS_SHARED and shared is not None and copy_context() != shared:
        enter_shared(shared)
    # One observer (a tracer, the common case) is called here, not through
    # _receiver_started and _receiver_ended: two calls and a list less.
    single = watch.single
    one: tuple[Observer, Any] | None = None
    started: list[tuple[Observer, Any]] = []
    if single is None:
        started = _receiver_started(watch, receiver, how)
    else:
        try:
            one = (single[0], single[0].receiver_started(single[1], receiver, how))
        except Exception:
            failed(single[0], "receiver_started")
    # Marked after the observers' calls: what they set is not handed back, and
    # a receiver that sets nothing is seen to in constant time (shared storage).
    mark = copy_context()
    begin = perf_counter()
    try:
        response = await coro
    except BaseException as error:
        duration = perf_counter() - begin
        if shared is not None and copy_context() != mark:
            leave_shared(shared, mark)
        outcome: Outcome = "error"
        told: BaseException = error
        if isinstance(error, anyio.get_cancelled_exc_class()):
            limit = runner.limit_hit(index)
            outcome = "cancelled" if limit is None else "timeout"
            if limit is not None:
                told = ReceiverTimeout(receiver, limit)
        _receiver_ended([one] if one is not None else started, outcome, told, duration)
        raise
    duration = perf_counter() - begin
    if shared is not None and copy_context() != mark:
        leave_shared(shared, mark)
    if one is not None:
        try:
            one[0].receiver_ended(one[1], "response", None, duration)
        except Exception:
            failed(one[0], "receiver_ended")
    elif started:
        _receiver_ended(started, "response", None, duration)
    return response
