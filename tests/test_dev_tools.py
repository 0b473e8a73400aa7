"""The developer commands' own output (dev.py, the coverage session's log):
what they tell a contributor, checked without running the sessions."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def _module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dev_py_package_says_where_the_sdist_and_the_wheel_are(tmp_path: Path) -> None:
    dev = _module(ROOT / "dev.py")
    assert dev.DIST == ROOT / ".nox" / "packaging" / "tmp" / "dist"
    assert dev.built(tmp_path) == f"no sdist or wheel in {tmp_path}"
    for name in ("asyncsignal-1.0-py3-none-any.whl", "asyncsignal-1.0.tar.gz"):
        (tmp_path / name).touch()
    assert dev.built(tmp_path) == (
        f"built: {tmp_path / 'asyncsignal-1.0.tar.gz'}, "
        f"{tmp_path / 'asyncsignal-1.0-py3-none-any.whl'}"
    )
    assert ".nox/packaging/tmp/dist/" in (dev.__doc__ or "")  # dev.py --help


def test_the_readme_says_that_dev_py_test_may_install_redis_server() -> None:
    text = " ".join((ROOT / "README.md").read_text().split())
    assert (
        "Where no `redis-server` is on `PATH`, `dev.py test` first installs "
        "Debian's package with `apt-get`"
    ) in text
    assert (
        "apt-get install"
        in (ROOT / "tests" / "bridge_support" / "install_redis.sh").read_text()
    )


def test_the_coverage_log_counts_data_files_per_session_in_one_short_line() -> None:
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        from coverage_files import data_files_by_session
    finally:
        sys.path.remove(str(ROOT / "tools"))
    workers = [
        Path(f".coverage.tests-3.12.host.{pid}.XaBc{pid}xyz") for pid in range(40)
    ]
    data = [Path(".coverage.tests-3.10"), *workers, Path(".coverage.tests-3.15.h.1.x")]
    line = data_files_by_session(data)
    assert line == "tests-3.10 (1 file), tests-3.12 (40 files), tests-3.15 (1 file)"
