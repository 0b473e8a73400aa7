from __future__ import annotations

import gc
import sys
from typing import Any

import pytest

_BACKENDS: list[Any] = [pytest.param(("asyncio", {}), id="asyncio")]
if sys.platform != "win32":
    import uvloop

    _BACKENDS.append(
        pytest.param(
            ("asyncio", {"loop_factory": uvloop.new_event_loop}), id="asyncio+uvloop"
        )
    )
_BACKENDS.append(pytest.param(("trio", {}), id="trio"))


@pytest.fixture(params=_BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    """Every async test runs on asyncio, asyncio+uvloop and trio."""
    return request.param


@pytest.fixture
def collect() -> Any:
    """Drop garbage now, as weak-reference tests must before asserting."""

    def collect() -> None:
        for _ in range(3):
            gc.collect()

    return collect
