"""A session's files as the page shows them: links to the API's own download routes, tables read safely.

The browser fetches every image and download from ``/v1/sessions/<id>/artifacts/...`` or
``.../files/...`` with the user's own cookie, so the API decides who may read what, and a
file is never copied into the page's cache. Links are relative to the page (``../v1``), so
the UI works wherever a reverse proxy puts the service. Tables are read through
:mod:`weaver_server.files`, which never follows a link the kernel made.
"""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path, PurePosixPath

import attrs

from weaver_server import files
from weaver_server.names import InvalidName, check_path
from weaver_web_ui.tables import MAX_BYTES, Table, is_table_file, table_of

API = "../v1"
"""The API, relative to the page at ``/ui/``."""
IMAGES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp"})
"""Shown in place (the API sends these inline); anything else is a download."""


@attrs.define
class SessionFiles:
    """The files of one session of one user, for the page."""

    session_id: str
    root: Path
    """The session's directory (``<workspace>/users/<user>/sessions/<id>``)."""
    _tables: dict[tuple[str, int, float], Table | None] = attrs.field(factory=dict, init=False)

    def artifact(self, path: str) -> str | None:
        """The path of an artifact relative to the artifacts area, from the path a result
        names (absolute, on the host); ``None`` for a path outside it."""
        area = self.root / files.AREAS["artifacts"]
        try:
            relative = PurePosixPath(Path(path).relative_to(area).as_posix())
        except ValueError:
            parts = PurePosixPath(path).parts
            if "artifacts" not in parts:
                return None
            relative = PurePosixPath(*parts[len(parts) - parts[::-1].index("artifacts") :])
        try:
            return "/".join(check_path(str(relative)))
        except InvalidName:
            return None

    def url(self, area: str, path: str, *, download: bool = False) -> str:
        quoted = "/".join(urllib.parse.quote(part, safe="") for part in path.split("/"))
        return f"{API}/sessions/{self.session_id}/{area}/{quoted}" + ("?download=true" if download else "")

    def export_url(self, format: str) -> str:
        return f"{API}/sessions/{self.session_id}/export?format={format}"

    def table(self, area: str, path: str) -> Table | None:
        """The table in a file of ``area``, if it holds one (read once per version of the file)."""
        if not is_table_file(path):
            return None
        try:
            fd, status = files.open_file(self.root, (files.AREAS[area], *check_path(path)))
        except (files.FileNotInSession, InvalidName):
            return None
        with os.fdopen(fd, "rb", closefd=True) as handle:
            key = (f"{area}/{path}", status.st_size, status.st_mtime)
            if key not in self._tables:
                self._tables[key] = table_of(path, handle.read()) if status.st_size <= MAX_BYTES else None
        return self._tables[key]

    def listing(self, area: str) -> list[files.FileInfo]:
        """Regular files of ``area`` (``artifacts`` or ``files``), no link followed."""
        return files.list_files(self.root, files.AREAS[area])


def is_image(path: str) -> bool:
    return PurePosixPath(path).suffix.lower() in IMAGES
