"""The demo's App: the example project, exactly the recorded extensions, replay or record.

The environment is made hermetic (no user config file, no ``WEAVER_*`` or ``OPENAI_*``
variables), so what is on the machine cannot change a prompt and break the replay.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from weaver.engine import App
from weaver_demo import CASSETTE, EXTENSIONS, MODEL, PROJECT_FILES, project_dir


def copy_project(target: Path) -> Path:
    """Copy the example project into ``target`` (kept sessions stay); returns it resolved."""
    source = project_dir()
    target.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        if (source / name).is_dir():
            shutil.copytree(source / name, target / name, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copyfile(source / name, target / name)
    return target.resolve()


def demo_app(project: Path, *, mode: str = "replay", cli_sets: Iterable[str] = (), **llm: Any) -> App:
    """An App on ``project`` with the recorded extensions and the cassette in ``mode``."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("WEAVER_", "OPENAI_"))}
    environ["WEAVER_CONFIG"] = os.devnull
    environ["WEAVER_LOAD_EXTENSIONS"] = ",".join(EXTENSIONS)
    return App(project, environ=environ, cli_sets=cli_sets, llm={"mode": mode, "cassette": CASSETTE, "model": MODEL, **llm})
