"""asyncio's eager tasks (Python 3.12+): a receiver's coroutine runs up to its
first suspension inside the task's constructor, so one that never suspends
costs no trip through the scheduler. :func:`start_eagerly` starts a send's
receivers this way before any runner exists: most never suspend, and a send
then needs none (see ``open_runner_lazily`` in :mod:`asyncsignal._backends`).
"""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Any

from ._detect import running_loop

if TYPE_CHECKING:
    import contextvars
    from collections.abc import Coroutine

__all__ = ("EAGER", "start_eagerly")

#: asyncio has eager tasks.
EAGER = sys.version_info >= (3, 12)
_Task = asyncio.Task


def start_eagerly(
    coro: Coroutine[Any, Any, Any],
    context: contextvars.Context,
    outcomes: list[Any],
    errors: dict[int, Exception],
    index: int,
) -> asyncio.Task[Any] | None:
    """Run ``coro`` as an eager task of the running loop in ``context`` (3.12+,
    the loop's default task factory) up to its first suspension; ``None`` if
    it finished (its result in ``outcomes[index]`` or its ``Exception`` in
    ``errors[index]``; a ``BaseException`` propagates), else its task, for
    ``AsyncioRunner.adopt``: a send needs no runner until a receiver lives
    on."""
    # A KeyboardInterrupt or SystemExit from the task's first step escapes
    # the constructor and leaves the task unreachable, so asyncio reports its
    # exception as never retrieved. Making the task in two steps (__new__,
    # then __init__) would let us retrieve it, but costs ~350 ns per receiver
    # task (W3: +19%), for a log line next to an interrupt that propagates.
    task = _Task(  # type: ignore[call-arg,unused-ignore]
        coro, loop=running_loop(), eager_start=True, context=context
    )
    if not task.done():
        return task
    # Outside a done callback: a BaseException reaches the caller.
    try:
        outcomes[index] = task.result()
    except Exception as error:
        errors[index] = error
    return None
