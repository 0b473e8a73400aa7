"""Settings of the test project (``DJANGO_SETTINGS_MODULE=django_project.settings``).

The sqlite database is a file named by ``ASYNCSIGNAL_DJANGO_DB``: the tests put
it in a temporary directory. A file, not ``:memory:``, because each thread gets
its own connection and every connection to ``:memory:`` is a separate database.
"""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

try:
    _DATABASE_FILE = os.environ["ASYNCSIGNAL_DJANGO_DB"]
except KeyError:
    raise ImproperlyConfigured(
        "set ASYNCSIGNAL_DJANGO_DB to the path of the sqlite database file"
    ) from None

SECRET_KEY = "asyncsignal-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
INSTALLED_APPS = ["django_project.shop"]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "django_project.urls"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": _DATABASE_FILE,
    }
}
USE_TZ = True
# Leave the test session's logging alone (pytest captures django.request).
LOGGING_CONFIG = None
