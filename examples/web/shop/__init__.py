"""The order domain that the FastAPI, Starlette and Litestar examples share.

- :mod:`shop.orders`: orders, the ``order_placed`` signal, the settings;
- :mod:`shop.receivers`: its receivers, one of each kind asyncsignal runs;
- :mod:`shop.http`: framework-neutral HTTP pieces (problem bodies, SSE text);
- :mod:`shop.streams`: SSE streams that end when the server is asked to stop.

Each app adds only what its framework does its own way. The Django example
(``django_shop/``) keeps its own receivers, which use the ORM.
"""
