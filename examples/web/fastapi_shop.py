"""FastAPI under uvicorn: ``order_placed`` in a web app.

From the repository's root::

    uvicorn fastapi_shop:app --app-dir examples/web --timeout-graceful-shutdown 2

    curl -N localhost:8000/orders/stream      # in one terminal: every order, as SSE
    curl localhost:8000/orders -H 'content-type: application/json' \\
        -d '{"item": "book", "quantity": 2}'

- ``POST /orders`` awaits ``order_placed.asend(...)``. Its receivers
  (``shop/receivers.py``) run concurrently: a stock-service call with
  ``timeout=``, a blocking ledger client with ``thread=True`` and a business
  rule that may refuse the order. A receiver's error becomes a problem
  response: 422 (refused), 504 (``{"item": "sundial"}``: the stock service
  hangs) or 500.
- ``GET /orders/stream`` streams every send as Server-Sent Events through
  ``order_placed.subscribe()``.
- ``GET /ping`` answers at once, even while the ledger client blocks.

An SSE stream never ends on its own, so uvicorn would wait for its clients
forever when it stops: ``--timeout-graceful-shutdown`` bounds that wait, then
cancels the streams (each one leaves its subscription as it ends).
"""

# No `from __future__ import annotations`: FastAPI reads the annotations at
# run time, so the names in them must be imported at run time too.
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Annotated, TypedDict

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel, Field
from shop.http import PROBLEM_JSON, placed, problem, receiver_errors
from shop.orders import Order, OrderBook, Settings, order_placed
from shop.receivers import OrderReceivers, receivers_running

logging.basicConfig(
    level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s"
)
log = logging.getLogger("shop")


class State(TypedDict):
    book: OrderBook


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State]:
    """The receivers are connected while the app runs."""
    receivers = OrderReceivers(Settings.from_env())
    with receivers.connected(order_placed):
        yield {"book": OrderBook()}
    log.info("shop stopped: %d receivers running", receivers_running())


app = FastAPI(title="asyncsignal shop (FastAPI)", lifespan=lifespan)


def get_book(request: Request) -> OrderBook:
    book: OrderBook = request.state.book
    return book


class NewOrder(BaseModel):
    item: str = Field(min_length=1, max_length=100)
    quantity: int = Field(gt=0)


@app.post("/orders", status_code=201)
async def place_order(
    new: NewOrder, book: Annotated[OrderBook, Depends(get_book)]
) -> JSONResponse:
    order = book.place(new.item, new.quantity)
    # asend waits for every receiver, then raises a failing receiver's error
    # as itself, or an ExceptionGroup if several failed: receiver_errors()
    # flattens both. On Python 3.11+ `except*` handles both shapes as well:
    #
    #     except* OrderRejected as refused: ...    # 422
    #     except* ReceiverTimeout as late: ...     # 504
    try:
        responses = await order_placed.asend(sender=OrderBook, order=order)
    except Exception as error:
        book.discard(order)
        status, body = problem(receiver_errors(error))
        return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)
    return JSONResponse(placed(order, responses), status_code=201)


@app.get("/orders/stream", response_class=EventSourceResponse)
async def order_stream() -> AsyncIterator[ServerSentEvent]:
    """Every order placed from now on (FastAPI adds keep-alive comments).

    A client too slow to keep up loses the oldest of the 256 events waiting
    for it (``events.dropped`` counts them); senders never wait for it."""
    async with order_placed.subscribe(max_buffer=256) as events:
        yield ServerSentEvent(comment="subscribed")
        async for event in events:
            order: Order = event.kwargs["order"]
            yield ServerSentEvent(
                event="order_placed", id=str(order.id), data=order.as_json()
            )


@app.get("/ping")
async def ping() -> dict[str, str]:
    return {"status": "ok"}
