"""The ``sales`` app: orders, their audit trail, and ``order_placed``."""
