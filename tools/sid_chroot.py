#!/usr/bin/env python3
"""A Debian ``sid`` root for the Pythons this machine lacks (3.14, 3.15).

Debian's unstable archive has current CPython releases; Debian stable's glibc
cannot run them directly, so they run in a chroot. noxfile.py uses this for the
versions that are neither on PATH nor under pyenv, when the user is root on a
Debian-like system (apt-get, unshare):

    python3 tools/sid_chroot.py create   # once; later calls find it made
    python3 tools/sid_chroot.py run --bind DIR --cwd DIR -- COMMAND...
    python3 tools/sid_chroot.py shell    # a shell in it, the checkout mounted
    python3 tools/sid_chroot.py remove   # delete it (also: python3 dev.py sid remove)

The root lives outside any checkout, in ``/var/cache/asyncsignal/sid``
(``$ASYNCSIGNAL_SID_ROOT`` overrides), and is shared by every checkout on the
machine. It holds Debian's python3.14, python3.15 and redis-server (the bridge
tests start real Redis servers; one built for the chroot's own libraries).
``$ASYNCSIGNAL_SID_MIRROR`` overrides debootstrap's default Debian mirror.

Every ``run`` happens in new mount and PID namespaces (``unshare``): the bind
mounts (the checkout at its own path, /dev, the host's DNS and CA bundle, uv
and its cache) and a fresh /tmp exist only for that run, so none can leak or
outlive it, and when the command ends the kernel ends every process it left
(brokers, pytest workers).
"""

from __future__ import annotations

import argparse
import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

#: The Python versions it provides, at /usr/bin/python3.X.
PYTHONS = ("3.14", "3.15")
#: What the root holds; a change here rebuilds it (the stamp file records it).
PACKAGES = (*(f"python{v}" for v in PYTHONS), "redis-server", "ca-certificates")
SUITE = "sid"
ROOT = Path(os.environ.get("ASYNCSIGNAL_SID_ROOT", "/var/cache/asyncsignal/sid"))
STAMP = ".asyncsignal-sid"
#: The host files whose content the chroot gets for each run.
HOST_FILES = ("/etc/resolv.conf", "/etc/hosts", "/etc/ssl/certs/ca-certificates.crt")
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def say(message: str) -> None:
    print(f"sid_chroot: {message}", file=sys.stderr, flush=True)


