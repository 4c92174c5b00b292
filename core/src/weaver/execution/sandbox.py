"""The bubblewrap profile for ``[execution] sandbox = "bwrap"`` (and ``"auto"`` where it works).

The kernel sees what :mod:`weaver.execution.boundary` allows it, each at its host path:
the system, its Python, the project files and plugin folders read-only; its session's
directories, its private directory and its socket directory writable; a private
``/tmp``, ``/proc`` (its own pid namespace) and ``/dev``. It has no network: its namespace
has only a loopback device, so the kernel talks to the host over IPC sockets.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from weaver.execution.boundary import SYSTEM, Access

_DROP_CAPS = ("CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP")


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


def bwrap_command(kernel_cmd: Sequence[str], *, access: Access, chdir: Path, drops_to_user: bool) -> list[str]:
    """``kernel_cmd`` wrapped in bubblewrap: ``access.read`` bound read-only, ``access.write``
    and ``access.sockets`` writable, nothing else of the host's file system.

    Run by root, bubblewrap needs no user namespace (one would map the kernel's user to uid
    0 on the host, leaving it root for file permissions and process limits); it keeps only
    the capabilities the launcher needs to become the kernel's own user
    (``drops_to_user``), which it then gives up too. Run by anyone else, it makes a user
    namespace and keeps no capability.
    """
    path = bwrap_path()
    if path is None:
        raise FileNotFoundError("bwrap")
    args = [
        path,
        "--die-with-parent",
        "--new-session",
        "--unshare-net",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--hostname",
        "weaver-kernel",
        "--cap-drop",
        "ALL",
    ]
    if drops_to_user:
        args += [arg for cap in _DROP_CAPS for arg in ("--cap-add", cap)]
    else:
        args += ["--unshare-user"]
    for name in SYSTEM:
        if os.path.islink(name):
            args += ["--symlink", os.readlink(name), name]
    # The private /tmp comes before the binds: a later mount shadows an earlier one, and the
    # Python installation (a virtualenv, say) or the session itself may live under /tmp.
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    binds = [*access.read, *access.write, *access.sockets]
    for parent in _parents(binds):
        # bubblewrap would make them 0700 and owned by root: the kernel's user could not
        # reach what is below, wherever the host's own directories let it in or not.
        args += ["--perms", "0755", "--dir", parent]
    for name in access.read:
        if not (name in SYSTEM and os.path.islink(name)):
            args += ["--ro-bind", name, name]
    for directory in (*access.write, *access.sockets):
        args += ["--bind", directory, directory]
    args += ["--chdir", str(chdir), "--", *kernel_cmd]
    return args


def _parents(binds: Sequence[str]) -> list[str]:
    """The directories above ``binds`` that nothing mounts, shallowest first."""
    mounted = {*binds, "/proc", "/dev", "/tmp", *SYSTEM}
    found: set[str] = set()
    for bind in binds:
        for parent in Path(bind).parents:
            text = str(parent)
            if text in ("/", "/tmp") or any(text == m or text.startswith(m.rstrip("/") + "/") for m in mounted if m != "/tmp"):
                continue
            found.add(text)
    return sorted(found, key=lambda p: (p.count("/"), p))
