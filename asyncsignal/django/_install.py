"""``install()``: Django's own signals and every app's as asyncsignal signals."""

from __future__ import annotations

import sys

from ._signal import Signal

__all__ = ("install",)


def install() -> None:
    """Make ``django.dispatch.Signal`` this module's :class:`Signal`, so that the
    signals Django and every app define (``post_save``, ``request_finished``,
    ``user_logged_in``...) are asyncsignal signals.

    Call it first thing in ``manage.py``, ``asgi.py`` and ``wsgi.py``, before
    anything imports Django's signals (``django.setup()``, settings that import
    models, ``django.db``). Calling it again does nothing. It changes nothing
    in how a send runs: the signals are simply created as this class.

    :raises RuntimeError: a ``django.dispatch.Signal`` was already created
        (the error names where); those signals would stay Django's.
    """
    dispatch = sys.modules.get("django.dispatch")
    if dispatch is not None and dispatch.Signal is Signal:
        return
    import django.dispatch
    import django.dispatch.dispatcher

    original = django.dispatch.dispatcher.Signal
    if original is not Signal:  # type: ignore[comparison-overlap]
        early = _signals_created_from(original)
        if early:
            raise RuntimeError(
                "asyncsignal.django.install() was called after Django created "
                f"its signals ({', '.join(early[:5])}"
                f"{', ...' if len(early) > 5 else ''}); call it first thing in "
                "manage.py, asgi.py and wsgi.py, before django.setup() and "
                "before anything imports django.db or a model"
            )
    django.dispatch.Signal = Signal  # type: ignore[misc,assignment]
    django.dispatch.dispatcher.Signal = Signal  # type: ignore[misc,assignment]


def _signals_created_from(original: type) -> list[str]:
    """Module-level signals made from ``original`` (Django's class)."""
    found = []
    for name, module in list(sys.modules.items()):
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        for attribute, value in list(namespace.items()):
            if isinstance(value, original):
                found.append(f"{name}.{attribute}")
    return sorted(found)
