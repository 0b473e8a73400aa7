"""What the distribution promises, checked from the source tree.

The build itself (sdist, wheel, ``twine check --strict``, the wheel's demo in a
fresh environment) is ``python3 dev.py package``; these are the quick checks
that keep its inputs honest: one version, the install line, the changelog's
format, and an sdist whose tests can run.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path
from typing import Any

import asyncsignal

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
#: Keep a Changelog's section names, in its order.
CHANGE_TYPES = ("Added", "Changed", "Deprecated", "Removed", "Fixed", "Security")


def _pyproject() -> dict[str, Any]:
    parsed: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return parsed


def test_the_version_is_defined_once_in_the_package() -> None:
    project = _pyproject()["project"]
    assert "version" not in project
    assert "version" in project["dynamic"]
    hatch = _pyproject()["tool"]["hatch"]["version"]
    assert hatch == {"path": "asyncsignal/__init__.py"}
    module = ast.parse((ROOT / "asyncsignal" / "__init__.py").read_text())
    assigned = [
        node.value
        for node in module.body
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets)
    ]
    assert len(assigned) == 1
    assert isinstance(assigned[0], ast.Constant)
    assert assigned[0].value == asyncsignal.__version__
    assert re.fullmatch(
        r"\d+\.\d+\.\d+((a|b|rc)\d+)?(\.dev\d+)?", asyncsignal.__version__
    )


def test_the_docs_take_the_package_version() -> None:
    namespace: dict[str, Any] = {"__file__": str(ROOT / "docs" / "conf.py")}
    exec(compile((ROOT / "docs" / "conf.py").read_text(), "conf.py", "exec"), namespace)
    assert namespace["release"] == asyncsignal.__version__


def test_readme_starts_with_the_install_line() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "# asyncsignal"
    body = [line for line in lines[1:] if line.strip()]
    assert body[0] == "```sh"
    assert body[1].split("#")[0].strip() == "pip install asyncsignal"
    install = "\n".join(body[: body.index("```", 1) + 1])
    extras = set(_pyproject()["project"]["optional-dependencies"])
    for extra in extras:
        assert f"pip install 'asyncsignal[{extra}]'" in install
    assert extras == {"django", "trio", "redis", "nats", "opentelemetry"}


def test_changelog_follows_keep_a_changelog() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert text.startswith("# Changelog\n")
    assert "Keep a Changelog" in text.split("\n## ", 1)[0]
    versions = re.findall(r"^## (.*)$", text, re.M)
    assert versions[0] == "[Unreleased]"
    for heading in versions[1:]:
        assert re.fullmatch(r"\[\d+\.\d+\.\d+\] - \d{4}-\d{2}-\d{2}", heading), heading
    for release in re.split(r"^## .*$", text, flags=re.M)[1:]:
        sections = re.findall(r"^### (.*)$", release, re.M)
        assert sections, "a version lists its changes under ### headings"
        assert set(sections) <= set(CHANGE_TYPES)
        assert sections == sorted(sections, key=CHANGE_TYPES.index)


def test_the_sdist_ships_what_its_tests_read() -> None:
    """The sdist includes tests/, so it includes what they read: the docs
    (tests/test_docs_examples.py) and the demo (the packaging check)."""
    sdist = _pyproject()["tool"]["hatch"]["build"]["targets"]["sdist"]
    shipped = {path.strip("/") for path in sdist["include"]}
    assert {"asyncsignal", "tests", "docs", "examples"} <= shipped
    assert "/docs/_build" in sdist.get("exclude", [])


def test_the_classifiers_name_every_python_from_the_oldest_supported() -> None:
    """One classifier per minor version, with no gap, from requires-python's
    lower bound on (the versions noxfile.py tests)."""
    project = _pyproject()["project"]
    oldest = re.fullmatch(r">=3\.(\d+)", project["requires-python"])
    assert oldest is not None
    minors = [
        int(match[1])
        for classifier in project["classifiers"]
        if (
            match := re.fullmatch(
                r"Programming Language :: Python :: 3\.(\d+)", classifier
            )
        )
    ]
    assert minors == list(range(int(oldest[1]), int(oldest[1]) + len(minors)))
    assert minors[-1] >= 15
