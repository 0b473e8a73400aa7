"""FastAPI under uvicorn: ``order_placed`` in a web app.

From the repository's root::

    uvicorn fastapi_shop:app --app-dir examples/web

    curl -N localhost:8000/orders/stream      # in one terminal: every order, as SSE
    curl localhost:8000/orders -H 'content-type: application/json' \\
        -d '{"item": "book", "quantity": 2}'

- ``POST /orders`` awaits ``order_placed.asend(...)``. Its receivers
  (``shop/receivers.py``) run concurrently: a stock-service call with
  ``timeout=``, a blocking ledger client with ``thread=True`` and a business
  rule that may refuse the order. A receiver's error becomes a problem
  response: 422 (refused), 504 (``{"item": "sundial"}``: the stock service
  hangs) or 500.
- ``GET /orders/stream`` streams every order as Server-Sent Events through
  ``order_announced.subscribe()``: each order is announced as it is placed,
  before the receivers decide (a refused order too).
- ``GET /ping`` answers at once, even while the ledger client blocks.

Several workers, one stream of orders: ``uvicorn --workers 2`` runs two
processes, each with its own signals and streams. With a broker's URL in
``SHOP_BROKER_URL`` (Redis/Valkey or NATS, ``pip install 'asyncsignal[redis]'``
or ``'asyncsignal[nats]'``)::

    SHOP_BROKER_URL=redis://127.0.0.1:6379/0 uvicorn fastapi_shop:app \\
        --app-dir examples/web --workers 2

each worker's lifespan runs a :class:`~asyncsignal.bridge.Bridge` that shares
``order_announced``, so that an order placed in either worker reaches the
streams of both. ``order_placed`` stays unshared: a shared signal runs its
receivers in every worker, and these (the stock reservation, the ledger line)
must run once per order, in the worker that took it. Each worker numbers its
orders from its PID times a million, unique across the workers (a real app's
database would number them), and names itself in ``GET /ping`` (with whether
its bridge is connected to the broker) and in each stream's first comment.

An SSE stream never ends on its own, and uvicorn waits for open responses
when it stops (forever, unless ``--timeout-graceful-shutdown`` is given): the
lifespan hooks uvicorn's SIGINT/SIGTERM handlers so that the streams end first
(``shop/streams.py``), after the orders already announced.
"""

# No `from __future__ import annotations`: FastAPI reads the annotations at
# run time, so the names in them must be imported at run time too.
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from typing import Annotated, TypedDict

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel, Field
from shop.http import PROBLEM_JSON, placed, problem, receiver_errors
from shop.orders import Order, OrderBook, Settings, order_placed
from shop.receivers import OrderReceivers, receivers_running
from shop.streams import OpenStreams

from asyncsignal import AsyncSignal
from asyncsignal.bridge import Bridge

logging.basicConfig(
    level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s"
)
log = logging.getLogger("shop")

#: Sent for every order as it is placed, before ``order_placed``; the streams
#: show its sends. It has no receivers, so a bridge can share it.
order_announced = AsyncSignal(name="order_announced")


def bridge_from_env() -> Bridge | None:
    """The bridge to the other workers if ``SHOP_BROKER_URL`` names a broker."""
    url = os.environ.get("SHOP_BROKER_URL")
    if not url:
        return None
    bridge = Bridge(url)
    # Orders (a dataclass) cross as their fields; each worker rebuilds them.
    bridge.register(Order)
    bridge.share(order_announced)
    return bridge


bridge = bridge_from_env()
#: The SSE streams open in this worker, ended when the server stops.
streams = OpenStreams()


class State(TypedDict):
    book: OrderBook


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State]:
    """The receivers are connected, and the bridge runs, while the app runs;
    the streams end when the server is asked to stop."""
    receivers = OrderReceivers(Settings.from_env())
    book = OrderBook() if bridge is None else OrderBook(os.getpid() * 1_000_000)
    async with bridge or contextlib.nullcontext():
        with receivers.connected(order_placed), streams.ending_on_stop():
            yield {"book": book}
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
    await order_announced.asend(sender=OrderBook, order=order)
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
    async with streams.subscribe(order_announced, max_buffer=256) as events:
        if bridge is not None:
            yield ServerSentEvent(comment=f"worker {os.getpid()}")
        yield ServerSentEvent(comment="subscribed")
        async for event in events:
            order: Order = event.kwargs["order"]
            yield ServerSentEvent(
                event="order_placed", id=str(order.id), data=order.as_json()
            )


@app.get("/ping")
async def ping() -> dict[str, str | int]:
    if bridge is None:
        return {"status": "ok"}
    state = "connected" if bridge.connected else "disconnected"
    return {"status": "ok", "worker": os.getpid(), "bridge": state}
