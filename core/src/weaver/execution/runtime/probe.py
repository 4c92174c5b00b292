"""What a kernel can do, as the kernel sees it: ``weaver doctor``'s view from inside.

:func:`report` runs in the kernel like any code and answers in JSON: its user and
capabilities, its process limit, whether it has a network and its own pid namespace, and
for each path the host names whether it could read (or write) it. It reads nothing into
the report but yes or no. Standard library only.
"""

from __future__ import annotations

import json
import os
import resource
from pathlib import Path
from typing import Any

from weaver.execution.runtime.privileges import status


def _can_read(path: str) -> str:
    try:
        with open(path, "rb") as file:
            file.read(1)
    except FileNotFoundError:
        return "absent"
    except OSError as exc:
        return f"denied ({exc.strerror})"
    return "readable"


def _can_write(directory: str) -> str:
    target = Path(directory) / f".weaver-probe-{os.getpid()}"
    try:
        with open(target, "x"):
            pass
    except FileNotFoundError:
        return "absent"
    except OSError as exc:
        return f"denied ({exc.strerror})"
    target.unlink()
    return "writable"


def _interfaces() -> list[str]:
    try:
        lines = Path("/proc/net/dev").read_text(encoding="ascii").splitlines()[2:]
    except OSError:
        return []
    return sorted(line.split(":")[0].strip() for line in lines)


def report(targets_json: str) -> str:
    """The kernel's view as JSON; ``targets_json`` maps ``{"read": {label: path},
    "write": {label: directory}}``."""
    targets = json.loads(targets_json)
    soft, _ = resource.getrlimit(resource.RLIMIT_NPROC)
    data: dict[str, Any] = {
        **status(),
        "process_limit": None if soft == resource.RLIM_INFINITY else soft,
        "interfaces": _interfaces(),
        "visible_processes": sum(1 for name in os.listdir("/proc") if name.isdigit()),
        "read": {label: _can_read(path) for label, path in targets.get("read", {}).items()},
        "write": {label: _can_write(path) for label, path in targets.get("write", {}).items()},
    }
    return json.dumps(data)
