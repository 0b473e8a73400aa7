"""Settings of the example project.

The database is the sqlite file ``SHOP_DB`` (default: ``db.sqlite3`` beside
``manage.py``), in WAL mode so that the server and a management command can
write at once. ``SHOP_*`` variables tune the simulated dependencies of the
receivers (``sales/receivers.py``).
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "insecure-key-for-the-example-only")
DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = ["sales"]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]
ROOT_URLCONF = "shopsite.urls"
ASGI_APPLICATION = "shopsite.asgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("SHOP_DB", BASE_DIR / "db.sqlite3"),
        "OPTIONS": {
            # Writers take the lock when their transaction begins, and wait
            # for it up to `timeout` seconds (Django >= 5.1).
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True

#: The simulated dependencies of the receivers, in seconds.
SHOP_STOCK_LATENCY = float(os.environ.get("SHOP_STOCK_LATENCY", "0.01"))
SHOP_STOCK_TIMEOUT = float(os.environ.get("SHOP_STOCK_TIMEOUT", "1.0"))
SHOP_LEDGER_SECONDS = float(os.environ.get("SHOP_LEDGER_SECONDS", "0.3"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(levelname)s:     %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "sales": {"handlers": ["console"], "level": "INFO"},
        "asyncsignal": {"handlers": ["console"], "level": "INFO"},
    },
}
