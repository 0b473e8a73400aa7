"""``manage.py place_order ITEM QUANTITY``: place an order and ``send``
``order_placed`` from plain sync code, as the sync view does."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from django.core.management.base import BaseCommand, CommandError

from ...models import Order
from ...placing import placed, problem
from ...signals import order_placed

if TYPE_CHECKING:
    from argparse import ArgumentParser


class Command(BaseCommand):  # type: ignore[misc,unused-ignore]  # Any without django-stubs
    help = "Place an order and send order_placed; prints the receivers' responses."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("item")
        parser.add_argument("quantity", type=int)

    def handle(self, *args: Any, item: str, quantity: int, **options: Any) -> None:
        order = Order.objects.create(item=item, quantity=quantity)
        try:
            responses = order_placed.send(sender=Order, order=order)
        except Exception as error:
            Order.objects.filter(pk=order.pk).update(status=Order.FAILED)
            status, body = problem(order, error)
            raise CommandError(
                f"order {order.pk} failed ({status}): {body['detail']}"
            ) from error
        Order.objects.filter(pk=order.pk).update(status=Order.CONFIRMED)
        self.stdout.write(json.dumps(placed(order, responses)))
