"""``manage.py place_order REFERENCE --signal=django|asyncsignal|plain``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from django.core.management.base import BaseCommand

from ...models import Order
from ...signals import SIGNALS

if TYPE_CHECKING:
    from argparse import ArgumentParser


class Command(BaseCommand):
    help = "Place an order and send order_placed with the named signal."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("reference")
        parser.add_argument("--signal", choices=sorted(SIGNALS), default="django")

    def handle(self, *args: Any, **options: Any) -> None:
        order = Order.objects.create(reference=options["reference"])
        responses = SIGNALS[options["signal"]].send(sender=Order, order=order)
        self.stdout.write(json.dumps([response for _, response in responses]))
