"""Coverage data files, summarised for the coverage session's log."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

#: ``.coverage.<session>``, then ``.<host>.<pid>.<random>`` for the files of
#: pytest-xdist's workers and of subprocesses.
_DATA_FILE = re.compile(r"\.coverage\.(tests-\d+\.\d+)(?:\.|$)")


def data_files_by_session(data: Iterable[Path]) -> str:
    """``tests-3.10 (3 files), tests-3.12 (1 file)``: the coverage data files
    counted per tests session, in the sessions' order."""
    counts: dict[str, int] = {}
    for path in data:
        match = _DATA_FILE.match(path.name)
        name = match[1] if match else path.name
        counts[name] = counts.get(name, 0) + 1
    return ", ".join(
        f"{name} ({count} file{'' if count == 1 else 's'})"
        for name, count in sorted(counts.items())
    )
