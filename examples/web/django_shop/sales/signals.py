from __future__ import annotations

from asyncsignal.django import Signal

#: Sent once an order is stored, with ``sender=Order, order=order``. A drop-in
#: for ``django.dispatch.Signal``: its sync receivers run through
#: ``sync_to_async`` under ``asend``, as Django's do, but each async receiver
#: runs concurrently, errors are isolated and ``timeout=`` bounds a receiver.
order_placed = Signal(name="order_placed")
