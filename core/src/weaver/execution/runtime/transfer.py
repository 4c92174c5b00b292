"""Files between the host and a kernel that does not share its disk (a gateway's kernel).

Such a kernel keeps a session's directories on its own machine, under
``<base>/weaver-sessions/<session id>/`` (``base``: the host's choice, else the kernel's
temporary directory). The host sends each operation as Weaver's own silent request, and
the answer comes back as display data of :data:`~weaver.execution.runtime.TRANSFER_MIME`:
JSON, file contents in base64. Nothing else travels, and no path may leave the session's
root. :func:`stage` makes the directories and arranges the process as Weaver arranges a
local kernel's (its environment settings and resource limits); :func:`put` writes files
the host sends (uploads, plugin sources), :func:`get` reads files back (artifacts, files
the code wrote).

Standard library only; the host reads the answers as untrusted data.
"""

from __future__ import annotations

import base64
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from weaver.execution.runtime import TRANSFER_MIME

SESSION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
PLACES = ("cwd", "artifacts", "home", "plugins")


def _publish(answer: dict[str, Any]) -> None:
    from IPython.display import publish_display_data

    publish_display_data({TRANSFER_MIME: answer})


def _beneath(root: Path, name: str) -> Path:
    """``root/name`` for a relative ``name`` that stays inside ``root``, or raise ValueError."""
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if not name or "\0" in name or name.startswith("/") or not parts or ".." in parts:
        raise ValueError(f"{name!r} is not a relative name inside the session")
    return root.joinpath(*parts)


def stage(request_json: str) -> None:
    """Make the session's directories, apply ``env`` and ``limits``, and answer with the paths.

    ``{"session_id", "base", "env": {name: value}, "limits": {RLIMIT_*: value}}``; answers
    ``{"root", "cwd", "artifacts_dir", "home", "plugins"}``.
    """
    request = json.loads(request_json)
    session_id = str(request["session_id"])
    if not SESSION_ID.fullmatch(session_id):
        raise ValueError(f"{session_id!r} is not a session id")
    root = Path(request.get("base") or tempfile.gettempdir()) / "weaver-sessions" / session_id
    for place in PLACES:
        (root / place).mkdir(parents=True, exist_ok=True)
    os.environ.update({str(k): str(v) for k, v in request.get("env", {}).items()})
    if request.get("limits"):
        from weaver.execution.runtime.launch import apply_limits

        apply_limits(request["limits"])
    _publish(
        {
            "root": str(root),
            "cwd": str(root / "cwd"),
            "artifacts_dir": str(root / "artifacts"),
            "home": str(root / "home"),
            "plugins": str(root / "plugins"),
        }
    )


def put(request_json: str) -> None:
    """Write files below ``root``: ``{"root", "files": [{"name", "data", "offset"}]}`` (offset
    0 starts the file anew, another appends the part); answers ``{"written", "errors"}``."""
    request = json.loads(request_json)
    root = Path(request["root"])
    written: list[str] = []
    errors: dict[str, str] = {}
    for item in request.get("files", ()):
        name = str(item.get("name", ""))
        try:
            path = _beneath(root, name)
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.is_symlink():
                path.unlink()
            with open(path, "ab" if item.get("offset") else "wb") as file:
                file.write(base64.b64decode(item.get("data", "")))
            written.append(name)
        except (OSError, ValueError) as exc:
            errors[name] = f"{type(exc).__name__}: {exc}"
    _publish({"written": written, "errors": errors})


def get(request_json: str) -> None:
    """Read parts of files below ``root``: ``{"root", "files": [{"name", "offset", "size"}]}``;
    answers ``{"files": [{"name", "data", "total"}], "errors"}`` (``total``: the file's size)."""
    request = json.loads(request_json)
    root = Path(request["root"])
    found: list[dict[str, Any]] = []
    errors: dict[str, str] = {}
    for item in request.get("files", ()):
        name = str(item.get("name", ""))
        try:
            path = _beneath(root, name)
            with open(path, "rb") as file:
                total = os.fstat(file.fileno()).st_size
                file.seek(int(item.get("offset", 0)))
                data = file.read(max(0, int(item.get("size", 0))))
            found.append({"name": name, "data": base64.b64encode(data).decode("ascii"), "total": total})
        except (OSError, ValueError) as exc:
            errors[name] = f"{type(exc).__name__}: {exc}"
    _publish({"files": found, "errors": errors})
