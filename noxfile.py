"""Environments and checks, run by nox; ``python3 dev.py`` installs nox and uv.

    nox                            # lint, tests on each supported Python here,
                                   # upstream, web, coverage (tagged "check")
    nox -s tests-3.12 -- -k send   # one Python; arguments after -- go to pytest
    nox -t tests -- -k send        # every Python (3.14/3.15 may run in a chroot)
    nox -s upstream                # the newest anyio, trio, uvloop, redis, nats-py,
                                   # msgspec
    nox -s demo
    nox -s web-3.13                # the example web apps and the docs' examples
    nox -s docs                    # the site, warnings as errors: docs/_build/html
    nox -s packaging               # sdist + wheel, twine check, the wheel's demo
    nox -s bench-3.12 -- --smoke   # arguments after -- go to benchmarks/run.py
    nox -s bench-web-3.12 -- --smoke
    nox -s bench-bridge-3.12 -- --smoke

Every session installs exactly what ``uv.lock`` pins (``uv sync --locked``: a
stale lock is an error, never re-resolved) into its own environment under
``.nox/`` (``upstream`` then upgrades the libraries it watches). Runtime
extras are ``[project.optional-dependencies]``; the tools of each session are a
PEP 735 dependency group in ``pyproject.toml``.

Python 3.14 and 3.15 that are neither on PATH nor under pyenv run, as root on
Debian, in a Debian sid chroot (``tools/sid_chroot.py``): their ``tests-3.X``
sessions make it once, outside the checkout, and run the suite there.
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

sys.path.insert(0, str(Path(__file__).resolve().parent / "tools"))
import sid_chroot
from coverage_files import data_files_by_session

# download_python: nox 2025.10.14.
nox.needs_version = ">=2025.10.14"

ROOT = Path(__file__).resolve().parent
SUPPORTED = ("3.10", "3.11", "3.12", "3.13", "3.14", "3.15")
OLDEST, NEWEST = SUPPORTED[0], SUPPORTED[-1]
#: Debian sid's Pythons, run in tools/sid_chroot.py's root when neither PATH
#: nor pyenv has them and a root can be made here (root on Debian).
SID_VERSIONS = sid_chroot.PYTHONS
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
#: The newest Python of this machine itself: docs, packaging, web, upstream.
HOST_NEWEST = max(PYTHONS, key=lambda v: tuple(map(int, v.split("."))), default="3.13")
SID_UNUSABLE = sid_chroot.usable()
IN_SID = [v for v in SID_VERSIONS if v not in PYTHONS and SID_UNUSABLE is None]
ABSENT = [v for v in SUPPORTED if v not in PYTHONS and v not in IN_SID]
#: The versions whose sessions run in an environment on this machine itself.
ON_HOST = [v for v in SUPPORTED if v not in IN_SID]
#: CI needs the oldest supported Python and the current releases.
REQUIRED = (OLDEST, *SID_VERSIONS)
REQUIRED_ABSENT = [v for v in REQUIRED if v in ABSENT] if CI else []
#: The full suite (slow tests included) runs on the newest Python present
#: (3.15 in CI); the others leave out the `slow` stress, memory and long model
#: tests, which exercise no version-specific code, to keep CI within its time
#: budget. Not on the oldest as well: under coverage on 3.10 they took five
#: minutes on CI's two shared cores (the whole suite on 3.15: under two).
PRESENT = [v for v in SUPPORTED if v not in ABSENT] or [OLDEST, NEWEST]
FULL_SUITE = {PRESENT[-1]}
#: Coverage is measured where the gate needs it: on the oldest and the newest
#: Python, which take the two sides of each version check in the package
#: (`>= (3, 11)`, `>= (3, 12)`). The others run pytest alone, for CI's budget.
COVERED = {PRESENT[0], PRESENT[-1]}

nox.options.default_venv_backend = "uv"
# The sessions of `python3 dev.py test`, in the order they are defined here.
nox.options.tags = ["check"]
# Never download an interpreter: the supported ones present here are tested.
nox.options.download_python = "never"
# `uv sync` makes a reused environment exactly what the lock says.
nox.options.reuse_venv = "yes"
# An absent Python's sessions are skipped (and listed as such at the end),
# except with CI=true, where the oldest and newest are required.
nox.options.error_on_missing_interpreters = bool(REQUIRED_ABSENT)
if REQUIRED_ABSENT:
    print(
        f"noxfile.py: CI=true requires Python {', '.join(REQUIRED_ABSENT)} "
        "(the oldest supported and the current releases), not found on PATH or "
        f"under pyenv, and no Debian sid chroot here: {SID_UNUSABLE}",
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


@nox.session(tags=["check"])
def lint(session: nox.Session) -> None:
    """ruff, mypy --strict (as the oldest and newest Python), pyright --verifytypes."""
    _sync(
        session,
        groups=("lint",),
        extras=("django", "trio", "redis", "nats", "opentelemetry"),
    )
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    for version in (OLDEST, NEWEST):
        session.run("mypy", f"--python-version={version}")
    session.run("pyright", "--verifytypes", "asyncsignal", "--ignoreexternal")
    # The typed-signal expectations: every `pyright: ignore` there must fire.
    session.run("pyright", "--project", "tests/typing", "tests/typing")


#: The extras the suite needs (the bridge's brokers, Django, trio,
#: OpenTelemetry's API; its SDK is in the test group).
TEST_EXTRAS = ("django", "trio", "redis", "nats", "opentelemetry")


def _suite(session: nox.Session, version: str) -> list[str]:
    """The command that runs the suite on ``version``: pytest, under coverage
    if ``version`` is one of COVERED (see _coverage_env)."""
    selection = [] if version in FULL_SUITE else ["-m", "not slow"]
    return [
        *(["coverage", "run"] if version in COVERED else ["python"]),
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
    ]


def _coverage_env(session: nox.Session) -> dict[str, str]:
    """Where this session's coverage data goes (pytest-xdist's workers too),
    emptied of an earlier run's (workers add suffixed files)."""
    COVERAGE_DIR.mkdir(parents=True, exist_ok=True)
    data = COVERAGE_DIR / f".coverage.{session.name}"
    for stale in COVERAGE_DIR.glob(f"{data.name}*"):
        stale.unlink()
    return {"COVERAGE_FILE": str(data)}


