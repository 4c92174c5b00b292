"""Running the ``weaver`` CLI in a fresh process, isolated from the machine's settings."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

FAKE_DISTS_DIR = Path(__file__).with_name("fake_dists")
"""The checked-in fake installed distributions (``*.dist-info`` folders and their modules)."""

_INHERITED = ("WEAVER_", "OPENAI_", "NO_COLOR", "FORCE_COLOR")


def run_weaver(
    *args: str,
    cwd: Path,
    load: str | None = "",
    env: Mapping[str, str] = {},
    stdin: str | None = None,
    fake_dists: bool = False,
    script: bool = False,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """``weaver ARGS`` in a new process with output captured.

    No user config file and no inherited ``WEAVER_*``, ``OPENAI_*`` or color settings.
    ``load`` is ``WEAVER_LOAD_EXTENSIONS`` (``""``: no extensions; ``None``: every installed
    one); ``fake_dists`` puts :data:`FAKE_DISTS_DIR` on ``PYTHONPATH``; ``script`` runs the
    installed ``weaver`` script instead of ``python -m weaver.cli``; ``env`` is added last.
    """
    environ = {k: v for k, v in os.environ.items() if not k.startswith(_INHERITED)}
    environ["WEAVER_CONFIG"] = str(cwd / "no-user-config.toml")
    if fake_dists:
        environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(FAKE_DISTS_DIR), environ.get("PYTHONPATH")]))
    if load is not None:
        environ["WEAVER_LOAD_EXTENSIONS"] = load
    environ.update(env)
    command = [str(Path(sys.executable).with_name("weaver"))] if script else [sys.executable, "-m", "weaver.cli"]
    return subprocess.run(
        [*command, *args], cwd=cwd, env=environ, input=stdin, capture_output=True, text=True, timeout=timeout, check=False
    )
