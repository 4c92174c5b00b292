"""No kernel outlives its host.

Three layers, so that every way a host can end is covered:

* sessions and the app close their kernels (``session.close()``, ``app.close()``);
* an ``atexit`` handler kills whatever kernels are still registered here, which covers a
  normal exit and Ctrl-C (``KeyboardInterrupt`` unwinds to a normal exit);
* the kernel itself dies with its host: outside a sandbox its supervisor arms
  ``PR_SET_PDEATHSIG`` and then ends every process below it, bubblewrap has
  ``--die-with-parent`` and its pid namespace; that covers SIGKILL.

Every layer kills the kernel's whole process tree, not its process group: code can leave
the group (``setsid``) but not the tree, whose root is a child subreaper
(:mod:`weaver.execution.runtime.supervisor`) or the sandbox's pid 1.
:func:`kill_all` is safe to call from a signal handler on any thread.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
from pathlib import Path

from weaver.execution.runtime.supervisor import kill_tree

_live: dict[int, Path] = {}
_lock = threading.RLock()  # re-entrant: a signal handler may run while this thread holds it
_registered = False

RUNTIME_PREFIX = "weaver-kernel-"
"""Runtime directories are ``<tmp>/weaver-kernel-<host pid>-<random>``."""


def runtime_dir() -> Path:
    """A new private runtime directory for a kernel of this host; first removes what hosts
    that were killed left behind (a sandboxed kernel's directory outlives a SIGKILLed host;
    the supervisor removes its own)."""
    global _registered
    with _lock:
        if not _registered:
            atexit.register(kill_all)
            _registered = True
    sweep(Path(tempfile.gettempdir()))
    return Path(tempfile.mkdtemp(prefix=f"{RUNTIME_PREFIX}{os.getpid()}-"))


def sweep(directory: Path) -> None:
    """Remove this user's runtime directories in ``directory`` whose host is gone."""
    for entry in directory.glob(f"{RUNTIME_PREFIX}*-*"):
        host = entry.name[len(RUNTIME_PREFIX) :].split("-", 1)[0]
        try:
            if not host.isdigit() or entry.lstat().st_uid != os.geteuid() or entry.is_symlink():
                continue
            os.kill(int(host), 0)
        except ProcessLookupError:
            shutil.rmtree(entry, ignore_errors=True)
        except OSError:
            continue


def track(pid: int, runtime_dir: Path) -> None:
    """Remember a started kernel process and its private directory until :func:`forget`."""
    with _lock:
        _live[pid] = runtime_dir


def forget(pid: int) -> None:
    with _lock:
        _live.pop(pid, None)


def live_pids() -> tuple[int, ...]:
    """Kernel processes this host started and has not closed yet."""
    with _lock:
        return tuple(_live)


def kill_all() -> None:
    """Kill every tracked kernel's process tree and remove its private directory."""
    with _lock:
        items = list(_live.items())
        _live.clear()
    for pid, runtime_dir in items:
        kill_tree(pid)
        shutil.rmtree(runtime_dir, ignore_errors=True)
