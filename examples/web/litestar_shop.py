"""Litestar under uvicorn: the FastAPI example's scenario in Litestar's idioms.

From the repository's root::

    uvicorn litestar_shop:app --app-dir examples/web

Same routes and receivers as ``fastapi_shop.py`` (``shop/receivers.py``). The
order book and the receivers live for the app's lifespan (a lifespan context
manager); handlers get the book by dependency injection; receivers' errors
reach the client through an exception handler. The SSE streams end when
the server is asked to stop (``shop/streams.py``).
"""

# No `from __future__ import annotations`: Litestar reads the annotations at
# run time, so the names in them must be imported at run time too.
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Litestar, Request, Response, get, post
from litestar.datastructures import State
from litestar.di import Provide
from litestar.response import ServerSentEvent, ServerSentEventMessage
from msgspec import Meta
from shop.http import PROBLEM_JSON, placed, problem, receiver_errors
from shop.orders import Order, OrderBook, Settings, order_placed
from shop.receivers import OrderReceivers, receivers_running
from shop.streams import OpenStreams

logging.basicConfig(
    level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s"
)
log = logging.getLogger("shop")


#: The SSE streams open in this process, ended when the server stops.
streams = OpenStreams()


@contextlib.asynccontextmanager
async def order_receivers(app: Litestar) -> AsyncIterator[None]:
    """The order book and the connected receivers, while the app runs; the
    streams end when the server is asked to stop."""
    app.state.book = OrderBook()
    receivers = OrderReceivers(Settings.from_env())
    with receivers.connected(order_placed), streams.ending_on_stop():
        yield
    log.info("shop stopped: %d receivers running", receivers_running())


def provide_book(state: State) -> OrderBook:
    book: OrderBook = state.book
    return book


@dataclass
class NewOrder:
    item: Annotated[str, Meta(min_length=1, max_length=100)]
    quantity: Annotated[int, Meta(gt=0)]


class OrderFailed(Exception):
    """Receivers of ``order_placed`` failed; :func:`order_failed` answers."""

    def __init__(self, errors: Sequence[BaseException]) -> None:
        super().__init__(errors)
        self.errors = errors


def order_failed(request: Request[Any, Any, Any], exc: OrderFailed) -> Response[Any]:
    status, body = problem(exc.errors)
    return Response(body, status_code=status, media_type=PROBLEM_JSON)


@post("/orders")
async def place_order(data: NewOrder, book: OrderBook) -> dict[str, object]:
    order = book.place(data.item, data.quantity)
    try:
        responses = await order_placed.asend(sender=OrderBook, order=order)
    except Exception as error:  # one receiver's error, or an ExceptionGroup
        book.discard(order)
        raise OrderFailed(receiver_errors(error)) from error
    return placed(order, responses)


async def _order_events() -> AsyncIterator[ServerSentEventMessage]:
    async with streams.subscribe(order_placed, max_buffer=256) as events:
        yield ServerSentEventMessage(data=None, comment="subscribed")
        async for event in events:
            order: Order = event.kwargs["order"]
            yield ServerSentEventMessage(
                data=json.dumps(order.as_json()), event="order_placed", id=order.id
            )


@get("/orders/stream")
async def order_stream() -> ServerSentEvent:
    """Every order placed from now on."""
    return ServerSentEvent(_order_events())


@get("/ping")
async def ping() -> dict[str, str]:
    return {"status": "ok"}


app = Litestar(
    route_handlers=[place_order, order_stream, ping],
    dependencies={"book": Provide(provide_book, sync_to_thread=False)},
    exception_handlers={OrderFailed: order_failed},
    lifespan=[order_receivers],
    # The logging set up above; Litestar's own queues records in a thread.
    logging_config=None,
)
