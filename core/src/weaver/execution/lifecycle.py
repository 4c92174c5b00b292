"""No kernel outlives its host.

Three layers, so that every way a host can end is covered:

* sessions and the app close their kernels (``session.close()``, ``app.close()``);
* an ``atexit`` handler kills whatever kernels are still registered here, which covers a
  normal exit and Ctrl-C (``KeyboardInterrupt`` unwinds to a normal exit);
* the kernel itself dies with its host: the launcher arms ``PR_SET_PDEATHSIG`` (and
  ipykernel's parent poller), bubblewrap has ``--die-with-parent``; that covers SIGKILL.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import threading
from pathlib import Path

_live: dict[int, Path] = {}
_lock = threading.Lock()
_registered = False


def track(pid: int, runtime_dir: Path) -> None:
    """Remember a started kernel process and its private directory until :func:`forget`."""
    global _registered
    with _lock:
        _live[pid] = runtime_dir
        if not _registered:
            atexit.register(kill_all)
            _registered = True


def forget(pid: int) -> None:
    with _lock:
        _live.pop(pid, None)


def live_pids() -> tuple[int, ...]:
    """Kernel processes this host started and has not closed yet."""
    with _lock:
        return tuple(_live)


def kill_all() -> None:
    """Kill every tracked kernel's process group and remove its private directory."""
    with _lock:
        items = list(_live.items())
        _live.clear()
    for pid, runtime_dir in items:
        try:
            # Kernels lead their own process group (jupyter_client starts a new session),
            # so this also reaches the sandbox's children and anything the code spawned.
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        shutil.rmtree(runtime_dir, ignore_errors=True)
