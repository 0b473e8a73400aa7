"""URLs of the test project: place an order from an async or a sync view."""

from __future__ import annotations

from django.urls import path

from .shop import views

urlpatterns = [
    path(
        "orders/<str:implementation>/<str:reference>/async",
        views.place_order_async,
        name="place-order-async",
    ),
    path(
        "orders/<str:implementation>/<str:reference>/sync",
        views.place_order_sync,
        name="place-order-sync",
    ),
]
