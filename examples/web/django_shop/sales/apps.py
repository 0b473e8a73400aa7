from __future__ import annotations

from django.apps import AppConfig


class SalesConfig(AppConfig):  # type: ignore[misc,unused-ignore]  # Any without django-stubs
    name = "sales"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Connect the receivers, as Django's documentation recommends.
        from . import receivers  # noqa: F401