@nox.session(python=ON_HOST, tags=["check", "tests"])
def tests(session: nox.Session) -> None:
    """pytest, under branch coverage on the oldest and newest Python; the slow
    tests on the newest only."""
    _sync(session, groups=("test",), extras=TEST_EXTRAS)
    session.run(*_suite(session, str(session.python)), env=_coverage_env(session))


def _tests_in_sid(version: str) -> None:
    """Register ``tests-{version}``: the suite in the Debian sid chroot.

    The chroot (tools/sid_chroot.py, made on first use) sees this checkout at
    its own path, so the environment, ``.nox/tests-3-X-sid``, is made by uv
    from ``uv.lock`` as for the other sessions, and the coverage data has the
    paths the coverage session combines. Redis is the chroot's redis-server.
    """

    def tests_in_sid(session: nox.Session) -> None:
        venv = ROOT / ".nox" / f"tests-{version.replace('.', '-')}-sid"
        # nox's own uv (python3 dev.py installs it next to nox).
        uv = shutil.which("uv", path=Path(sys.executable).parent) or "uv"
        uv_cache = subprocess.run(
            [uv, "cache", "dir"], capture_output=True, text=True, check=True
        ).stdout.strip()
        Path(uv_cache).mkdir(parents=True, exist_ok=True)
        inside = [
            sys.executable,
            str(ROOT / "tools" / "sid_chroot.py"),
            "run",
            f"--bind={ROOT}",
            f"--bind={uv_cache}",
            f"--cwd={ROOT}",
            f"--venv={venv}",
            "--",
        ]
        extras = [f"--extra={extra}" for extra in TEST_EXTRAS]
        session.run_install(
            *inside,
            "uv",
            "sync",
            "--locked",
            "--no-default-groups",
            "--group=test",
            *extras,
            f"--python=/usr/bin/python{version}",
            env={
                "UV_PROJECT_ENVIRONMENT": str(venv),
                "UV_PYTHON_DOWNLOADS": "never",
                "UV_CACHE_DIR": uv_cache,
                # The cache and the checkout are different mounts in there.
                "UV_LINK_MODE": "copy",
            },
        )
        session.run(*inside, *_suite(session, version), env=_coverage_env(session))

    tests_in_sid.__doc__ = (
        f"pytest on Debian sid's Python {version}, in a chroot outside the "
        f"checkout ({sid_chroot.ROOT})."
    )
    nox.session(name=f"tests-{version}", venv_backend="none", tags=["check", "tests"])(
        tests_in_sid
    )


for _version in IN_SID:
    _tests_in_sid(_version)

#: What `upstream` installs at their newest releases (within the ranges
#: pyproject.toml allows users), instead of the versions uv.lock pins.
UPSTREAM = ("anyio", "trio", "uvloop", "redis", "nats-py", "msgspec")


@nox.session(python=HOST_NEWEST, tags=["check"])
def upstream(session: nox.Session) -> None:
    """The suite (without the slow tests) against the newest releases of
    anyio, trio, uvloop, redis, nats-py and msgspec (whose JSON the bridge's
    tests compare with json's), so that a release that breaks
    asyncsignal is seen before users see it; not under coverage. Arguments
    after -- go to pytest."""
    _sync(session, groups=("test",), extras=TEST_EXTRAS)
    # The project's own requirements still apply (nats-py < 3, for one):
    # users get no more than they allow either.
    session.run_install(
        "uv",
        "pip",
        "install",
        f"--python={shutil.which('python', path=session.bin)}",
        "--upgrade",
        "--refresh",
        *UPSTREAM,
        env={"UV_PYTHON_DOWNLOADS": "never"},
    )
    session.run("uv", "pip", "list", f"--python={session.bin}/python")
    session.run(
        "python",
        "-m",
        "pytest",
        "--numprocesses=auto",
        "--ignore=tests/web",
        "--ignore=tests/test_docs_examples.py",
        "-m",
        "not slow",
        *session.posargs,
    )


