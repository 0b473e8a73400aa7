"""Sphinx configuration of the documentation site (``python3 dev.py docs``).

The package's docstrings use reST field lists (``:param:``, ``:raises:``,
``:ivar:``), which autodoc renders natively: no napoleon. Nothing is fetched at
build time (no intersphinx), so the build works offline.
"""

from __future__ import annotations

import asyncsignal

project = "asyncsignal"
author = "The asyncsignal maintainers"
copyright = "the asyncsignal maintainers"
# The version has one source: asyncsignal.__version__ (hatchling reads it too).
release = asyncsignal.__version__
version = ".".join(release.split(".")[:2])

extensions = ["sphinx.ext.autodoc"]

exclude_patterns = ["_build"]
# Literal blocks written with ``::`` in docstrings are Python examples.
highlight_language = "python"

# -- API reference -------------------------------------------------------------

autodoc_member_order = "bysource"
# Types go next to each parameter's description, keeping signatures short.
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented"
add_module_names = False
# Every cross-reference must resolve: with -W a broken one fails the build.
# Without intersphinx, the standard library's and anyio's names cannot, nor
# can the type variables of signatures; those are shown as plain text.
nitpicky = True
nitpick_ignore_regex = [
    ("py:(class|obj|exc)", r"(collections\.abc|typing|types|anyio|opentelemetry)\..*"),
    (
        "py:(class|obj)",
        r"(asyncsignal\.(_\w+|django|testing)\.)?(ReceiverT|P|R|Overflow|NoReceiver)",
    ),
    # Private types in the public signatures of asyncsignal.django (Django's
    # sender_receivers_cache) and the standard library's lock type.
    ("py:class", r"asyncsignal\.django\._\w+|_thread\.\w+"),
]

# -- HTML ----------------------------------------------------------------------

html_theme = "furo"
html_title = f"asyncsignal {release}"
html_static_path: list[str] = []
html_show_sourcelink = False
