"""Views: an async and a sync one that send ``order_placed``, the SSE stream."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    JsonResponse,
    StreamingHttpResponse,
)

from .models import Order
from .placing import new_order, placed, problem
from .signals import order_placed

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

PROBLEM_JSON = "application/problem+json"


def _problem_response(status: int, body: dict[str, object]) -> JsonResponse:
    return JsonResponse(body, status=status, content_type=PROBLEM_JSON)


def _invalid(error: ValueError) -> JsonResponse:
    body = {"type": "about:blank", "title": "Invalid order", "status": 400}
    return _problem_response(400, {**body, "detail": str(error)})


async def place_order(request: HttpRequest) -> HttpResponse:
    """``POST /orders``: store the order, then ``await order_placed.asend(...)``."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        item, quantity = new_order(request.body)
    except ValueError as error:
        return _invalid(error)
    order = await Order.objects.acreate(item=item, quantity=quantity)
    try:
        responses = await order_placed.asend(sender=Order, order=order)
    except Exception as error:  # one receiver's error, or an ExceptionGroup
        await Order.objects.filter(pk=order.pk).aupdate(status=Order.FAILED)
        return _problem_response(*problem(order, error))
    await Order.objects.filter(pk=order.pk).aupdate(status=Order.CONFIRMED)
    return JsonResponse(placed(order, responses), status=201)


def place_order_sync(request: HttpRequest) -> HttpResponse:
    """``POST /orders/sync``: the same with ``order_placed.send(...)``, from a
    sync view (Django runs it in a worker thread)."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        item, quantity = new_order(request.body)
    except ValueError as error:
        return _invalid(error)
    order = Order.objects.create(item=item, quantity=quantity)
    try:
        responses = order_placed.send(sender=Order, order=order)
    except Exception as error:
        Order.objects.filter(pk=order.pk).update(status=Order.FAILED)
        return _problem_response(*problem(order, error))
    Order.objects.filter(pk=order.pk).update(status=Order.CONFIRMED)
    return JsonResponse(placed(order, responses), status=201)


async def _order_events() -> AsyncIterator[str]:
    async with order_placed.subscribe(max_buffer=256) as events:
        # A comment, which EventSource ignores: the client now sees every order.
        yield ": subscribed\n\n"
        async for event in events:
            order: Order = event.kwargs["order"]
            data = json.dumps(order.as_json())
            yield f"event: order_placed\nid: {order.pk}\ndata: {data}\n\n"


async def order_stream(request: HttpRequest) -> StreamingHttpResponse:
    """``GET /orders/stream``: every order sent from now on, by any view or
    thread of this process, as Server-Sent Events."""
    response = StreamingHttpResponse(_order_events(), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


async def ping(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok"})