@nox.session(python=HOST_NEWEST, tags=["check"])
def web(session: nox.Session) -> None:
    """The example web apps under their real servers (tests/web) and every
    example of docs/ (tests/test_docs_examples.py), each in a fresh
    interpreter; not under coverage (the tests sessions gate the package).
    Serial: each app's servers start together, per process. A missing
    framework fails instead of skipping. Arguments after -- go to pytest."""
    _sync(session, groups=("web",), extras=("django", "trio", "redis", "nats"))
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


@nox.session(tags=["check"])
def coverage(session: nox.Session) -> None:
    """Combine the test sessions' data; asyncsignal/ must be 100% covered."""
    _sync(session, only_group="coverage")
    for version in ABSENT:
        session.log(f"Python {version} not found: its tests session was skipped")
    data = sorted(COVERAGE_DIR.glob(".coverage.tests-*"))
    if not data:
        session.error("no coverage data: run the tests sessions first")
    session.log(f"combining {data_files_by_session(data)}")
    env = {"COVERAGE_FILE": str(COVERAGE_DIR / ".coverage")}
    # `combine` deletes what it merged: a later run never mixes in stale data.
    # Given the directory (every `.coverage.*` in it: only the tests sessions
    # write there), not each file: pytest-xdist's workers and the subprocesses
    # write one file each, and nox echoes the command line.
    session.run("coverage", "combine", "--quiet", str(COVERAGE_DIR), env=env)
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
def demo(session: nox.Session) -> None:
    """examples/demo.py, on asyncio and trio."""
    _sync(session, extras=("trio",))
    session.run("python", "examples/demo.py")


@nox.session(python=HOST_NEWEST, default=False)
def docs(session: nox.Session) -> None:
    """The documentation site, built from docs/ into docs/_build/html.

    Warnings are errors (a broken cross-reference or docstring fails the
    build); ``--fresh-env`` re-reads every page, so none escapes by being
    cached. Arguments after -- go to sphinx-build.
    """
    _sync(session, groups=("docs",), extras=("django", "opentelemetry"))
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


@nox.session(python=HOST_NEWEST, default=False)
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
            "uv", "venv", f"--python={HOST_NEWEST}", str(venv), env=env, external=True
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


@nox.session(python=ON_HOST, default=False)
def bench(session: nox.Session) -> None:
    """The benchmark suite (arguments after -- go to benchmarks/run.py)."""
    _sync(session, groups=("bench",), extras=("django", "trio", "opentelemetry"))
    session.run("python", "benchmarks/run.py", *session.posargs)


@nox.session(name="bench-observers", python=ON_HOST, default=False)
def bench_observers(session: nox.Session) -> None:
    """What observers and asyncsignal.opentelemetry cost (arguments after --
    go to benchmarks/observers.py)."""
    _sync(session, groups=("bench",), extras=("trio", "opentelemetry"))
    session.run("python", "benchmarks/observers.py", *session.posargs)


@nox.session(name="bench-web", python=ON_HOST, default=False)
def bench_web(session: nox.Session) -> None:
    """The end-to-end web benchmark: FastAPI under uvicorn, driven by wrk
    (installed with apt-get if missing); arguments after -- go to
    benchmarks/web/run.py."""
    _sync(session, groups=("bench-web",), extras=("django",))
    session.run("python", "benchmarks/web/run.py", *session.posargs)


@nox.session(name="bench-bridge", python=ON_HOST, default=False)
def bench_bridge(session: nox.Session) -> None:
    """The bridge benchmark: processes over real Redis and NATS (arguments
    after -- go to benchmarks/bridge/run.py)."""
    _sync(session, groups=("bench",), extras=("trio", "redis", "nats", "opentelemetry"))
    session.run("python", "benchmarks/bridge/run.py", *session.posargs)


@nox.session(name="django-suites", python=HOST_NEWEST, default=False)
def django_suites(session: nox.Session) -> None:
    """Django's own signal tests and django-reversion's and
    django-simple-history's suites, unmodified, with and without
    ``asyncsignal.django.install()``, and Django's wider modules (2,161 tests)
    with it (tests/django_suites/run.py; arguments after -- go to it)."""
    _sync(session, groups=("django-suites",), extras=("django",))
    session.run("python", "tests/django_suites/run.py", *session.posargs)
