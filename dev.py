#!/usr/bin/env python3
"""Set-up and checks in one place; needs only Python and pip.

    python3 dev.py demo     # install into .venv, run examples/demo.py
    python3 dev.py test     # lint, type-check and test on the oldest and newest Python
    python3 dev.py bench    # benchmark suite against the anchors (args go to it)
    python3 dev.py bench --python 3.11   # the same on another Python (default 3.12)

Each command creates and fills its virtual environments itself. ``test`` runs
the suite on Python 3.10 and 3.13 (the oldest and newest supported), found on
PATH or under pyenv; set ASYNCSIGNAL_PYTHONS="/path/py3.10 /path/py3.13" to
choose others. A missing interpreter is an error, never skipped.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
OLDEST, NEWEST = "3.10", "3.13"
#: PERF.md's anchors were measured on 3.12: the first Python with eager tasks.
BENCH_PYTHON = "3.12"


def run(*cmd: str | Path, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    result = subprocess.run([str(c) for c in cmd], cwd=ROOT, env=env)
    if result.returncode != 0:
        sys.exit(f"dev.py: failed with exit code {result.returncode}: {cmd[0]} ...")


def find_python(version: str) -> str:
    """An interpreter of this version: on PATH, else under pyenv's root."""
    candidates = [shutil.which(f"python{version}")]
    pyenv_root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    candidates += sorted(
        glob.glob(f"{pyenv_root}/versions/{version}.*/bin/python{version}"),
        reverse=True,
    )
    for candidate in filter(None, candidates):
        # A pyenv shim exists on PATH even when it cannot run that version.
        probe = subprocess.run(
            [candidate, "-c", "import sys; print(sys.version_info[:2])"],
            capture_output=True,
            text=True,
        )
        if probe.returncode == 0 and probe.stdout.strip() == str(
            tuple(int(p) for p in version.split("."))
        ):
            return candidate
    sys.exit(
        f"dev.py: no working python{version} found on PATH or under {pyenv_root}; "
        "install it or set ASYNCSIGNAL_PYTHONS"
    )


def venv(python: str, extras: str) -> Path:
    """A virtual environment for ``python`` with the project installed."""
    version = subprocess.run(
        [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    path = ROOT / f".venv-{version}"
    bin_python = path / "bin" / "python"
    if not bin_python.exists():
        run(python, "-m", "venv", path)
    run(bin_python, "-m", "pip", "install", "-q", "-e", f".[{extras}]")
    return bin_python


def demo() -> None:
    python = venv(sys.executable, "demo")
    run(python, "examples/demo.py")


def test() -> None:
    started = time.monotonic()
    chosen = os.environ.get("ASYNCSIGNAL_PYTHONS")
    pythons = chosen.split() if chosen else [find_python(OLDEST), find_python(NEWEST)]
    coverage_dir = ROOT / ".coverage-data"
    shutil.rmtree(coverage_dir, ignore_errors=True)
    coverage_dir.mkdir()
    env = {**os.environ, "COVERAGE_FILE": str(coverage_dir / "coverage")}
    newest = None
    for python in pythons:
        bin_python = venv(python, "test")
        newest = bin_python
        run(bin_python, "-m", "mypy", env=env)
        run(bin_python, "-m", "coverage", "run", "-m", "pytest", env=env)
    assert newest is not None
    run(newest, "-m", "ruff", "check", ".")
    run(newest, "-m", "ruff", "format", "--check", ".")
    run(newest, "-m", "coverage", "combine", env=env)
    run(newest, "-m", "coverage", "report", "--fail-under=100", env=env)
    print(f"dev.py test: all checks passed in {time.monotonic() - started:.0f} s")


def bench(args: list[str]) -> None:
    version = BENCH_PYTHON
    if "--python" in args:
        at = args.index("--python")
        version = args[at + 1]
        del args[at : at + 2]
    python = venv(find_python(version), "bench")
    run(python, "benchmarks/run.py", *args)


def main() -> None:
    command, *args = sys.argv[1:] or ["--help"]
    if command == "demo":
        demo()
    elif command == "test":
        test()
    elif command == "bench":
        bench(args)
    else:
        print(__doc__)
        sys.exit(0 if command in ("-h", "--help") else 2)


if __name__ == "__main__":
    main()
