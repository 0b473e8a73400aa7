"""Real Django test suites, unmodified, with and without ``install()``.

    python tests/django_suites/run.py                   # every suite (below)
    python tests/django_suites/run.py --suite reversion --mode with
    python tests/django_suites/run.py --suite django-wide --mode both

The suites come from the sdists on PyPI: Django's (its ``tests/`` folder, the
release matching the installed Django), django-reversion's and
django-simple-history's, downloaded with ``pip download`` once into
``~/.cache/asyncsignal/`` (outside the checkout) and unpacked there.

"with" runs each suite in processes that call ``asyncsignal.django.install()``
before anything else: a ``sitecustomize`` module on ``PYTHONPATH`` does it, so
the test runners' parallel workers (forked or spawned) are patched too. The
suites' own code is never changed; reversion's extra database aliases
(PostgreSQL, MySQL) become sqlite files through a settings module that
imports its settings and replaces ``DATABASES``.

Every suite runs both ways, but Django's wider modules
(:data:`DJANGO_WIDE_MODULES`, 2,161 tests) and django-simple-history's (363
tests), which run "with" only, to keep CI within its budget: measured once
without (2026-12-07, Django 6.1.3, 3.12: all pass; the wider modules in
107 s with ``--parallel=2``, simple-history in 34 s), so any failure with
install() is one that does not fail without it, and fails the run.
``--suite django-wide --mode both`` (or ``simple-history``) measures both
again.

Exit status: 1 if a suite fails with install() in a test that does not also
fail without it (``--mode both``), or fails at all (``--mode with``) but the
tests in :data:`EXPECTED`.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

CACHE = Path(
    os.environ.get("ASYNCSIGNAL_CACHE", Path.home() / ".cache" / "asyncsignal")
)
REVERSION = "django-reversion==6.4.0"
SIMPLE_HISTORY = "django-simple-history==3.13.0"

#: The modules of Django's test suite that exercise its signals (issue 19).
DJANGO_SIGNAL_MODULES = (
    "dispatch",
    "signals",
    "m2m_signals",
    "migrate_signals",
    "auth_tests.test_signals",
    "settings_tests",
    "test_client_regress",
    "handlers",
    "asgi",
    "delete_regress",
)
#: Larger modules where signals are sent as a side effect (saves, requests,
#: cache and transaction hooks). They pass without install(), all of them
#: (measured as the module docstring says).
DJANGO_WIDE_MODULES = (
    "async",
    "cache",
    "test_utils",
    "auth_tests",
    "contenttypes_tests",
    "transactions",
    "delete",
    "save_delete_hooks",
    "model_inheritance",
)

#: Tests that fail only with install(), each for a reason the issue accepts.
EXPECTED = {
    # Mocks weakref.ref and asserts Django's connect called it: asyncsignal's
    # registrations are weak references made by their own class.
    "test_lazy_model_signal (signals.tests.SignalTests.test_lazy_model_signal)",
}

SITECUSTOMIZE = """\
import os
if os.environ.get("ASYNCSIGNAL_INSTALL") == "1":
    import asyncsignal.django
    asyncsignal.django.install()
"""

REVERSION_SETTINGS = """\
from test_project.settings import *  # noqa: F403

