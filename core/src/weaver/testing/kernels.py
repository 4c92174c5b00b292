"""Helpers for tests that run real kernels: an App set up for execution, and process checks.

Outside a sandbox, the kernel of a root host runs as a user of its own and reaches its
Python and the project by their paths, so both must be where other users may enter.
:func:`reachable_python` and :func:`reachable_dir` give tests such a Python and such a
project directory on machines where the usual ones are not (a Python under ``/root``,
pytest's private temporary directories).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pluggy

from weaver.engine import App
from weaver.extensions import load_extensions, make_plugin_manager

LIVENESS_S = 30.0
"""A generous bound for anything that only a hang could exceed."""


def kernel_app(project_dir: Path, pm: pluggy.PluginManager | None = None, **overrides: Any) -> App:
    """An App with only the core defaults (or ``pm``), no roles, no pool unless asked, and an
    empty config environment; ``execution={...}`` sets ``[execution]`` values."""
    if pm is None:
        pm = make_plugin_manager()
        load_extensions(pm, only=(), entry_points=())
    execution = {"pool_size": 0, **overrides.pop("execution", {})}
    overrides.setdefault("session", {"roles": []})
    return App(project_dir, plugin_manager=pm, environ={}, execution=execution, **overrides)


def pid_gone(pid: int) -> bool:
    """The process no longer runs; a zombie (exited, not yet reaped) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def wait_gone(pid: int, timeout: float = LIVENESS_S) -> bool:
    """Wait until ``pid`` is gone; ``False`` if it still runs after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pid_gone(pid):
            return True
        time.sleep(0.1)
    return pid_gone(pid)


def _reachable(paths: list[str]) -> bool:
    from weaver.execution.boundary import unreachable
    from weaver.execution.identity import FIRST_ID

    return unreachable(paths, FIRST_ID, FIRST_ID) is None


def reachable_python() -> str | None:
    """An interpreter with this one's packages that any user may run: this one, or a
    virtualenv (made once, under the temporary directory) of a system interpreter of the
    same version whose ``.pth`` adds this one's site-packages; ``None`` if there is none."""
    from weaver.execution.boundary import python_paths

    if _reachable(list(python_paths(sys.executable, os.environ.get("PYTHONPATH", "")))):
        return sys.executable
    packages = sorted({sysconfig.get_path("purelib"), sysconfig.get_path("platlib")})
    if not _reachable(packages):  # e.g. inside tox's own 0700 work directory
        return None
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    base = next(
        (
            found
            for found in (shutil.which(f"python{version}", path=p) for p in ("/usr/bin", "/usr/local/bin", "/bin"))
            if found and _reachable([os.path.dirname(os.path.realpath(found))])
        ),
        None,
    )
    if base is None:
        return None
    target = Path(tempfile.gettempdir()) / f"weaver-test-python-{version}-{zlib.crc32(sys.prefix.encode()):08x}"
    python = target / "bin" / "python"
    if target.exists():
        info = target.lstat()
        if info.st_uid != os.geteuid() or info.st_mode & 0o022 or not target.is_dir():
            raise RuntimeError(f"{target} exists and is not this user's own: remove it")
    if not python.exists():
        staging = Path(tempfile.mkdtemp(prefix=target.name + "-"))
        subprocess.run([base, "-m", "venv", "--without-pip", str(staging)], check=True, capture_output=True)
        site = next((staging / "lib").glob("python*/site-packages"))
        lines = [f"import site; site.addsitedir({path!r})" for path in packages]
        (site / "weaver-host-packages.pth").write_text("\n".join(lines) + "\n")
        staging.chmod(0o755)
        with contextlib.suppress(OSError):  # another test process made it first
            staging.rename(target)
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return str(python)


@contextlib.contextmanager
def reachable_dir(prefix: str = "weaver-test-") -> Iterator[Path]:
    """A fresh directory any user may enter (pytest's own temporary ones are private),
    removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix=prefix)).resolve()
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` on this machine."""
    from weaver.execution.runtime.supervisor import descendants as below

    return below(pid)


def kernel_process(cwd: Path) -> int | None:
    """The host pid of the ipykernel process working in ``cwd`` (a session's), found among
    the kernels this host started: the pid the kernel itself reports is its sandbox's."""
    from weaver.execution import lifecycle

    for root in lifecycle.live_pids():
        for pid in sorted({root, *descendants(root)}):
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{pid}/cwd") == str(cwd):
                    return pid
    return None
