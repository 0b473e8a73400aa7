"""Environments and checks, run by nox; ``python3 dev.py`` installs nox and uv.

    nox                            # lint, tests on each supported Python here, coverage
    nox -s tests-3.12 -- -k send   # one Python; arguments after -- go to pytest
    nox -s demo
    nox -s bench-3.12 -- --smoke   # arguments after -- go to benchmarks/run.py

Every session installs exactly what ``uv.lock`` pins (``uv sync --locked``: a
stale lock is an error, never re-resolved) into its own environment under
``.nox/``. Runtime extras are ``[project.optional-dependencies]``; the tools of
each session are a PEP 735 dependency group in ``pyproject.toml``.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nox

# download_python: nox 2025.10.14.
nox.needs_version = ">=2025.10.14"

ROOT = Path(__file__).resolve().parent
SUPPORTED = ("3.10", "3.11", "3.12", "3.13")
OLDEST, NEWEST = SUPPORTED[0], SUPPORTED[-1]
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# Not named like a session: nox owns .nox/<session>.
COVERAGE_DIR = ROOT / ".nox" / "_coverage"
#: Symlinks ``python3.X`` to interpreters found outside PATH (see below).
PYTHON_LINKS = ROOT / ".nox" / "_pythons"


def _version_of(python: str) -> str | None:
    try:
        probe = subprocess.run(
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return probe.stdout.strip() if probe.returncode == 0 else None


def _find_python(version: str) -> str | None:
    """A working ``python{version}``: on PATH, else under pyenv's root.

    A pyenv shim on PATH refuses every version but the selected ones, and
    neither nox nor uv looks past it; so probe each candidate by running it.
    """
    candidates = [shutil.which(f"python{version}")]
    pyenv_root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    found = glob.glob(f"{pyenv_root}/versions/{version}.*/bin/python{version}")
    # Newest patch release first: 3.10.13 before 3.10.9.
    found.sort(key=lambda p: [int(x) for x in Path(p).parts[-3].split(".")[:3]])
    candidates += reversed(found)
    for candidate in filter(None, candidates):
        if _version_of(candidate) == version:
            return candidate
    return None


def _discover_pythons() -> dict[str, str]:
    """Supported interpreters present here, made findable for nox and uv.

    Those not on PATH get a ``python3.X`` link in ``.nox/pythons``, which goes
    first on PATH for this process and the ones it starts.
    """
    pythons = {v: p for v in SUPPORTED if (p := _find_python(v)) is not None}
    PYTHON_LINKS.mkdir(parents=True, exist_ok=True)
    for version, path in pythons.items():
        # Replaced atomically: another nox in this tree may be reading it.
        temporary = PYTHON_LINKS / f".python{version}.{os.getpid()}"
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(path)
        os.replace(temporary, PYTHON_LINKS / f"python{version}")
    os.environ["PATH"] = f"{PYTHON_LINKS}{os.pathsep}{os.environ['PATH']}"
    return pythons


PYTHONS = _discover_pythons()
ABSENT = [v for v in SUPPORTED if v not in PYTHONS]
REQUIRED_ABSENT = [v for v in (OLDEST, NEWEST) if v in ABSENT] if CI else []
#: The full suite (slow tests included) runs on the newest Python present (3.13
#: in CI); the others leave out the `slow` stress, memory and long model tests,
#: which exercise no version-specific code, to keep CI within its time budget.
PRESENT = [v for v in SUPPORTED if v in PYTHONS] or [OLDEST, NEWEST]
FULL_SUITE = {PRESENT[-1]}

nox.options.default_venv_backend = "uv"
nox.options.sessions = ["lint", "tests", "coverage"]
# Never download an interpreter: the supported ones present here are tested.
nox.options.download_python = "never"
# `uv sync` makes a reused environment exactly what the lock says.
nox.options.reuse_venv = "yes"
# An absent Python's sessions are skipped (and listed as such at the end),
# except with CI=true, where the oldest and newest are required.
nox.options.error_on_missing_interpreters = bool(REQUIRED_ABSENT)
if REQUIRED_ABSENT:
    print(
        f"noxfile.py: CI=true requires Python {' and '.join(REQUIRED_ABSENT)} "
        "(the oldest and newest supported), not found on PATH or under pyenv",
        file=sys.stderr,
    )


def _sync(
    session: nox.Session,
    *,
    groups: tuple[str, ...] = (),
    extras: tuple[str, ...] = (),
    only_group: str | None = None,
) -> None:
    """Install the project, ``extras`` and ``groups`` as ``uv.lock`` pins them.

    ``only_group``: that group alone, without the project.
    """
    command = ["uv", "sync", "--locked", "--no-default-groups"]
    if only_group is not None:
        command.append(f"--only-group={only_group}")
    command += [f"--group={group}" for group in groups]
    command += [f"--extra={extra}" for extra in extras]
    session.run_install(
        *command,
        f"--python={shutil.which('python', path=session.bin)}",
        env={
            "UV_PROJECT_ENVIRONMENT": session.virtualenv.location,
            "UV_PYTHON_DOWNLOADS": "never",
        },
    )


@nox.session(python=SUPPORTED)
def tests(session: nox.Session) -> None:
    """pytest under branch coverage; the slow tests on the newest Python only."""
    _sync(session, groups=("test",), extras=("django", "trio", "redis", "nats"))
    selection = [] if session.python in FULL_SUITE else ["-m", "not slow"]
    COVERAGE_DIR.mkdir(parents=True, exist_ok=True)
    data = COVERAGE_DIR / f".coverage.{session.name}"
    # This session's earlier data (workers add suffixed files) goes first.
    for stale in COVERAGE_DIR.glob(f"{data.name}*"):
        stale.unlink()
    session.run(
        "coverage",
        "run",
        "-m",
        "pytest",
        # One worker per core (2 in CI): the suite is CPU-bound.
        "--numprocesses=auto",
        # Not yet in any session (issue 9): they need the web frameworks and
        # the docs toolchain, and run under their own servers.
        "--ignore=tests/web",
        "--ignore=tests/test_docs_examples.py",
        *selection,
        # Last, so that `-m ...` given here overrides the selection.
        *session.posargs,
        env={"COVERAGE_FILE": str(data)},
    )


@nox.session
def coverage(session: nox.Session) -> None:
    """Combine the test sessions' data; asyncsignal/ must be 100% covered."""
    _sync(session, only_group="coverage")
    for version in ABSENT:
        session.log(f"Python {version} not found: its tests session was skipped")
    data = sorted(COVERAGE_DIR.glob(".coverage.tests-*"))
    if not data:
        session.error("no coverage data: run the tests sessions first")
    session.log("combining " + ", ".join(path.name.split(".", 2)[2] for path in data))
    env = {"COVERAGE_FILE": str(COVERAGE_DIR / ".coverage")}
    # `combine` deletes what it merged: a later run never mixes in stale data.
    session.run("coverage", "combine", "--quiet", *map(str, data), env=env)
    session.log("tests/ (reported, not gated):")
    session.run("coverage", "report", "--include=tests/*", env=env)
    if OLDEST in ABSENT or NEWEST in ABSENT:
        # Version-specific lines need both ends of the range to be covered.
        session.log(f"asyncsignal/ (not gated: needs Python {OLDEST} and {NEWEST}):")
        session.run("coverage", "report", "--include=asyncsignal/*", env=env)
        return
    session.log("asyncsignal/ (gated at 100%):")
    session.run(
        "coverage", "report", "--include=asyncsignal/*", "--fail-under=100", env=env
    )


@nox.session
def lint(session: nox.Session) -> None:
    """ruff, mypy --strict (as Python 3.10 and 3.13), pyright --verifytypes."""
    _sync(session, groups=("lint",), extras=("django", "trio", "redis", "nats"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    for version in (OLDEST, NEWEST):
        session.run("mypy", f"--python-version={version}")
    session.run("pyright", "--verifytypes", "asyncsignal", "--ignoreexternal")
    # The typed-signal expectations: every `pyright: ignore` there must fire.
    session.run("pyright", "--project", "tests/typing", "tests/typing")


@nox.session
def demo(session: nox.Session) -> None:
    """examples/demo.py, on asyncio and trio."""
    _sync(session, extras=("trio",))
    session.run("python", "examples/demo.py")


@nox.session(python=SUPPORTED, default=False)
def bench(session: nox.Session) -> None:
    """The benchmark suite (arguments after -- go to benchmarks/run.py)."""
    _sync(session, groups=("bench",), extras=("django", "trio"))
    session.run("python", "benchmarks/run.py", *session.posargs)
