"""No remote kernel outlives its host, and the next host removes those a killed one left.

Three layers, as for local kernels (:mod:`weaver.execution.lifecycle`):

* an executor deletes its kernel when its session closes, a pool its kernels when the App
  closes;
* an ``atexit`` handler deletes every kernel still registered here (a normal exit, Ctrl-C);
* a host killed outright deletes nothing, so every kernel is written down when it is
  created, in a ledger on this machine (``<tmp>/weaver-gateway-<uid>/<kernel id>.json``:
  the gateway, the host's pid and its start time); the gateway also gets the kernel tagged
  (``KERNEL_WEAVER_HOST`` and ``KERNEL_WEAVER_SESSION`` in its environment). The first
  kernel a process starts on a gateway first runs :func:`sweep`, the janitor: it deletes
  the ledger's kernels of that gateway whose host is gone.

A kernel the ledger does not know (another machine's host, a lost ledger) is the gateway's
idle culler's to end: run gateways with one (``--MappingKernelManager.cull_idle_timeout``).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import socket
import tempfile
import threading
import time
from pathlib import Path

from weaver_gateway.client import GatewayClient, GatewayError, delete_now
from weaver_gateway.config import GatewayConfig

log = logging.getLogger("weaver.gateway")

_live: dict[str, GatewayConfig] = {}
_swept: set[str] = set()
_lock = threading.RLock()  # re-entrant: an exit handler may run while this thread holds it
_registered = False


def ledger_dir() -> Path:
    """This user's ledger of gateway kernels on this machine (made private on first use)."""
    path = Path(tempfile.gettempdir()) / f"weaver-gateway-{os.geteuid()}"
    path.mkdir(mode=0o700, exist_ok=True)
    info = path.lstat()
    if info.st_uid != os.geteuid() or path.is_symlink():
        raise OSError(f"{path} is not this user's own: remove it")
    return path


def _started(pid: int) -> str | None:
    """The start time of process ``pid`` (so a reused pid is not taken for its host), or ``None``."""
    try:
        return Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def host_tag() -> str:
    """What a kernel's ``KERNEL_WEAVER_HOST`` says: this machine and process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def track(config: GatewayConfig, kernel_id: str, session_id: str) -> None:
    """Remember a kernel until :func:`forget`: for the exit handler and in the ledger."""
    global _registered
    with _lock:
        if not _registered:
            atexit.register(delete_all)
            _registered = True
        _live[kernel_id] = config
    entry = {
        "url": config.base,
        "kernel_id": kernel_id,
        "session_id": session_id,
        "host_pid": os.getpid(),
        "host_started": _started(os.getpid()),
        "created": time.time(),
    }
    with contextlib.suppress(OSError):
        path = ledger_dir() / f"{kernel_id}.json"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as file:
            json.dump(entry, file)


def forget(kernel_id: str) -> None:
    with _lock:
        _live.pop(kernel_id, None)
    with contextlib.suppress(OSError):
        (ledger_dir() / f"{kernel_id}.json").unlink()


def live_kernels() -> tuple[str, ...]:
    """Kernels this process started and has not deleted yet."""
    with _lock:
        return tuple(_live)


def delete_all() -> None:
    """Delete every tracked kernel, without an event loop (the exit handler)."""
    with _lock:
        items = list(_live.items())
    for kernel_id, config in items:
        if delete_now(config, kernel_id):
            forget(kernel_id)


def _orphans(base: str) -> list[tuple[Path, str]]:
    """Ledger entries of gateway ``base`` whose host process is gone."""
    found = []
    try:
        entries = list(ledger_dir().glob("*.json"))
    except OSError:
        return []
    for path in entries:
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
            pid, started = int(entry["host_pid"]), entry.get("host_started")
            if entry["url"] != base:
                continue
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if _started(pid) is None or _started(pid) != started:
            found.append((path, str(entry["kernel_id"])))
    return found


async def sweep(client: GatewayClient, once: bool = True) -> list[str]:
    """Delete the kernels on ``client``'s gateway that hosts now gone left; their ids.

    With ``once``, only the first call of a process for a gateway does anything.
    """
    base = client.config.base
    with _lock:
        if once and base in _swept:
            return []
        _swept.add(base)
    deleted = []
    for path, kernel_id in _orphans(base):
        try:
            await client.delete(kernel_id)
        except GatewayError as exc:
            log.info("kernel %s left by a host that is gone was not deleted (the next host tries again): %s", kernel_id, exc)
            continue
        with contextlib.suppress(OSError):
            path.unlink()
        deleted.append(kernel_id)
    return deleted
