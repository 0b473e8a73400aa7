"""The app of the end-to-end benchmark: one FastAPI app, three signal libraries.

``POST /{contender}/{scenario}/orders`` validates the order, sends
``order_placed`` with that contender's signal and answers 201. Every contender
has the same receivers, connected the way its library runs them:

=============  ======================  =====================  ===================
scenario       asyncsignal (``asend``)  Django (``asend``)     blinker
                                                               (``send_async``)
=============  ======================  =====================  ===================
``light``      sync receivers inline,   sync receivers in one   one after another;
               async ones concurrently  ``sync_to_async`` hop,  sync ones inline
                                        async ones in a
                                        TaskGroup
``blocking``   + a 20 ms blocking      + the same, in that     + the same, inline:
               receiver, ``thread=True``  hop (Django's default)  it blocks the loop
=============  ======================  =====================  ===================

The ``light`` receivers: two sync ones that update in-memory state, an async
one that yields once (a queue hand-off) and an async one that waits 2 ms (a
network call). ``GET /stats`` counts every receiver's calls per contender and
scenario, so that ``run.py`` can check that each request ran all of them.
"""

# No `from __future__ import annotations`: FastAPI reads the annotations.
import asyncio
import collections
import itertools
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import blinker
import django.dispatch
from fastapi import FastAPI
from pydantic import BaseModel

from asyncsignal import AsyncSignal

CONTENDERS = ("asyncsignal", "django", "blinker")
SCENARIOS = ("light", "blocking")
#: How long the blocking receiver blocks its thread, in seconds.
BLOCKING_SECONDS = 0.020
#: How long the "network call" receiver waits, in seconds.
NETWORK_SECONDS = 0.002

_calls: collections.Counter[tuple[str, str, str]] = collections.Counter()
_calls_lock = threading.Lock()
_audit: collections.deque[dict[str, object]] = collections.deque(maxlen=1000)
_ids = itertools.count(1)


def _called(receiver: str, via: tuple[str, str]) -> None:
    contender, scenario = via
    with _calls_lock:  # the blocking receiver runs in worker threads
        _calls[contender, scenario, receiver] += 1


# -- the receivers: each library calls them as receiver(sender, **payload) -----


def count_order(
    sender: object, order: dict[str, object], via: tuple[str, str], **kwargs: Any
) -> None:
    _called("count_order", via)


def audit_order(
    sender: object, order: dict[str, object], via: tuple[str, str], **kwargs: Any
) -> None:
    _audit.append(order)
    _called("audit_order", via)


async def hand_off(
    sender: object, order: dict[str, object], via: tuple[str, str], **kwargs: Any
) -> None:
    await asyncio.sleep(0)
    _called("hand_off", via)


async def notify_warehouse(
    sender: object, order: dict[str, object], via: tuple[str, str], **kwargs: Any
) -> None:
    await asyncio.sleep(NETWORK_SECONDS)
    _called("notify_warehouse", via)


def legacy_ledger(
    sender: object, order: dict[str, object], via: tuple[str, str], **kwargs: Any
) -> None:
    time.sleep(BLOCKING_SECONDS)
    _called("legacy_ledger", via)


LIGHT: tuple[Callable[..., Any], ...] = (
    count_order,
    audit_order,
    hand_off,
    notify_warehouse,
)

# -- one send function per contender and scenario -------------------------------

Send = Callable[[dict[str, object]], Awaitable[int]]


class Shop:
    """The sender."""


def _asyncsignal(scenario: str) -> Send:
    signal = AsyncSignal(name=f"order_placed:{scenario}")
    for receiver in LIGHT:
        signal.connect(receiver)
    if scenario == "blocking":
        signal.connect(legacy_ledger, thread=True)
    via = ("asyncsignal", scenario)

    async def send(order: dict[str, object]) -> int:
        return len(await signal.asend(Shop, order=order, via=via))

    return send


def _django(scenario: str) -> Send:
    signal = django.dispatch.Signal()
    for receiver in (*LIGHT, legacy_ledger) if scenario == "blocking" else LIGHT:
        signal.connect(receiver)
    via = ("django", scenario)

    async def send(order: dict[str, object]) -> int:
        return len(await signal.asend(Shop, order=order, via=via))

    return send


def _inline(receiver: Callable[..., Any]) -> Callable[..., Coroutine[Any, Any, Any]]:
    """blinker's ``_sync_wrapper``: call the sync receiver in the loop's thread."""

    async def call(*args: Any, **kwargs: Any) -> Any:
        return receiver(*args, **kwargs)

    return call


def _blinker(scenario: str) -> Send:
    signal = blinker.Signal()
    for receiver in (*LIGHT, legacy_ledger) if scenario == "blocking" else LIGHT:
        signal.connect(receiver)
    via = ("blinker", scenario)

    async def send(order: dict[str, object]) -> int:
        responses = await signal.send_async(
            Shop, _sync_wrapper=_inline, order=order, via=via
        )
        return len(responses)

    return send


_BUILDERS: dict[str, Callable[[str], Send]] = {
    "asyncsignal": _asyncsignal,
    "django": _django,
    "blinker": _blinker,
}

# -- the app ------------------------------------------------------------------

app = FastAPI(title="asyncsignal end-to-end benchmark")


class NewOrder(BaseModel):
    item: str
    quantity: int


def _route(send: Send) -> Callable[[NewOrder], Awaitable[dict[str, object]]]:
    async def place_order(new: NewOrder) -> dict[str, object]:
        order: dict[str, object] = {
            "id": next(_ids),
            "item": new.item,
            "quantity": new.quantity,
        }
        return {"order": order["id"], "responses": await send(order)}

    return place_order


for _contender in CONTENDERS:
    for _scenario in SCENARIOS:
        app.add_api_route(
            f"/{_contender}/{_scenario}/orders",
            _route(_BUILDERS[_contender](_scenario)),
            methods=["POST"],
            status_code=201,
        )


@app.get("/stats")
async def stats() -> dict[str, dict[str, dict[str, int]]]:
    """Calls of each receiver: ``{contender: {scenario: {receiver: n}}}``."""
    with _calls_lock:
        calls = dict(_calls)
    tree: dict[str, dict[str, dict[str, int]]] = {}
    for (contender, scenario, receiver), n in calls.items():
        tree.setdefault(contender, {}).setdefault(scenario, {})[receiver] = n
    return tree


@app.get("/ping")
async def ping() -> dict[str, str]:
    return {"status": "ok"}
