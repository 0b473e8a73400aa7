"""The Django example project: orders in a sqlite file, ``order_placed`` sent
by an async view, a sync view and a management command."""
