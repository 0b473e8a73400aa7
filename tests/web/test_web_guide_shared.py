"""The web guide's app (docs/guides/web.rst, its first example) with its
signal shared over a bridge: ``order=Order(...)``, a pydantic model, crosses
after one line, ``bridge.register(Order)``; without it the send is refused
before any receiver runs, with the recipe in the message.

The block runs as the module a reader would save it as (``sender=Order``
crosses as a reference to ``module:Order``), imported from a temporary
directory; the other process is a second bridge in this one, over
``memory://``, with its own signal of the same name.
"""

from __future__ import annotations

import importlib
import sys
import textwrap
from typing import TYPE_CHECKING, Any

import anyio
import pytest
from bridge_support.peers import DEADLINE, memory_url

from asyncsignal import AsyncSignal
from asyncsignal.bridge import Bridge

from .harness import ROOT, require_httpx

require_httpx()
pytest.importorskip("fastapi")

import httpx  # noqa: E402

#: The example's TestClient: Starlette >= 1 asks for httpx2 instead of httpx
#: (either works; see tests/test_docs_examples.py).
pytestmark = pytest.mark.filterwarnings(
    "ignore:Using `httpx` with `starlette.testclient` is deprecated"
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path
    from types import ModuleType


def _first_block(page: Path) -> str:
    lines = page.read_text().splitlines()
    start = lines.index(".. code-block:: python") + 1
    block: list[str] = []
    for line in lines[start:]:
        if line and not line.startswith("   "):
            break
        block.append(line)
    return textwrap.dedent("\n".join(block)).strip() + "\n"


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[ModuleType]:
    """The guide's example, imported as the module ``web_guide_shop``."""
    (tmp_path / "web_guide_shop.py").write_text(
        _first_block(ROOT / "docs" / "guides" / "web.rst")
    )
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module("web_guide_shop")
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("web_guide_shop", None)


async def test_the_web_guides_order_crosses_a_bridge_after_one_registration(
    shop: ModuleType,
) -> None:
    transport = httpx.ASGITransport(app=shop.app)
    unregistered = Bridge(memory_url())
    unregistered.share(shop.order_placed)
    async with (
        unregistered,
        httpx.AsyncClient(transport=transport, base_url="http://shop") as client,
    ):
        with pytest.raises(TypeError) as refused:
            await client.post("/orders", json={"id": 1, "quantity": 2})
    assert "payload argument 'order'" in str(refused.value)
    assert "bridge.register(Order) for a dataclass or a pydantic model" in str(
        refused.value
    )

    url = memory_url()
    here = Bridge(url)
    here.share(shop.order_placed)
    here.register(shop.Order)  # the one line
    elsewhere = AsyncSignal(name="order_placed")
    there = Bridge(url)
    there.share(elsewhere)
    there.register(shop.Order)
    arrived: list[tuple[object, Any]] = []
    got_one = anyio.Event()

    def record(sender: object, order: Any, **kwargs: object) -> None:
        arrived.append((sender, order))
        got_one.set()

    elsewhere.connect(record, sender=shop.Order, weak=False)
    async with (
        here,
        there,
        httpx.AsyncClient(transport=transport, base_url="http://shop") as client,
    ):
        response = await client.post("/orders", json={"id": 2, "quantity": 3})
        assert response.status_code == 200, response.text
        assert response.json()["receivers"]["reserve_stock"] == "reserved"
        with anyio.fail_after(DEADLINE):
            await got_one.wait()
    order_class: Any = shop.Order
    [(sender, order)] = arrived
    assert order == order_class(id=2, quantity=3)
    assert type(order) is order_class
    assert sender is order_class
