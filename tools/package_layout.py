#!/usr/bin/env python3
"""The package's layout and import graph, read from its source (nothing is
imported or run).

    python3 tools/package_layout.py          # tree with line counts, graph
    python3 tools/package_layout.py --check  # exit 1 if a layering rule breaks

The rules (``--check``; ``tests/test_package_layout.py`` runs it):

- no import cycle between the package's modules at run time (imports under
  ``if TYPE_CHECKING:`` do not count; imports inside functions are listed
  as deferred and do not count either);
- only modules under ``_backends/`` and ``bridge/`` import ``asyncio`` or
  ``trio`` at module level;
- no module is over 400 lines.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "asyncsignal"
MAX_LINES = 400
#: Module-level imports of these are the backends' business.
BACKEND_LIBRARIES = ("asyncio", "trio")
BACKEND_OWNERS = (f"{PACKAGE}._backends", f"{PACKAGE}.bridge")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class Imports(ast.NodeVisitor):
    """The imports of one module: at module level (run time), under
    ``TYPE_CHECKING``, and inside functions (deferred)."""

    def __init__(self, module: str, is_package: bool) -> None:
        self.module = module
        self.package = module if is_package else module.rpartition(".")[0]
        self.runtime: set[str] = set()
        self.typing: set[str] = set()
        self.deferred: set[str] = set()
        self._where = "runtime"

    def _add(self, name: str) -> None:
        getattr(self, self._where).add(name)

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            saved, self._where = self._where, "typing"
            for child in node.body:
                self.visit(child)
            self._where = saved
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def _visit_function(self, node: ast.AST) -> None:
        saved = self._where
        if saved == "runtime":
            self._where = "deferred"
        self.generic_visit(node)
        self._where = saved

    visit_FunctionDef = visit_AsyncFunctionDef = _visit_function

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.package.split(".")
            base = base[: len(base) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module or ""
        if node.module is None:
            # ``from . import x``: x is a module of that package.
            for alias in node.names:
                self._add(f"{target}.{alias.name}")
        else:
            self._add(target)


def read_package() -> dict[str, tuple[Path, Imports, int]]:
    modules = {}
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        name = module_name(path)
        visitor = Imports(name, path.name == "__init__.py")
        source = path.read_text(encoding="utf-8")
        visitor.visit(ast.parse(source, str(path)))
        modules[name] = (path, visitor, source.count("\n"))
    return modules


def internal(names: set[str], modules: Mapping[str, object]) -> list[str]:
    """The package's modules among ``names`` (``a.b.C`` -> module ``a.b``)."""
    found = set()
    for name in names:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        if name.startswith(PACKAGE):
            found.add(name)
    return sorted(found)


def cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (or a module
    importing itself), Tarjan's algorithm."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, []):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, []):
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="enforce the rules")
    options = parser.parse_args(argv)
    modules = read_package()
    graph = {
        # A package's __init__ importing its own modules is no dependency of
        # theirs; a module importing its package's __init__ is.
        name: [t for t in internal(imports.runtime, modules) if t != name]
        for name, (_, imports, _) in modules.items()
    }
    problems = []
    print(f"{PACKAGE}/ ({sum(lines for *_, lines in modules.values()):,} lines)")
    for name, (path, imports, lines) in modules.items():
        relative = path.relative_to(ROOT / PACKAGE)
        depth = len(relative.parts) - 1
        if relative.name == "__init__.py" and depth:
            print(f"  {'  ' * (depth - 1)}{relative.parts[-2]}/")
        print(f"  {'  ' * depth}{relative.name:{28 - 2 * depth}} {lines:5}")
        if lines > MAX_LINES:
            problems.append(f"{relative} has {lines} lines (over {MAX_LINES})")
        uses_backend = sorted(
            library
            for library in BACKEND_LIBRARIES
            if any(i == library or i.startswith(library + ".") for i in imports.runtime)
        )
        if uses_backend and not name.startswith(BACKEND_OWNERS):
            problems.append(
                f"{relative} imports {', '.join(uses_backend)} at module level"
            )
    print("\nimports at run time (-> module level; ~> deferred, in a function):")
    for name, (_, imports, _) in modules.items():
        short = name.removeprefix(PACKAGE + ".") or PACKAGE
        runtime = [t.removeprefix(PACKAGE + ".") for t in graph[name]]
        deferred = [
            t.removeprefix(PACKAGE + ".")
            for t in internal(imports.deferred, modules)
            if t != name and t not in graph[name]
        ]
        if runtime or deferred:
            line = f"  {short:28}"
            if runtime:
                line += " -> " + ", ".join(runtime)
            if deferred:
                line += " ~> " + ", ".join(deferred)
            print(line)
    for component in cycles(graph):
        problems.append("import cycle: " + " <-> ".join(component))
    if problems:
        print("\nrules broken:" if options.check else "\nnotes:")
        for problem in problems:
            print(f"  {problem}")
    return 1 if options.check and problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
