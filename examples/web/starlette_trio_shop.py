"""Starlette on trio under hypercorn: the FastAPI example's scenario, on trio.

From the repository's root::

    hypercorn --worker-class trio examples/web/starlette_trio_shop:app

Same routes and receivers as ``fastapi_shop.py`` (``shop/receivers.py``):
asyncsignal runs them on trio as on asyncio (the ``thread=True`` ledger client
in trio's worker threads, the stock call cancelled by its ``timeout=`` through
a trio cancel scope). This one sends with ``asend_robust``: each receiver's
error comes back as its response (and is logged) instead of being raised.

The lifespan hooks the SSE streams' end on the server's signal handlers
(``shop/streams.py``), but hypercorn's worker processes leave the signals
to their parent, which tells them through a pipe the app cannot see: there
hypercorn cancels the streams ``--graceful-timeout`` seconds (3 by default)
after it was asked to stop.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, TypedDict

from shop.http import PROBLEM_JSON, SSE_SUBSCRIBED, placed, problem, sse_event
from shop.orders import OrderBook, Settings, order_placed
from shop.receivers import OrderReceivers, receivers_running
from shop.streams import OpenStreams
from starlette.applications import Starlette
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from starlette.requests import Request

logging.basicConfig(
    level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s"
)
log = logging.getLogger("shop")


#: The SSE streams open in this process, ended when the server stops.
streams = OpenStreams()


class State(TypedDict):
    book: OrderBook


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[State]:
    """The receivers are connected while the app runs; the streams end when
    the server is asked to stop."""
    receivers = OrderReceivers(Settings.from_env())
    with receivers.connected(order_placed), streams.ending_on_stop():
        yield {"book": OrderBook()}
    log.info("shop stopped: %d receivers running", receivers_running())


def _new_order(data: object) -> tuple[str, int]:
    """``item`` and ``quantity`` from a request's JSON; ValueError if invalid."""
    if isinstance(data, dict):
        item, quantity = data.get("item"), data.get("quantity")
        if (
            isinstance(item, str)
            and 0 < len(item) <= 100
            and type(quantity) is int
            and quantity > 0
        ):
            return item, quantity
    raise ValueError(
        'expected {"item": a non-empty string, "quantity": a positive int}'
    )


async def place_order(request: Request) -> JSONResponse:
    try:
        item, quantity = _new_order(await request.json())
    except ValueError as error:  # invalid JSON too
        body = {"type": "about:blank", "title": "Invalid order", "status": 400}
        return JSONResponse(
            {**body, "detail": str(error)}, status_code=400, media_type=PROBLEM_JSON
        )
    book: OrderBook = request.state.book
    order = book.place(item, quantity)
    responses = await order_placed.asend_robust(sender=OrderBook, order=order)
    errors = [response for _, response in responses if isinstance(response, Exception)]
    if errors:
        book.discard(order)
        status, body = problem(errors)
        return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)
    return JSONResponse(placed(order, responses), status_code=201)


async def _order_events() -> AsyncIterator[str]:
    async with streams.subscribe(order_placed, max_buffer=256) as events:
        yield SSE_SUBSCRIBED
        async for event in events:
            yield sse_event(event.kwargs["order"])


async def order_stream(request: Request) -> StreamingResponse:
    """Every order placed from now on."""
    return StreamingResponse(
        _order_events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def ping(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[
        Route("/orders", place_order, methods=["POST"]),
        Route("/orders/stream", order_stream),
        Route("/ping", ping),
    ],
    lifespan=lifespan,
)
