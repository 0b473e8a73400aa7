#!/usr/bin/env python3
"""Django's command-line utility for the example project.

python examples/web/django_shop/manage.py migrate
python examples/web/django_shop/manage.py place_order book 2
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shopsite.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
