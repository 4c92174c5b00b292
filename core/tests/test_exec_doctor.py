"""``weaver doctor`` starts a kernel as the project's sessions get it, calls a plugin in it, and
reports the boundary seen from inside: the kernel's user, capabilities, process limit and
what it can reach; in a fresh process, in each mode."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from weaver.execution.check import KernelCheck
from weaver.execution.runtime.probe import report
from weaver.execution.sandbox import bwrap_status
from weaver.testing import run_weaver
from weaver.testing.kernels import reachable_dir, reachable_python


def doctor(cwd: Path, *sets: str) -> tuple[int, dict[str, dict[str, str]]]:
    # No extension is loaded, so no role is either: the project enables none.
    args = (arg for item in sets for arg in ("--set", item))
    done = run_weaver(*args, "doctor", "--json", cwd=cwd, env={"WEAVER_SESSION__ROLES": ""})
    return done.returncode, {row["name"]: row for row in json.loads(done.stdout)}


def test_doctor_starts_a_kernel_and_reports_the_sandbox(tmp_path: Path) -> None:
    (tmp_path / "weaver.toml").write_text('[llm]\napi_key = "sk-doctor-probe"\n')
    code, rows = doctor(tmp_path)
    assert code == 0, rows
    assert rows["roles"] == {"name": "roles", "status": "ok", "detail": "none enabled"}
    available, detail = bwrap_status()
    assert rows["kernel"]["status"] == "ok" and "a plugin called in" in rows["kernel"]["detail"]
    assert ("in the bwrap sandbox" in rows["kernel"]["detail"]) == available  # sandbox = "auto"
    assert rows["sandbox bwrap"]["status"] == ("ok" if available else "warn")
    assert rows["sandbox bwrap"]["detail"].startswith(detail)
    assert rows["extension weaver.defaults"]["status"] == "ok"
    assert rows["kernel capabilities"] == {"name": "kernel capabilities", "status": "ok", "detail": "none, and no_new_privs set"}
    assert rows["kernel user"]["status"] == "ok" and not rows["kernel user"]["detail"].startswith("uid 0,")
    if os.geteuid() == 0:
        assert "(a user of its own)" in rows["kernel user"]["detail"]
        assert rows["kernel process limit"]["status"] == "ok" and rows["kernel process limit"]["detail"].startswith("256 ")
    isolation = rows["kernel isolation"]
    assert isolation["status"] == "ok", isolation
    assert "another session's log denied" in isolation["detail"]


def test_doctor_without_a_sandbox(tmp_path: Path) -> None:
    python = reachable_python()
    if python is None:
        pytest.skip("no Python here that another user may run")
    with reachable_dir() as project:
        (project / "weaver.toml").write_text('[llm]\napi_key = "sk-doctor-probe"\n')
        code, rows = doctor(project, "execution.sandbox=none", f"execution.python={python}")
        assert code == 0, rows
        assert rows["kernel"]["detail"].startswith("started without a sandbox")
        isolation = rows["kernel isolation"]["detail"]
        assert "the host's network" in isolation
        assert "the project's weaver.toml denied" in isolation and "the host's environment denied" in isolation
        if python != sys.executable:
            # This machine's own Python lives where other users may not enter (under /root):
            # without a sandbox a kernel of a root host runs it as root without capabilities,
            # confined by Landlock where there is Landlock; doctor fails the user and says why.
            code, rows = doctor(project, "execution.sandbox=none")
            assert code == 1
            assert rows["kernel"]["status"] == "ok"
            assert rows["kernel user"]["status"] == "fail" and "install bubblewrap" in rows["kernel user"]["detail"]
            assert rows["kernel capabilities"]["status"] == "ok"


def test_a_kernel_as_privileged_as_this_test_would_fail_the_check() -> None:
    """The probe run here, in the test's own process: what doctor would say of a kernel
    with this process's user and capabilities."""
    view = json.loads(report(json.dumps({"read": {"this file": __file__}, "write": {"its working directory": "/nonexistent"}})))
    check = KernelCheck(True, view=view)
    if os.geteuid() == 0:
        assert any(problem.startswith("it runs as uid 0") for problem in check.problems)
    if any(view["capabilities"].values()):
        assert any(problem.startswith("it has capabilities") for problem in check.problems)
    assert "it can read this file" in check.exposed
    assert "it cannot write its working directory (absent)" in check.exposed


@pytest.mark.slow
@pytest.mark.parametrize("sandbox", ["auto", "none"])
def test_doctor_as_an_ordinary_user(sandbox: str) -> None:
    """Weaver run by a user other than root: the kernel is that user, Landlock (or the
    sandbox) keeps it from the project's secrets and other sessions, and doctor says there is
    no process limit rather than claiming one."""
    import shutil
    import subprocess

    python, setpriv = reachable_python(), shutil.which("setpriv")
    if os.geteuid() != 0 or python is None or setpriv is None:
        pytest.skip("needs root to become another user, setpriv, and a Python any user may run")
    with reachable_dir() as project:
        project.chmod(0o777)
        (project / "weaver.toml").write_text('[llm]\napi_key = "sk-doctor-probe"\n')
        done = subprocess.run(
            [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", python, "-m", "weaver.cli"]
            + ["--set", f"execution.sandbox={sandbox}", "doctor", "--json"],
            cwd=project,
            env={"PATH": "/usr/bin:/bin", "HOME": str(project), "WEAVER_LOAD_EXTENSIONS": "", "WEAVER_SESSION__ROLES": ""},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    rows = {row["name"]: row for row in json.loads(done.stdout)}
    assert done.returncode == 0, rows
    assert rows["kernel user"]["detail"].startswith("uid 65534, gid 65534") and rows["kernel user"]["status"] == "ok"
    assert rows["kernel capabilities"]["status"] == "ok"
    assert rows["kernel process limit"]["status"] == "warn"
    isolation = rows["kernel isolation"]
    assert isolation["status"] == "ok", isolation
    for label in ("another session's log", "the project's weaver.toml"):
        assert f"{label} denied" in isolation["detail"] or f"{label} absent" in isolation["detail"], label
