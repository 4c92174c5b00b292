"""Fixtures shared by the core's tests (the ``weaver.testing`` plugin provides the rest)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest


@pytest.fixture
def plugin_files(tmp_path: Path) -> Callable[[Mapping[str, str]], Path]:
    """``plugin_files({"name.py": text, ...})``: write files into the test project's
    ``plugins/`` folder (``tmp_path/plugins``, where ``make_app()`` looks) and return it."""

    def write(files: Mapping[str, str]) -> Path:
        folder = tmp_path / "plugins"
        folder.mkdir(exist_ok=True)
        for name, text in files.items():
            (folder / name).write_text(text)
        return folder

    return write
