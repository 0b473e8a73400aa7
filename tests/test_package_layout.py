"""``tools/package_layout.py``: the package keeps its layering rules, and each
rule finds what it is about."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "tools" / "package_layout.py"

_spec = importlib.util.spec_from_file_location("package_layout", TOOL)
assert _spec is not None
assert _spec.loader is not None
layout = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(layout)


def test_the_package_keeps_its_layering_rules() -> None:
    result = subprocess.run(
        [sys.executable, str(TOOL), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.rstrip().endswith("rules hold")


def test_the_graph_lists_every_module_with_its_lines_and_imports() -> None:
    result = subprocess.run(
        [sys.executable, str(TOOL), "--graph"],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = {
        line.split()[0]: line
        for line in result.stdout.split("\n\n")[0].splitlines()[1:]
    }
    lines = (ROOT / "asyncsignal" / "_registry.py").read_text().count("\n")
    assert rows["_registry"].split()[1] == str(lines)
    assert "_registrations" in rows["_registry"].split("->")[1]
    assert rows["_errors"].split("->")[1].strip() == "_callables"


def test_a_long_function_counts_unless_a_comment_calls_it_a_hot_path(
    tmp_path: Path,
) -> None:
    limit = layout.MAX_FUNCTION_LINES
    body = "".join(f"    x{n} = {n}\n" for n in range(limit))
    module = tmp_path / "module.py"
    module.write_text(
        'def long():\n    """Docstring lines do not count."""\n'
        + body
        + "\n\ndef fast():\n    # The hot path of W3: one frame per send.\n"
        + body
        + "\n\ndef at_the_limit():\n"
        + "".join(f"    x{n} = {n}\n" for n in range(limit - 1))
    )
    assert layout.long_functions(module) == [f"long ({limit + 1} lines)"]


def test_private_members_reached_on_another_object_are_found() -> None:
    modules = layout.read_package()
    members = layout.private_members(modules)
    assert {"_registry", "_subscriptions", "_check_payload"} <= members
    other, _ = layout.reached_members(ROOT / "asyncsignal" / "_seam.py", members)
    assert {"_registry", "_subscriptions", "_check_payload"} <= other


def test_a_run_time_import_cycle_is_found() -> None:
    graph = {"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"], "e": ["e"]}
    assert layout.cycles(graph) == [["a", "b", "c"], ["e"]]
