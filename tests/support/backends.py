"""The backends async tests run on, and what their event loops report.

Every asyncio variant runs in debug mode on a loop that records each context
passed to its exception handler in :data:`loop_errors`: ``conftest.py`` fails
the test during which one arrives. anyio's test runner installs its own
exception handler, which only logs what is not an ``Exception`` ("Task was
destroyed but it is pending!"), and an application may install a silent one;
recording in ``call_exception_handler`` itself sees every context either way.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from _pytest.mark import ParameterSet

#: Contexts event loops of the suite passed to their exception handler.
loop_errors: list[dict[str, Any]] = []


class _RecordingLoop(asyncio.AbstractEventLoop):
    """Records every exception-handler context before handling it."""

    def call_exception_handler(self, context: dict[str, Any]) -> None:
        loop_errors.append(context)
        super().call_exception_handler(context)


class RecordingSelectorLoop(_RecordingLoop, asyncio.SelectorEventLoop):
    """asyncio's own loop (the one ``asyncio.new_event_loop()`` returns on Unix)."""


def _asyncio(loop_factory: Any, id: str, debug: bool = True) -> ParameterSet:
    options = {"debug": debug, "loop_factory": loop_factory}
    return pytest.param(("asyncio", options), id=id)


ASYNCIO_BACKENDS: list[ParameterSet] = [_asyncio(RecordingSelectorLoop, "asyncio")]
#: For stress and memory tests: debug mode's bookkeeping (a traceback stored
#: with every task and coroutine) makes tens of thousands of sends take minutes.
#: No eager variant either: it changes how the suite's own tasks start, not the
#: receivers' (asyncsignal starts those eagerly on 3.12+ anyway).
STRESS_BACKENDS: list[ParameterSet] = [
    _asyncio(RecordingSelectorLoop, "asyncio", debug=False)
]
if sys.platform != "win32":
    import uvloop

    class RecordingUvloop(_RecordingLoop, uvloop.Loop):  # type: ignore[misc]
        """uvloop's loop."""

    ASYNCIO_BACKENDS.append(_asyncio(RecordingUvloop, "asyncio+uvloop"))
    STRESS_BACKENDS.append(_asyncio(RecordingUvloop, "asyncio+uvloop", debug=False))
if sys.version_info >= (3, 12):  # asyncio.eager_task_factory is new in 3.12

    def new_eager_loop() -> asyncio.AbstractEventLoop:
        """asyncio's own loop with the eager task factory: every task, anyio's
        and the tests' included, runs at creation up to its first suspension."""
        loop = RecordingSelectorLoop()
        loop.set_task_factory(asyncio.eager_task_factory)
        return loop

    ASYNCIO_BACKENDS.append(_asyncio(new_eager_loop, "asyncio+eager"))

TRIO = pytest.param(("trio", {}), id="trio")
STRESS_BACKENDS.append(TRIO)

#: Every backend; each async test runs on all of them unless it says otherwise.
BACKENDS: list[ParameterSet] = [*ASYNCIO_BACKENDS, TRIO]

#: For heavy tests that should still run in debug mode.
BACKENDS_WITHOUT_EAGER: list[ParameterSet] = [
    backend for backend in BACKENDS if backend.id != "asyncio+eager"
]


#: A limit kept for speed: on Python 3.12+ asyncio stores a KeyboardInterrupt
#: or SystemExit raised in an eagerly started task's first step in the task
#: and re-raises it out of the task's constructor, so neither asyncsignal (its
#: own eager tasks) nor anyone using the loop's eager task factory gets hold of
#: the task, and asyncio logs "Task exception was never retrieved" when it is
#: collected. The interrupt itself propagates as it should. Retrieving it would
#: take making every receiver task in two steps (__new__, then __init__):
#: ~350 ns per task, W3 +19%. Strict: the test fails once this changes.
UNRETRIEVED_EAGER_TASK_EXCEPTION = pytest.mark.xfail(
    sys.version_info >= (3, 12),
    raises=pytest.fail.Exception,  # conftest.py's check, no other failure
    strict=True,
    reason="an eager task's KeyboardInterrupt/SystemExit escapes its "
    "constructor, so the task is never returned and its exception never retrieved",
)


def starts_receivers_eagerly(anyio_backend: tuple[str, dict[str, Any]]) -> bool:
    """Whether an async receiver runs at its turn in ``asend``, up to its first
    suspension (asyncio: ``eager_start`` on Python 3.12+, asyncsignal's own
    stepping on 3.10 and 3.11), rather than once the sending task waits."""
    return anyio_backend[0] == "asyncio"