def usable() -> str | None:
    """Why a chroot cannot be made here, or None if it can."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        return "needs root on Linux"
    if shutil.which("apt-get") is None or shutil.which("unshare") is None:
        return "needs a Debian-like system (apt-get, unshare)"
    return None


def _wanted() -> str:
    return f"{SUITE} {','.join(PACKAGES)}\n"


def _is_current(root: Path) -> bool:
    stamp = root / STAMP
    return stamp.exists() and stamp.read_text() == _wanted()


def _mounted_under(path: Path) -> list[str]:
    """Mount points at or below ``path`` in this mount namespace."""
    prefix = str(path.resolve())
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point == prefix or point.startswith(prefix + "/"):
            points.append(point)
    return points


def _delete(path: Path) -> None:
    # A bind mount of a checkout below it would be deleted with it: refuse.
    # (Runs mount in their own namespaces, so none should ever be here.)
    if mounts := _mounted_under(path):
        sys.exit(f"sid_chroot: not deleting {path}: mounted below it: {mounts}")
    if path.exists():
        shutil.rmtree(path)


def _install_debootstrap() -> None:
    if shutil.which("debootstrap"):
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "debootstrap"],
    ):
        say(" ".join(command))
        subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)


def create() -> Path:
    """Make the root if it is missing or holds other packages; return it."""
    if _is_current(ROOT):
        return ROOT
    if reason := usable():
        sys.exit(f"sid_chroot: cannot make a Debian {SUITE} root: {reason}")
    ROOT.parent.mkdir(parents=True, exist_ok=True)
    # Two test runs at once: one makes the root, the other waits for it.
    with open(ROOT.parent / f"{ROOT.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _is_current(ROOT):
            return ROOT
        _install_debootstrap()
        building = ROOT.with_name(f"{ROOT.name}.building")
        _delete(building)
        command = [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(PACKAGES)}",
            SUITE,
            str(building),
        ]
        if mirror := os.environ.get("ASYNCSIGNAL_SID_MIRROR"):
            command.append(mirror)
        say(f"making {ROOT} (once; about 350 MB): {' '.join(command)}")
        # debootstrap mounts /proc and /sys in the target while it works; in a
        # mount namespace of its own, a failure cannot leave them mounted.
        subprocess.run(["unshare", "--mount", "--", *command], check=True)
        (building / STAMP).write_text(_wanted())
        _delete(ROOT)
        building.rename(ROOT)
        say(f"made {ROOT}; `python3 dev.py sid remove` deletes it")
    return ROOT


def _bind(source: Path, root: Path) -> None:
    """Mount ``source`` at the same path inside ``root``."""
    target = root / source.resolve().relative_to("/")
    if source.is_dir():
        target.mkdir(parents=True, exist_ok=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink():
            target.unlink()
        target.touch()
    subprocess.run(["mount", "--bind", str(source.resolve()), str(target)], check=True)


def _enter(
    root: Path, binds: list[Path], cwd: Path, venv: Path | None, command: list[str]
) -> int:
    """In the new namespaces (this process is PID 1): mount, chroot, run."""
    subprocess.run(["mount", "--rbind", "/dev", str(root / "dev")], check=True)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(root / "tmp")], check=True)
    for name in HOST_FILES:
        if Path(name).exists():
            host = Path(name).resolve()
            target = root / name.lstrip("/")
            if target.is_symlink():
                target.unlink()
            target.touch()
            subprocess.run(["mount", "--bind", str(host), str(target)], check=True)
    for source in binds:
        _bind(source, root)
    uv = shutil.which("uv", path=Path(sys.executable).parent) or shutil.which("uv")
    if uv is not None:
        target = root / "usr/local/bin/uv"
        target.touch()
        subprocess.run(["mount", "--bind", uv, str(target)], check=True)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYENV", "VIRTUAL_ENV", "CONDA", "PYTHONHOME"))
    }
    env.update(PATH=PATH, HOME="/root", TMPDIR="/tmp")
    if venv is not None:
        # As if activated: its scripts (coverage, pytest, nats-server) first.
        env.update(PATH=f"{venv}/bin:{PATH}", VIRTUAL_ENV=str(venv))

    def chroot() -> None:
        os.chroot(root)
        os.chdir(cwd)

    # PID 1 of the namespace waits: when it returns, the kernel kills the rest.
    return subprocess.run(command, env=env, preexec_fn=chroot).returncode


def run(
    binds: list[Path], cwd: Path, command: list[str], venv: Path | None = None
) -> int:
    """Run ``command`` in the root, in ``cwd``, with ``binds`` mounted (each
    at its own path) and ``venv``'s scripts first on PATH."""
    root = create()
    inner = [
        sys.executable,
        "-I",
        str(Path(__file__).resolve()),
        "_enter",
        f"--cwd={cwd}",
        *(f"--bind={path}" for path in binds),
        *([f"--venv={venv}"] if venv else []),
        "--",
        *command,
    ]
    namespaces = [
        "unshare",
        "--mount",
        "--propagation=private",
        "--pid",
        "--fork",
        "--kill-child",
        f"--mount-proc={root / 'proc'}",
    ]
    return subprocess.run([*namespaces, "--", *inner]).returncode


def remove() -> None:
    for path in (ROOT, ROOT.with_name(f"{ROOT.name}.building")):
        if path.exists():
            say(f"deleting {path}")
            _delete(path)
    say(f"{ROOT} is gone")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("create", help="make the root (if missing)")
    commands.add_parser("remove", help="delete the root")
    commands.add_parser("shell", help="a shell in the root, this checkout mounted")
    for name in ("run", "_enter"):
        sub = commands.add_parser(name, help="run a command in the root")
        sub.add_argument("--bind", type=Path, action="append", default=[])
        sub.add_argument("--cwd", type=Path, default=Path.cwd())
        sub.add_argument("--venv", type=Path)
        sub.add_argument("argv", nargs="+")
    args = parser.parse_args(argv)
    if args.command == "create":
        print(create())
    elif args.command == "remove":
        remove()
    elif args.command == "shell":
        checkout = Path(__file__).resolve().parent.parent
        return run([checkout], checkout, ["bash", "-l"])
    elif args.command == "run":
        return run(args.bind, args.cwd.resolve(), args.argv, args.venv)
    elif args.command == "_enter":
        return _enter(ROOT, args.bind, args.cwd, args.venv, args.argv)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
