"""Every Python code block of the documentation site (``docs/``) runs as written.

Each ``.. code-block:: python`` runs on its own, in a fresh interpreter with
warnings as errors, as a reader who copies it into a file would run it: it
must exit 0 and leave no "Exception ignored" or "Task was destroyed" report.
Blocks check their own results with ``assert``. They import the same
``asyncsignal`` as the tests do. Being a fresh interpreter each, they are
marked ``slow``; ``python3 dev.py test`` runs this file in its web session
(newest Python, with the web frameworks), not under coverage.

Conventions, for the few blocks that need more than that (a reST comment
directly before the block; unknown keys fail the test, so a typo cannot
silently turn a check off):

``.. test: after=NAME[,NAME...]``
    Run the blocks named ``NAME`` (the standard ``:name:`` option of
    ``code-block``) first, in the same interpreter: a page's set-up, such as
    a Django project in one file, is written once and shown once.
``.. test: python>=3.11``
    Skipped on older Pythons (syntax such as ``except*``).
``.. test: pytest``
    The block is a test module: it runs under pytest instead, and its tests
    must all pass.
``.. test: redis``, ``.. test: nats``
    The block talks to a real broker, as written for one on its default
    address (``redis://127.0.0.1:6379``, ``nats://127.0.0.1:4222``): the
    bridge tests' server of the session (``tests/bridge_support``, on a free
    loopback port) takes its place, the address in the block rewritten to
    it. A block so marked must contain that address.

A block that imports a module which is not installed (FastAPI, Django...) is
skipped, except with ``CI=true``, where it fails: CI runs every block. Literal
blocks written with a bare ``::`` are refused, so no Python example can escape
these tests. The SSE endpoint of the streaming guide, which never ends on its
own, is also driven through ASGI until its client disconnects (below).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import pytest
from bridge_support.servers import ServerError

import asyncsignal

if TYPE_CHECKING:
    from collections.abc import Iterator

    from bridge_support.servers import Server

pytest_plugins = ["bridge_support.fixtures"]

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.rst") if "_build" not in p.parts)
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
#: The directory holding the package the tests import, for the subprocesses.
PACKAGE_ROOT = Path(asyncsignal.__file__).resolve().parent.parent
#: Seconds one block may take; reached only when a block hangs.
BLOCK_TIMEOUT = 120
#: Warnings about the test environment, not about the examples: Django keeps
#: a sqlite connection per thread (asgiref's too) and closes them when a
#: request finishes, which a script has none of, so the garbage collector
#: warns at exit; Starlette >= 1 asks for httpx2 instead of httpx in its
#: TestClient (either works).
IGNORED_WARNINGS = (
    "ignore:unclosed database in <sqlite3.Connection:ResourceWarning",
    "ignore:Using `httpx` with `starlette.testclient` is deprecated:UserWarning",
)
#: What an interpreter prints on stderr when something leaked or was lost.
LEAK_REPORTS = ("Exception ignored", "Task was destroyed", "was never awaited")
#: The address a block marked ``.. test: redis`` or ``nats`` is written for;
#: the test's server takes its place.
BROKER_ADDRESSES = {"redis": "redis://127.0.0.1:6379", "nats": "nats://127.0.0.1:4222"}

DIRECTIVE = re.compile(r"^(?P<indent> *)\.\. code-block:: *(?P<language>\S*) *$")
TEST_COMMENT = re.compile(r"^ *\.\. test: (?P<spec>.*)$")
OPTION = re.compile(r"^ +:(?P<key>[\w-]+):(?: +(?P<value>.*))?$")
PYTHON_SPEC = re.compile(r"^python>=(?P<major>\d+)\.(?P<minor>\d+)$")
#: A paragraph or line ending in ``::`` that starts a literal block (not a
#: directive, whose ``::`` follows its name).
BARE_LITERAL = re.compile(r"::\s*$")
DIRECTIVE_LINE = re.compile(r"^ *\.\. [\w:-]+::")


@dataclass
class Block:
    page: Path
    line: int
    source: str
    name: str | None = None
    after: list[str] = field(default_factory=list)
    min_python: tuple[int, int] | None = None
    pytest: bool = False
    brokers: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(DOCS).as_posix()}:{self.line}"


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _parse_spec(spec: str, where: str) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    for token in spec.split():
        if token.startswith("after="):
            parsed["after"] = [name for name in token[6:].split(",") if name]
        elif token == "pytest":
            parsed["pytest"] = True
        elif token in BROKER_ADDRESSES:
            parsed.setdefault("brokers", []).append(token)
        elif match := PYTHON_SPEC.match(token):
            parsed["min_python"] = (int(match["major"]), int(match["minor"]))
        else:
            raise ValueError(f"{where}: unknown '.. test:' setting {token!r}")
    return parsed


def _blocks_of(page: Path) -> Iterator[Block]:
    lines = page.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        directive = DIRECTIVE.match(line)
        if directive is None or directive["language"] != "python":
            continue
        base = len(directive["indent"])
        where = f"{page.relative_to(DOCS)}:{number + 1}"
        # The ``.. test:`` comment, if any, is the previous non-blank line.
        before = number - 1
        while before >= 0 and not lines[before].strip():
            before -= 1
        spec = TEST_COMMENT.match(lines[before]) if before >= 0 else None
        settings = _parse_spec(spec["spec"], where) if spec else {}
        # Options: indented ``:key: value`` lines right after the directive.
        at = number + 1
        name = None
        while at < len(lines) and (option := OPTION.match(lines[at])):
            if option["key"] == "name":
                name = option["value"]
            at += 1
        # Content: everything indented deeper than the directive.
        content: list[str] = []
        while at < len(lines) and (not lines[at].strip() or _indent(lines[at]) > base):
            content.append(lines[at])
            at += 1
        source = textwrap.dedent("\n".join(content)).strip("\n") + "\n"
        yield Block(page, number + 1, source, name, **settings)


BLOCKS = [block for page in PAGES for block in _blocks_of(page)]
NAMED = {(block.page, block.name): block for block in BLOCKS if block.name}


def _script(block: Block) -> str:
    parts = []
    for name in block.after:
        first = NAMED.get((block.page, name))
        if first is None:
            pytest.fail(f"{block.id}: no block named {name!r} on this page")
        parts.append(f"# --- {first.id} ({name})\n{first.source}")
    parts.append(f"# --- {block.id}\n{block.source}")
    return "\n".join(parts)


def _with_brokers(script: str, block: Block, request: pytest.FixtureRequest) -> str:
    """``script`` talking to the session's brokers instead of the default
    addresses it is written for."""
    for kind in block.brokers:
        address = BROKER_ADDRESSES[kind]
        if address not in script:
            pytest.fail(f"{block.id}: marked '{kind}' but never names {address}")
        try:
            server: Server = request.getfixturevalue(f"{kind}_server")
        except ServerError as error:
            if CI:
                raise
            pytest.skip(f"no {kind} server: {error}")
        script = script.replace(address, server.url)
    return script


def _imported_modules(source: str) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module.split(".")[0])
    return modules


def _require_modules(source: str) -> None:
    missing = sorted(
        name
        for name in _imported_modules(source)
        if importlib.util.find_spec(name) is None
    )
    if missing and CI:
        pytest.fail(f"CI runs every docs example, but {', '.join(missing)} missing")
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")


# -- the pages -------------------------------------------------------------------


def test_every_page_is_found() -> None:
    assert DOCS / "index.rst" in PAGES
    assert len(PAGES) >= 10
    assert len(BLOCKS) >= 20


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(DOCS).as_posix())
def test_code_blocks_say_their_language(page: Path) -> None:
    """Only ``.. code-block:: LANGUAGE`` makes a literal block: a bare ``::``
    block would show Python that nothing runs."""
    lines = page.read_text(encoding="utf-8").splitlines()
    bare = [
        number + 1
        for number, line in enumerate(lines)
        if BARE_LITERAL.search(line) and not DIRECTIVE_LINE.match(line)
    ]
    untagged = [
        number + 1
        for number, line in enumerate(lines)
        if (directive := DIRECTIVE.match(line)) and not directive["language"]
    ]
    others = [
        number + 1
        for number, line in enumerate(lines)
        if re.match(r"^ *\.\. (code|sourcecode|literalinclude|doctest)::", line)
    ]
    assert (bare, untagged, others) == ([], [], [])


def test_python_blocks_are_all_parsed() -> None:
    """The parser above sees every ``code-block:: python``, with content."""
    written = sum(
        len(re.findall(r"^ *\.\. code-block:: python *$", p.read_text(), re.M))
        for p in PAGES
    )
    assert len(BLOCKS) == written
    assert all(block.source.strip() for block in BLOCKS)


def test_block_names_are_unique() -> None:
    named = [(block.page, block.name) for block in BLOCKS if block.name]
    assert len(named) == len(set(named))


# -- every block runs --------------------------------------------------------------


# A fresh interpreter per block costs about a second each under coverage: the
# oldest and newest Pythons run them (see noxfile.py's FULL_SUITE).
@pytest.mark.slow
@pytest.mark.parametrize("block", BLOCKS, ids=[block.id for block in BLOCKS])
def test_docs_example_runs(
    block: Block, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if block.min_python and sys.version_info < block.min_python:
        pytest.skip(f"needs Python {'.'.join(map(str, block.min_python))}+")
    script = _script(block)
    _require_modules(script)
    script = _with_brokers(script, block, request)
    path = tmp_path / "example.py"
    path.write_text(script, encoding="utf-8")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(PACKAGE_ROOT), env.get("PYTHONPATH")])
    )
    python = [sys.executable, "-W", "error"]
    python += [f"-W{ignored}" for ignored in IGNORED_WARNINGS]
    # pytest exits 5 if it collected no test: a test module must have some.
    runner = ["-m", "pytest", "-p", "no:cacheprovider"] if block.pytest else []
    result = subprocess.run(
        [*python, *runner, str(path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=BLOCK_TIMEOUT,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{block.id} failed:\n{output}"
    leaks = [report for report in LEAK_REPORTS if report in result.stderr]
    assert not leaks, f"{block.id} reported {leaks}:\n{result.stderr}"


# -- the SSE endpoint, until its client goes away -------------------------------------


def _sse_app() -> dict[str, Any]:
    block = NAMED[(DOCS / "guides" / "streaming.rst", "sse-app")]
    _require_modules(block.source)
    namespace: dict[str, Any] = {"__name__": "docs_sse_app"}
    exec(compile(block.source, block.id, "exec"), namespace)
    return namespace


async def test_sse_endpoint_streams_every_event_until_the_client_disconnects() -> None:
    """The guide's Starlette route, driven as a server would drive it: one
    comment frame once subscribed, one ``data:`` frame per send, and the
    subscription closed when the client disconnects."""
    namespace = _sse_app()
    app, order_placed = namespace["app"], namespace["order_placed"]
    disconnect = anyio.Event()
    frames: list[str] = []
    frame_arrived = anyio.Event()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/orders/stream",
        "raw_path": b"/orders/stream",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await disconnect.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal frame_arrived
        if message["type"] == "http.response.start":
            headers = dict(message["headers"])
            assert message["status"] == 200
            assert headers[b"content-type"].startswith(b"text/event-stream")
        elif message.get("body"):
            frames.append(message["body"].decode())
            frame_arrived.set()
            frame_arrived = anyio.Event()

    async def next_frame() -> str:
        with anyio.fail_after(5):
            while not frames:
                await frame_arrived.wait()
        return frames.pop(0)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            group.start_soon(app, scope, receive, send)
            assert (await next_frame()).startswith(":")  # subscribed
            await order_placed.asend(sender=None, order_id=1, total="9.90")
            await order_placed.asend(sender=None, order_id=2, total="5.00")
            first, second = await next_frame(), await next_frame()
            disconnect.set()
    assert first.startswith("event: order_placed\ndata: ")
    assert json.loads(first.split("data: ", 1)[1]) == {"order_id": 1, "total": "9.90"}
    assert json.loads(second.split("data: ", 1)[1])["order_id"] == 2
    # The subscription ended with the response.
    assert order_placed._subscriptions == ()
