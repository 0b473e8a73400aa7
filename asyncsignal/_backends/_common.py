"""What both backends' runners share: the runner interface, task names, and
how receivers' ``BaseException``\\ s propagate."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Protocol

from .._callables import describe

if sys.version_info < (3, 11):  # pragma: no cover - covered by the Python 3.10 run
    from exceptiongroup import BaseExceptionGroup

if TYPE_CHECKING:
    import contextvars
    from collections.abc import Coroutine

__all__ = ("RunnerState", "TaskRunner", "leaves", "one_or_group", "task_name")


class TaskRunner(Protocol):
    """Runs coroutines concurrently: results land in ``outcomes[index]``,
    exceptions in ``errors[index]``; a receiver that exceeds its ``timeout``
    gets a :class:`~asyncsignal.ReceiverTimeout` naming ``receivers[index]``.

    If :meth:`wait` or :meth:`abort` ends with an exception (cancellation, a
    ``BaseException``), ``aborted_errors`` holds the receivers' ``Exception``\\ s
    it displaced, for the caller to report.
    """

    outcomes: list[Any]
    errors: dict[int, Exception]
    aborted_errors: list[tuple[int, Exception]]
    #: Whether each coroutine given to :meth:`start` runs in a task of its own
    #: context (``open_runner(own_contexts=True)`` on asyncio) and hands back
    #: itself what its receiver set into the send's context (``leave_shared``;
    #: on 3.10, where the task starts in a copy of the sender's context, it
    #: takes the send's values first: ``enter_shared``); else the runner gives
    #: it the send's context.
    coroutines_share: bool

    @property
    def waiting(self) -> bool:
        """Whether :meth:`wait` must be awaited (and may be): a started
        receiver did not finish at once."""

    def start(
        self, coro: Coroutine[Any, Any, Any], index: int, timeout: float | None = None
    ) -> None:
        """Start running ``coro`` for ``outcomes[index]``, cancelled after
        ``timeout`` seconds if given."""

    def limit_hit(self, index: int) -> float | None:
        """For a receiver started with a ``timeout`` and then cancelled:
        that timeout if it is what cancelled it, else ``None``."""

    async def wait(self) -> None:
        """Wait until every started receiver has finished."""

    async def abort(self) -> None:
        """Cancel every started receiver and wait until they have finished."""


class RunnerState:
    """What every backend's runner holds (see :class:`TaskRunner`): the send's
    outcomes and receivers, and the errors collected so far; ``context`` is the
    send's shared context (see ``_context``)."""

    __slots__ = ("_context", "aborted_errors", "errors", "outcomes", "receivers")

    def __init__(
        self,
        outcomes: list[Any],
        receivers: list[Any],
        context: contextvars.Context,
    ) -> None:
        self.outcomes = outcomes
        self.receivers = receivers
        self.errors: dict[int, Exception] = {}
        self.aborted_errors: list[tuple[int, Exception]] = []
        self._context = context


def task_name(receiver: Any) -> str:
    # The qualified name the function already holds: no string to build.
    name = getattr(receiver, "__qualname__", None)
    return name if isinstance(name, str) else describe(receiver)


def one_or_group(errors: list[BaseException]) -> BaseException:
    """What propagates when receivers raise ``BaseException``\\ s (not
    cancellation): the exception itself, or a group if there are several."""
    if len(errors) == 1:
        return errors[0]
    return BaseExceptionGroup("several receivers raised in asend()", errors)


def leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    return [
        leaf
        for error in group.exceptions
        for leaf in (
            leaves(error) if isinstance(error, BaseExceptionGroup) else [error]
        )
    ]