DATABASES = {
    alias: {"ENGINE": "django.db.backends.sqlite3", "NAME": f"{alias}.sqlite3",
            "TEST": {"NAME": f"test_{alias}.sqlite3"}}
    for alias in ("default", "postgres", "mysql")
}
"""


def unpacked(requirement: str) -> Path:
    """The unpacked sdist of ``requirement`` (``name==version``), downloaded once."""
    name, version = requirement.split("==")
    stem = f"{name.replace('-', '_')}-{version}"
    sources = CACHE / "src"
    for candidate in (sources / stem, sources / f"{name}-{version}"):
        if candidate.is_dir():
            return candidate
    sdists = CACHE / "sdists"
    sdists.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--no-binary",
            ":all:",
            "--dest",
            str(sdists),
            requirement,
        ],
        check=True,
    )
    (archive,) = [
        path
        for path in sdists.glob("*.tar.gz")
        if path.name.lower().replace("_", "-").startswith(f"{name.lower()}-{version}.")
    ]
    sources.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        tar.extractall(sources, filter="data")
    return unpacked(requirement)


def installed(requirement: str) -> Path:
    """Install ``requirement`` from its cached sdist into this environment
    (its tests import the package and read its metadata); return the source."""
    source = unpacked(requirement)
    name, version = requirement.split("==")
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as version_of

    try:
        present = version_of(name)
    except PackageNotFoundError:
        present = None
    if present != version:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-deps",
                "--disable-pip-version-check",
                str(source),
            ],
            check=True,
        )
    return source


def run(
    label: str, command: list[str], cwd: Path, install: bool, extra_path: Path
) -> dict[str, str]:
    """Run one suite; return ``{test id: "FAIL"|"ERROR"}`` for its failures."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(extra_path), env.get("PYTHONPATH")])
    )
    env["ASYNCSIGNAL_INSTALL"] = "1" if install else "0"
    mode = "with install()" if install else "without"
    print(f"::: {label} {mode}: {' '.join(command)}", flush=True)
    started = time.monotonic()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    output = done.stdout + done.stderr
    failures = {
        match[1]: match[0]
        for match in re.findall(r"^(FAIL|ERROR): (.+)$", output, re.MULTILINE)
    }
    summary = re.findall(r"^(Ran \d+ tests.*|OK.*|FAILED.*)$", output, re.MULTILINE)
    print(
        f"::: {label} {mode}: {' '.join(summary)} (exit {done.returncode}, "
        f"{time.monotonic() - started:.0f} s)",
        flush=True,
    )
    if done.returncode != 0 and not failures:
        print(output[-5000:], flush=True)
        failures["<the run itself>"] = f"exit code {done.returncode}"
    return failures


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--suite",
        choices=("django", "django-wide", "reversion", "simple-history", "all"),
        default="all",
    )
    parser.add_argument("--mode", choices=("with", "without", "both"), default="both")
    parser.add_argument(
        "--parallel", default="2", help="Django's runtests.py --parallel"
    )
    parser.add_argument(
        "modules", nargs="*", help="Django test modules (default: the signal ones)"
    )
    args = parser.parse_args(argv)

    import django

    extra = Path(tempfile.mkdtemp(prefix="asyncsignal-suites-"))
    (extra / "sitecustomize.py").write_text(SITECUSTOMIZE)
    (extra / "asyncsignal_reversion_settings.py").write_text(REVERSION_SETTINGS)
    python = sys.executable
    #: (label, command, directory, runs with install() only)
    suites: list[tuple[str, list[str], Path, bool]] = []
    wanted = (
        {args.suite}
        if args.suite != "all"
        else {"django", "django-wide", "reversion", "simple-history"}
    )
    for suite in ("django", "django-wide"):
        if suite in wanted:
            modules = args.modules or (
                DJANGO_SIGNAL_MODULES if suite == "django" else DJANGO_WIDE_MODULES
            )
            command = [
                python,
                "runtests.py",
                "--settings=test_sqlite",
                f"--parallel={args.parallel}",
                "--noinput",
                *modules,
            ]
            tests = unpacked(f"django=={django.__version__}") / "tests"
            with_only = suite == "django-wide" and args.suite == "all"
            suites.append((suite, command, tests, with_only))
    if "reversion" in wanted:
        tests = installed(REVERSION) / "tests"
        suites.append(
            (
                "reversion",
                [
                    python,
                    "manage.py",
                    "test",
                    "--noinput",
                    "--settings=asyncsignal_reversion_settings",
                ],
                tests,
                False,
            )
        )
    if "simple-history" in wanted:
        root = installed(SIMPLE_HISTORY)
        with_only = args.suite == "all"
        suites.append(("simple-history", [python, "runtests.py"], root, with_only))

    modes = {"with": [True], "without": [False], "both": [False, True]}[args.mode]
    status = 0
    for label, command, cwd, with_only in suites:
        results = {
            install: run(label, command, cwd, install, extra)
            for install in ([True] if with_only else modes)
        }
        if True in results:
            only_with = sorted(set(results[True]) - set(results.get(False, {})))
            for test in only_with:
                known = " (expected)" if test in EXPECTED else ""
                print(
                    f"::: {label}: {results[True][test]} only with install(){known}: "
                    f"{test}"
                )
            if set(only_with) - EXPECTED:
                status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
