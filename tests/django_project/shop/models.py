from __future__ import annotations

from django.db import models


class Order(models.Model):  # type: ignore[misc,unused-ignore]  # Any without django-stubs
    reference: models.CharField[str, str] = models.CharField(max_length=32, unique=True)


class AuditRow(models.Model):  # type: ignore[misc,unused-ignore]
    """One row per receiver call: what happened to which order."""

    order: models.ForeignKey[Order, Order] = models.ForeignKey(
        Order, on_delete=models.CASCADE
    )
    event: models.CharField[str, str] = models.CharField(max_length=32)
