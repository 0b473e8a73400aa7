"""Recording receivers shared by the tests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio

if TYPE_CHECKING:
    from collections.abc import Callable


def make_sync(
    log: list[str], name: str, raises: BaseException | None = None
) -> Callable[..., str]:
    """A sync receiver that records ``name`` and returns it (or raises)."""

    def receiver(**kwargs: Any) -> str:
        log.append(name)
        if raises is not None:
            raise raises
        return name

    receiver.__qualname__ = name
    return receiver


def make_async(
    log: list[str],
    name: str,
    delay: float | None = None,
    raises: BaseException | None = None,
) -> Callable[..., Any]:
    """An async receiver that logs its start and end and returns ``name``."""

    async def receiver(**kwargs: Any) -> str:
        log.append(f"{name}:start")
        if delay is not None:
            await anyio.sleep(delay)
        log.append(f"{name}:end")
        if raises is not None:
            raise raises
        return name

    receiver.__qualname__ = name
    return receiver
