"""Helpers for tests that run real kernels: an App set up for execution, and process checks."""

from __future__ import annotations

import os
import time
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
