"""``order_placed``, once per signal implementation.

Views and the management command take the implementation's name, so the same
code path sends either signal.
"""

from __future__ import annotations

from typing import TypeAlias

import django.dispatch

import asyncsignal
import asyncsignal.django

OrderSignal: TypeAlias = "django.dispatch.Signal | asyncsignal.AsyncSignal"

#: Django's own signal: the reference behaviour.
order_placed_django = django.dispatch.Signal()
#: The drop-in: sync receivers run through sync_to_async under asend.
order_placed = asyncsignal.django.Signal()
#: Plain asyncsignal, not connected at startup: sync receivers run inline
#: under asend unless connected with thread=True (then in anyio's threads).
order_placed_plain = asyncsignal.Signal()

SIGNALS: dict[str, OrderSignal] = {
    "django": order_placed_django,
    "asyncsignal": order_placed,
    "plain": order_placed_plain,
}
