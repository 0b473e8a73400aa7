"""Receivers connected at startup (``ShopConfig.ready``)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver as django_receiver

from asyncsignal.django import receiver

from .models import AuditRow, Order
from .signals import order_placed, order_placed_django


@django_receiver(order_placed_django, dispatch_uid="record_order")
@receiver(order_placed, dispatch_uid="record_order")
def record_order(sender: type[Order], order: Order, **kwargs: Any) -> int:
    """Write an audit row, then read: return the order's number of rows."""
    AuditRow.objects.create(order=order, event="placed")
    return AuditRow.objects.filter(order=order).count()
