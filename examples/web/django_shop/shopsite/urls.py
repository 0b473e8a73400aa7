from __future__ import annotations

from django.urls import path
from sales import views

urlpatterns = [
    path("orders", views.place_order),
    path("orders/sync", views.place_order_sync),
    path("orders/stream", views.order_stream),
    path("ping", views.ping),
]
