from __future__ import annotations

from django.apps import AppConfig


class ShopConfig(AppConfig):
    name = "django_project.shop"
    label = "shop"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Connect the receivers, as Django's documentation recommends.
        from . import receivers  # noqa: F401
