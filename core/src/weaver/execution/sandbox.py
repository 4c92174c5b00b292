"""The bubblewrap profile for ``[execution] sandbox = "bwrap"``.

The kernel sees a read-only system (``/usr``, ``/etc``, the Python installation and its
import paths), a private ``/tmp``, and exactly three writable directories: the session's
``cwd/`` and ``artifacts/`` and the kernel's own runtime directory (connection file and IPC
sockets). It has no network: its namespace has only a loopback device, so the kernel
talks to the host over IPC sockets in its runtime directory.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

_SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt")


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


@functools.lru_cache(maxsize=1)
def bwrap_status() -> tuple[bool, str]:
    """Whether bubblewrap can start a sandbox here, and why not (or its version)."""
    path = bwrap_path()
    if path is None:
        return False, "bwrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    probe = [
        path,
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--unshare-net",
        "--unshare-pid",
        "--die-with-parent",
        "true",
    ]
    try:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"{path} could not run: {exc}"
    if done.returncode != 0:
        return False, f"{path} cannot create namespaces here: {done.stderr.strip() or done.returncode}"
    version = subprocess.run(
        [path, "--version"], capture_output=True, text=True, timeout=30, check=False
    ).stdout.strip()
    return True, f"{path} ({version or 'version unknown'}) can create a sandbox without network"


@functools.lru_cache(maxsize=8)
def _python_paths(python: str, pythonpath: str) -> tuple[str, ...]:
    """The directories ``python`` imports from (prefixes and sys.path), asked of it once."""
    code = "import json, sys; print(json.dumps([sys.prefix, sys.base_prefix, *sys.path]))"
    env = {"PATH": os.defpath, "PYTHONPATH": pythonpath}
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, env=env, timeout=60, check=True)
    return tuple(json.loads(out.stdout))


def _readable_binds(paths: Iterable[str], hidden: Sequence[Path]) -> list[str]:
    args: list[str] = []
    seen: set[str] = set()
    for raw in paths:
        if not raw or not os.path.isabs(raw) or raw in seen or not os.path.exists(raw):
            continue
        path = Path(raw).resolve()
        # Binding a directory above the session would expose its log and other sessions.
        if path == Path("/") or any(path in h.parents or path == h for h in hidden):
            continue
        seen.add(raw)
        args += ["--ro-bind", raw, raw]
    return args


def bwrap_command(
    kernel_cmd: Sequence[str],
    *,
    python: str,
    env: Mapping[str, str],
    writable: Sequence[Path],
    chdir: Path,
) -> list[str]:
    """``kernel_cmd`` wrapped in bubblewrap with only ``writable`` directories writable."""
    path = bwrap_path()
    if path is None:
        raise FileNotFoundError("bwrap")
    args = [
        path,
        "--die-with-parent",
        "--unshare-net",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--hostname",
        "weaver-kernel",
    ]
    for name in _SYSTEM:
        if os.path.islink(name):
            args += ["--symlink", os.readlink(name), name]
        elif os.path.isdir(name):
            args += ["--ro-bind", name, name]
    # The private /tmp comes before the binds: a later mount shadows an earlier one, and the
    # Python installation (a virtualenv, say) or the session itself may live under /tmp.
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    python_paths = _python_paths(python, env.get("PYTHONPATH", ""))
    args += _readable_binds((os.path.dirname(python), *python_paths), hidden=writable)
    for directory in writable:
        args += ["--bind", str(directory), str(directory)]
    args += ["--chdir", str(chdir), "--", *kernel_cmd]
    return args
