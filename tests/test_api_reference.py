"""The API reference (``docs/api.rst``) documents every public name: each name
in the ``__all__`` of the package and of its public submodules has its own
entry there, and every entry names something that exists.

The page is read as reST text, so no Sphinx is needed here; ``python3 dev.py
docs`` checks that the entries render and that every cross-reference resolves.
"""

from __future__ import annotations

import importlib
import re
from collections import defaultdict
from pathlib import Path

import pytest

API = Path(__file__).resolve().parent.parent / "docs" / "api.rst"
MODULES = (
    "asyncsignal",
    "asyncsignal.bridge",
    "asyncsignal.django",
    "asyncsignal.opentelemetry",
    "asyncsignal.testing",
)
#: A top-level (unindented) entry: ``.. autoclass:: Name``, ``.. function::
#: module.name(...)``, or the module the entries below belong to.
ENTRY = re.compile(
    r"^\.\. (?:auto)?(?P<kind>class|function|exception|data|decorator"
    r"|module|currentmodule)::\s*(?P<target>[\w.]+)"
)


def documented_names() -> dict[str, set[str]]:
    """The names with an entry in docs/api.rst, by module."""
    names: dict[str, set[str]] = defaultdict(set)
    module = "asyncsignal"
    for line in API.read_text(encoding="utf-8").splitlines():
        entry = ENTRY.match(line)
        if entry is None:
            continue
        kind, target = entry["kind"], entry["target"]
        if kind in ("module", "currentmodule"):
            module = target
        elif target.startswith("asyncsignal."):
            owner, _, name = target.rpartition(".")
            names[owner].add(name)
        else:
            names[module].add(target)
    return names


def test_the_reference_is_read() -> None:
    names = documented_names()
    assert {"AsyncSignal", "define", "receiver"} <= names["asyncsignal"]
    assert set(names) <= set(MODULES)


@pytest.mark.parametrize("module_name", MODULES)
def test_every_public_name_has_an_entry_in_the_reference(module_name: str) -> None:
    module = importlib.import_module(module_name)
    missing = sorted(set(module.__all__) - documented_names()[module_name])
    assert not missing, f"docs/api.rst has no entry for {module_name}: {missing}"


@pytest.mark.parametrize("module_name", MODULES)
def test_every_entry_of_the_reference_exists(module_name: str) -> None:
    module = importlib.import_module(module_name)
    unknown = sorted(
        name for name in documented_names()[module_name] if not hasattr(module, name)
    )
    assert not unknown, f"docs/api.rst documents names {module_name} lacks: {unknown}"
