"""Backends, hypothesis profiles and the check that event loops stay quiet.

asyncio reports a task destroyed while pending, an exception nobody retrieved
or a failing callback to its exception handler, which logs it: no warning is
raised, so ``filterwarnings = error`` cannot catch it. Each test phase fails
instead if, meanwhile, the ``asyncio`` logger emitted an ERROR record (loops of
any origin: the ``send`` bridge's, ``anyio.run``'s) or a loop of the suite
received an exception-handler context (see ``backends.py``). asyncio runs in
debug mode throughout: the asyncio backends set ``debug=True`` and
``PYTHONASYNCIODEBUG`` covers the loops the tests do not create themselves.
"""

from __future__ import annotations

import gc
import logging
import os
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, settings
from support.backends import BACKENDS, loop_errors
from support.observing import Recorder

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterator

os.environ["PYTHONASYNCIODEBUG"] = "1"

pytest_plugins = ("pytester",)

# The default "ci" profile is bounded and derandomized;
# ASYNCSIGNAL_HYPOTHESIS_PROFILE=long runs longer, random searches.
settings.register_profile(
    "ci",
    max_examples=30,
    stateful_step_count=25,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "long",
    max_examples=500,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("ASYNCSIGNAL_HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(params=BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    """Every async test runs on asyncio, asyncio+uvloop, asyncio+eager (Python
    3.12+) and trio."""
    return request.param


@pytest.fixture
def young_garbage_only() -> Iterator[None]:
    """Let ``gc.collect()`` skip every object that exists when the test starts.

    A full collection walks every object of the session (tens of
    milliseconds); tests that collect, often after each step, only need the
    objects they create to be collected.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@pytest.fixture
def unrecorded_receiver_errors() -> Iterator[None]:
    """Let no log record of a receiver's error outlive its send.

    pytest keeps every log record of a test, and a record of a receiver's
    error its exception: through the traceback that keeps the receiver's frame
    and, with it, the receiver (and its sender) alive. Tests that expect dead
    receivers to be gone raise asyncsignal's and Django's dispatch loggers
    (and their children) above CRITICAL, so that no record is even created.
    """
    loggers = [logging.getLogger(name) for name in ("asyncsignal", "django.dispatch")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


@pytest.fixture
def collect(young_garbage_only: None) -> Callable[[], None]:
    """Drop garbage now, as weak-reference tests must before asserting."""

    def collect() -> None:
        # Weak-reference callbacks run during a collection may leave more.
        gc.collect()
        gc.collect()

    return collect


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    """A :class:`~support.observing.Recorder` added as an observer."""
    import asyncsignal

    observer = Recorder()
    asyncsignal.add_observer(observer)
    try:
        yield observer
    finally:
        assert asyncsignal.remove_observer(observer)


# -- event loops stay quiet ----------------------------------------------------


class _ErrorRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


_asyncio_errors = _ErrorRecords()


def pytest_configure(config: pytest.Config) -> None:
    logging.getLogger("asyncio").addHandler(_asyncio_errors)


def pytest_unconfigure(config: pytest.Config) -> None:
    logging.getLogger("asyncio").removeHandler(_asyncio_errors)


def fail_if_event_loops_reported_errors() -> None:
    """Fail the current test phase if asyncio logged an error or a loop of the
    suite received an exception-handler context since the phase began."""
    problems = [
        f"asyncio logged: {record.getMessage()}" for record in _asyncio_errors.records
    ]
    problems += [
        f"the event loop's exception handler got: {context.get('message')!r} "
        f"{context.get('exception')!r}"
        for context in loop_errors
    ]
    _asyncio_errors.records.clear()
    loop_errors.clear()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def _checked_phase() -> Generator[None, object, object]:
    _asyncio_errors.records.clear()
    loop_errors.clear()
    result = yield
    fail_if_event_loops_reported_errors()
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from _checked_phase())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from _checked_phase())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from _checked_phase())
