"""A small Django project for ``tests/django/test_django_orm.py``.

The app ``shop`` places orders; receivers of its ``order_placed`` signals write
``AuditRow``\\s through the ORM. The signal exists as ``django.dispatch.Signal``
and as ``asyncsignal.django.Signal`` (and as a plain ``asyncsignal.Signal``),
and views and the management command send the one they are told to, so each
scenario can run against both and compare the rows written.
"""
