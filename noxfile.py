"""Environments and checks, run by nox; ``python3 dev.py`` installs nox and uv.

    nox                            # lint, tests on each supported Python here, coverage
    nox -s tests-3.12 -- -k send   # one Python; arguments after -- go to pytest
    nox -s demo
    nox -s web-3.13                # the example web apps and the docs' examples
    nox -s docs                    # the site, warnings as errors: docs/_build/html
    nox -s packaging               # sdist + wheel, twine check, the wheel's demo
    nox -s bench-3.12 -- --smoke   # arguments after -- go to benchmarks/run.py
    nox -s bench-web-3.12 -- --smoke
    nox -s bench-bridge-3.12 -- --smoke

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
import tempfile
import zipfile
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
nox.options.sessions = ["lint", "tests", "web", "coverage"]
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
        # The web session runs these: they need the web frameworks, and the
        # apps run under their own servers.
        "--ignore=tests/web",
        "--ignore=tests/test_docs_examples.py",
        *selection,
        # Last, so that `-m ...` given here overrides the selection.
        *session.posargs,
        env={"COVERAGE_FILE": str(data)},
    )


@nox.session(python=sorted(FULL_SUITE))
def web(session: nox.Session) -> None:
    """The example web apps under their real servers (tests/web) and every
    example of docs/ (tests/test_docs_examples.py), each in a fresh
    interpreter; not under coverage (the tests sessions gate the package).
    Serial: each app's servers start together, per process. A missing
    framework fails instead of skipping. Arguments after -- go to pytest."""
    _sync(session, groups=("web",), extras=("django", "trio", "redis"))
    session.run(
        "pytest",
        "tests/web",
        "tests/test_docs_examples.py",
        # litestar brings faker, whose pytest plugin takes a second to import.
        "-p",
        "no:faker",
        *session.posargs,
        env={"ASYNCSIGNAL_WEB_REQUIRED": "1", "CI": "true"},
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


@nox.session(python=NEWEST, default=False)
def docs(session: nox.Session) -> None:
    """The documentation site, built from docs/ into docs/_build/html.

    Warnings are errors (a broken cross-reference or docstring fails the
    build); ``--fresh-env`` re-reads every page, so none escapes by being
    cached. Arguments after -- go to sphinx-build.
    """
    _sync(session, groups=("docs",), extras=("django",))
    session.run(
        "sphinx-build",
        "-W",
        "--keep-going",
        "--fresh-env",
        "-b",
        "html",
        *session.posargs,
        "docs",
        "docs/_build/html",
    )


@nox.session(python=NEWEST, default=False)
def packaging(session: nox.Session) -> None:
    """Build the sdist and, from it, the wheel; check their metadata; install
    the wheel into a fresh environment and run the demo there, outside the
    checkout, so that only what the wheel ships is imported."""
    _sync(session, only_group="packaging")
    work = Path(session.create_tmp()).resolve()
    dist = work / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    # uv builds the sdist, then the wheel from the unpacked sdist: a file
    # missing from the sdist breaks the wheel.
    session.run("uv", "build", "--out-dir", str(dist), str(ROOT), external=True)
    (sdist,) = dist.glob("*.tar.gz")
    (wheel,) = dist.glob("*.whl")
    session.run("twine", "check", "--strict", str(sdist), str(wheel))
    names = zipfile.ZipFile(wheel).namelist()
    if "asyncsignal/py.typed" not in names or any(
        not name.startswith(("asyncsignal/", "asyncsignal-")) for name in names
    ):
        session.error(f"unexpected wheel contents: {names}")
    # The fresh environment gets the versions uv.lock pins, not newer ones.
    constraints = work / "constraints.txt"
    session.run(
        "uv",
        "export",
        "--locked",
        "--no-hashes",
        "--no-emit-project",
        "--no-default-groups",
        "--all-extras",
        f"--output-file={constraints}",
        external=True,
        silent=True,
    )
    env = {"UV_PYTHON_DOWNLOADS": "never"}
    with tempfile.TemporaryDirectory(prefix="asyncsignal-wheel-") as outside:
        venv = Path(outside) / "venv"
        bin_dir = venv / ("Scripts" if sys.platform == "win32" else "bin")
        python = str(bin_dir / "python")
        session.run(
            "uv", "venv", f"--python={NEWEST}", str(venv), env=env, external=True
        )
        session.run(
            "uv",
            "pip",
            "install",
            f"--python={python}",
            f"--constraint={constraints}",
            f"{wheel}[trio,django]",
            env=env,
            external=True,
        )
        # Outside the checkout, and -I keeps the current directory and
        # PYTHONPATH off sys.path: only the installed wheel can be imported.
        demo = shutil.copy(ROOT / "examples" / "demo.py", outside)
        session.chdir(outside)
        session.run(
            python,
            "-I",
            "-c",
            "import sys, asyncsignal as a, asyncsignal.testing, asyncsignal.django; "
            "assert a.__file__.startswith(sys.prefix), a.__file__; "
            "print('asyncsignal', a.__version__, 'from', a.__file__)",
            external=True,
        )
        session.run(python, "-I", demo, external=True)
        session.chdir(ROOT)


@nox.session(python=SUPPORTED, default=False)
def bench(session: nox.Session) -> None:
    """The benchmark suite (arguments after -- go to benchmarks/run.py)."""
    _sync(session, groups=("bench",), extras=("django", "trio"))
    session.run("python", "benchmarks/run.py", *session.posargs)


@nox.session(name="bench-web", python=SUPPORTED, default=False)
def bench_web(session: nox.Session) -> None:
    """The end-to-end web benchmark: FastAPI under uvicorn, driven by wrk
    (installed with apt-get if missing); arguments after -- go to
    benchmarks/web/run.py."""
    _sync(session, groups=("bench-web",), extras=("django",))
    session.run("python", "benchmarks/web/run.py", *session.posargs)


@nox.session(name="bench-bridge", python=SUPPORTED, default=False)
def bench_bridge(session: nox.Session) -> None:
    """The bridge benchmark: processes over real Redis and NATS (arguments
    after -- go to benchmarks/bridge/run.py)."""
    _sync(session, groups=("bench",), extras=("trio", "redis", "nats"))
    session.run("python", "benchmarks/bridge/run.py", *session.posargs)


@nox.session(name="django-suites", python=NEWEST, default=False)
def django_suites(session: nox.Session) -> None:
    """Django's own signal tests and django-reversion's and
    django-simple-history's suites, unmodified, with and without
    ``asyncsignal.django.install()`` (tests/django_suites/run.py; arguments
    after -- go to it)."""
    _sync(session, groups=("django-suites",), extras=("django",))
    session.run("python", "tests/django_suites/run.py", *session.posargs)
