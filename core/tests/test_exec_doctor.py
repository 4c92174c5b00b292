"""``weaver doctor`` reports the kernel and the sandbox, in a fresh process."""

from __future__ import annotations

import json
from pathlib import Path

from weaver.execution.sandbox import bwrap_status
from weaver.testing import run_weaver


def test_doctor_starts_a_kernel_and_reports_the_sandbox(tmp_path: Path) -> None:
    # No extension is loaded, so no role is either: the project enables none.
    done = run_weaver("doctor", "--json", cwd=tmp_path, env={"WEAVER_SESSION__ROLES": ""})
    rows = {row["name"]: row for row in json.loads(done.stdout)}
    assert done.returncode == 0, done.stdout + done.stderr
    assert rows["roles"] == {"name": "roles", "status": "ok", "detail": "none enabled"}
    assert rows["kernel"]["status"] == "ok" and "1+1 in" in rows["kernel"]["detail"]
    available, detail = bwrap_status()
    assert rows["sandbox bwrap"]["status"] == ("ok" if available else "warn")
    assert rows["sandbox bwrap"]["detail"].startswith(detail)
    assert rows["extension weaver.defaults"]["status"] == "ok"
