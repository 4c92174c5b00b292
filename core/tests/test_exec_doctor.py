"""``weaver doctor`` reports the kernel and the sandbox, in a fresh process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from weaver.execution.sandbox import bwrap_status


def test_doctor_starts_a_kernel_and_reports_the_sandbox(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WEAVER_", "OPENAI_"))}
    env.update(WEAVER_CONFIG=str(tmp_path / "none.toml"), WEAVER_LOAD_PLUGINS="")
    done = subprocess.run(
        [sys.executable, "-m", "weaver.cli", "doctor", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    rows = {row["name"]: row for row in json.loads(done.stdout)}
    assert done.returncode == 0, done.stdout + done.stderr
    assert rows["kernel"]["status"] == "ok" and "1+1 in" in rows["kernel"]["detail"]
    available, detail = bwrap_status()
    assert rows["sandbox bwrap"]["status"] == ("ok" if available else "warn")
    assert rows["sandbox bwrap"]["detail"].startswith(detail)
    assert rows["extension weaver.defaults"]["status"] == "ok"
