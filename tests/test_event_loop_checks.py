"""The suite's own check (conftest.py) catches what asyncio only logs.

A task destroyed while pending is reported to the loop's exception handler
and logged, never raised, so ``filterwarnings = error`` cannot see it. These
tests run small test files under this suite's conftest.py in a separate pytest
process and show that each such report fails the test it happens in.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

from support.backends import ASYNCIO_BACKENDS

if TYPE_CHECKING:
    import pytest

HERE = Path(__file__).parent

INNER_TESTS = """
import asyncio
import gc
import logging

import anyio
import pytest
from support.backends import ASYNCIO_BACKENDS


async def _wait_forever() -> None:
    await asyncio.get_running_loop().create_future()


@pytest.mark.parametrize("anyio_backend", ASYNCIO_BACKENDS)
async def test_destroys_a_pending_task() -> None:
    task = asyncio.get_running_loop().create_task(_wait_forever())
    await asyncio.sleep(0)  # it starts, and waits for a future only it holds
    del task
    gc.collect()


@pytest.mark.parametrize("anyio_backend", ASYNCIO_BACKENDS)
async def test_destroys_a_pending_task_behind_a_silent_exception_handler() -> None:
    # Nothing is logged: only the recording loop sees the report.
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda loop, context: None)
    task = loop.create_task(_wait_forever())
    await asyncio.sleep(0)
    del task
    gc.collect()


def test_logs_an_asyncio_error() -> None:
    # As asyncio does for loops the suite does not create (send's bridge).
    logging.getLogger("asyncio").error("Unclosed resource")


async def test_stays_quiet() -> None:
    await anyio.sleep(0)
"""


def test_reports_of_asyncio_event_loops_fail_the_test_they_happen_in(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(conftest=(HERE / "conftest.py").read_text())
    support = pytester.mkpydir("support")
    for module in ("backends.py", "observing.py"):
        (support / module).write_text((HERE / "support" / module).read_text())
    pytester.makeini(
        textwrap.dedent(
            """
            [pytest]
            anyio_mode = auto
            filterwarnings = error
            """
        )
    )
    pytester.makepyfile(test_inner=INNER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    ids = [str(backend.id) for backend in ASYNCIO_BACKENDS]
    result.assert_outcomes(failed=2 * len(ids) + 1, passed=len(ids) + 1)
    destroyed = re.escape("Task was destroyed but it is pending!")
    # Each failure's section: its header, then the check's message.
    sections: list[str] = []
    for id in ids:
        sections += [
            rf"_+ test_destroys_a_pending_task\[{re.escape(id)}\] _+$",
            f"asyncio logged: {destroyed}$",
        ]
    for id in ids:
        sections += [
            r"_+ test_destroys_a_pending_task_behind_a_silent_exception_handler"
            rf"\[{re.escape(id)}\] _+$",
            f"the event loop's exception handler got: '{destroyed}' None$",
        ]
    sections += [
        r"_+ test_logs_an_asyncio_error _+$",
        "asyncio logged: Unclosed resource$",
    ]
    result.stdout.re_match_lines(sections)
