"""The ``shop`` app: orders, an audit trail, and the signals between them."""
