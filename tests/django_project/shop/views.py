"""Views placing an order, then sending ``order_placed`` with the signal
implementation named in the URL (a key of ``SIGNALS``)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_POST

from .models import Order
from .signals import SIGNALS


@require_POST
async def place_order_async(
    request: HttpRequest, implementation: str, reference: str
) -> JsonResponse:
    order = await Order.objects.acreate(reference=reference)
    responses = await SIGNALS[implementation].asend(sender=Order, order=order)
    return JsonResponse({"responses": [response for _, response in responses]})


@require_POST
def place_order_sync(
    request: HttpRequest, implementation: str, reference: str
) -> JsonResponse:
    order = Order.objects.create(reference=reference)
    responses = SIGNALS[implementation].send(sender=Order, order=order)
    return JsonResponse({"responses": [response for _, response in responses]})
