#!/usr/bin/env python3
"""Set-up and checks in one command; needs only Python >= 3.10 and pip.

    python3 dev.py test             # lint; tests on each supported Python; the
                                    # newest anyio, trio, uvloop, redis, nats-py,
                                    # msgspec; the web apps and docs examples;
                                    # coverage
    python3 dev.py test -k send -x  # tests only, each Python; arguments go to pytest
    python3 dev.py demo             # examples/demo.py on asyncio and trio
    python3 dev.py docs [ARGS]      # docs site, warnings as errors: docs/_build/html
    python3 dev.py package          # sdist + wheel, twine check, the wheel's demo;
                                    # they land in .nox/packaging/tmp/dist/
    python3 dev.py bench [ARGS]     # benchmarks/run.py on every supported Python
                                    # present, a table each (--only ...); --smoke
                                    # runs on 3.12 only
    python3 dev.py bench --python 3.11 [ARGS]   # one Python
    python3 dev.py bench-web [ARGS]     # benchmarks/web/run.py (--smoke, --rounds N)
    python3 dev.py bench-bridge [ARGS]  # benchmarks/bridge/run.py (--smoke)
    python3 dev.py lock [ARGS]      # `uv lock`, after editing dependencies
    python3 dev.py nox [ARGS]       # nox itself: `nox -l`, `nox -s tests-3.12 -- -x`
    python3 dev.py sid remove       # delete the Debian sid chroot of 3.14/3.15
    python3 dev.py sid shell        # a shell in it, this checkout mounted

The first run installs pinned nox and uv into .nox/_bootstrap (a virtual
environment of this Python); nox then builds each session's environment under
.nox/ from uv.lock (see noxfile.py). ``test`` runs the suite on every
supported Python it finds (3.10-3.15, on PATH or under pyenv) and names those
it skipped. As root on Debian, 3.14 and 3.15 that are not found come from
Debian sid, in a chroot made once in /var/cache/asyncsignal/sid
(tools/sid_chroot.py). With CI=true, 3.10, 3.14 and 3.15 are required.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
BOOTSTRAP = ROOT / ".nox" / "_bootstrap"
#: What the bootstrap environment holds; a change here rebuilds it.
REQUIREMENTS = ("nox==2026.10.20", "uv==0.13.9")
BENCH_PYTHON = "3.12"
#: Where the packaging session builds the sdist and the wheel (its tmp dir).
DIST = ROOT / ".nox" / "packaging" / "tmp" / "dist"
BIN = "Scripts" if sys.platform == "win32" else "bin"


def say(message: str) -> None:
    print(f"dev.py: {message}", file=sys.stderr, flush=True)


def check(*command: str | Path) -> None:
    say(" ".join(map(str, command)))
    if subprocess.run([str(c) for c in command]).returncode != 0:
        sys.exit(f"dev.py: failed: {' '.join(map(str, command))}")


def bootstrap() -> Path:
    """A virtual environment with nox and uv, made once (and when pins change)."""
    python = BOOTSTRAP / BIN / ("python.exe" if sys.platform == "win32" else "python")
    stamp = BOOTSTRAP / "requirements.txt"
    wanted = "\n".join(REQUIREMENTS) + "\n"
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    shutil.rmtree(BOOTSTRAP, ignore_errors=True)
    venv: list[str | Path] = [sys.executable, "-m", "venv"]
    if subprocess.run([*venv, BOOTSTRAP], capture_output=True).returncode == 0:
        pip: list[str | Path] = [python, "-m", "pip"]
    else:
        # Debian's Python has venv but not ensurepip unless python3-venv is
        # installed: make the environment bare and fill it with this pip.
        check(*venv, "--clear", "--without-pip", BOOTSTRAP)
        pip = [sys.executable, "-m", "pip", "--python", python]
    check(*pip, "install", "--quiet", "--disable-pip-version-check", *REQUIREMENTS)
    stamp.write_text(wanted)
    return python


def nox(*args: str) -> int:
    # nox uses the uv installed next to it.
    command: list[str | Path] = [
        bootstrap(),
        "-m",
        "nox",
        "--noxfile",
        ROOT / "noxfile.py",
    ]
    command += args
    say(" ".join(["nox", *map(str, command[5:])]))
    return subprocess.run(command, cwd=ROOT).returncode


def built(dist: Path) -> str:
    """Where the packaging session left the sdist and the wheel."""
    files = sorted(dist.glob("*.tar.gz")) + sorted(dist.glob("*.whl"))
    if not files:
        return f"no sdist or wheel in {dist}"
    return "built: " + ", ".join(
        str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
        for path in files
    )


def main(argv: list[str]) -> int:
    # Older Pythons get this far (the file parses), and a clear message.
    if sys.version_info < (3, 10):  # noqa: UP036
        sys.exit("dev.py: needs Python 3.10 or newer")
    command, *args = argv or ["--help"]
    started = time.monotonic()
    if command in ("test", "bench-bridge"):
        # The bridge tests start real Redis servers: Debian's, installed once.
        check("bash", ROOT / "tests" / "bridge_support" / "install_redis.sh")
    if command == "test" and not args:
        # lint, tests-3.X, upstream, web, coverage: see noxfile.py.
        code = nox("--tags", "check")
    elif command == "test":
        code = nox("--tags", "tests", "--", *args)
    elif command == "demo":
        code = nox("--error-on-missing-interpreters", "--sessions", "demo", *args)
    elif command in ("docs", "package"):
        session = "docs" if command == "docs" else "packaging"
        code = nox(
            "--error-on-missing-interpreters", "--sessions", session, "--", *args
        )
        if command == "package" and code == 0:
            say(built(DIST))
    elif command == "bench" and "--python" not in args and "--smoke" not in args:
        # Every supported Python present, one after another: targets differ by
        # Python (PERF.md), so each run prints its own table. Absent ones are
        # skipped and named by nox. A smoke run (CI) stays on one Python.
        code = nox("-s", "bench", "--", *args)
    elif command in ("bench", "bench-web", "bench-bridge"):
        version = BENCH_PYTHON
        if "--python" in args:
            at = args.index("--python")
            version = args[at + 1]
            del args[at : at + 2]
        session = f"{command}-{version}"
        code = nox("--error-on-missing-interpreters", "-s", session, "--", *args)
    elif command == "lock":
        uv = shutil.which("uv", path=bootstrap().parent) or "uv"
        env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
        return subprocess.run([uv, "lock", *args], cwd=ROOT, env=env).returncode
    elif command == "nox":
        code = nox(*args)
    elif command == "sid":
        script = ROOT / "tools" / "sid_chroot.py"
        return subprocess.run([sys.executable, script, *args]).returncode
    else:
        print(__doc__)
        return 0 if command in ("-h", "--help", "help") else 2
    outcome = "passed" if code == 0 else f"FAILED (exit code {code})"
    say(f"{command} {outcome} in {time.monotonic() - started:.0f} s")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
