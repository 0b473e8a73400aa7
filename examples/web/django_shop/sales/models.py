from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models

if TYPE_CHECKING:
    from datetime import datetime


class Order(models.Model):  # type: ignore[misc,unused-ignore]  # Any without django-stubs
    NEW, CONFIRMED, FAILED = "new", "confirmed", "failed"

    item: models.CharField[str, str] = models.CharField(max_length=100)
    quantity: models.PositiveIntegerField[int, int] = models.PositiveIntegerField()
    #: ``confirmed`` once every receiver of ``order_placed`` succeeded.
    status: models.CharField[str, str] = models.CharField(
        max_length=10,
        choices=[(NEW, "new"), (CONFIRMED, "confirmed"), (FAILED, "failed")],
        default=NEW,
    )
    placed_at: models.DateTimeField[datetime, datetime] = models.DateTimeField(
        auto_now_add=True
    )

    def as_json(self) -> dict[str, object]:
        return {"id": self.pk, "item": self.item, "quantity": self.quantity}


class AuditEntry(models.Model):  # type: ignore[misc,unused-ignore]
    """A row written by a receiver of ``order_placed``."""

    order: models.ForeignKey[Order, Order] = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="audit"
    )
    receiver: models.CharField[str, str] = models.CharField(max_length=50)
    note: models.CharField[str, str] = models.CharField(max_length=200)
    written_at: models.DateTimeField[datetime, datetime] = models.DateTimeField(
        auto_now_add=True
    )
