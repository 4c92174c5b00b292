"""A root host without the sandbox whose kernel cannot be a user of its own (its project, or
its Python, is where no other user may enter: a fresh machine's Python under ``/root``).

The kernel must still start, since a first run that cannot run code helps nobody: it stays
root but holds no capability, and where the system has Landlock it reaches only its own
session's files. Doctor and a warning say so, and how to do better.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from weaver.execution.runtime import landlock
from weaver.testing.kernels import kernel_app

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="only a root host gives its kernels users of their own"),
]

PROBE = """
from pathlib import Path
status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
caps = {key: int(status[key], 16) for key in ("CapEff", "CapPrm", "CapInh", "CapAmb")}
print(status["Uid"].split()[0], caps)
"""


@pytest.fixture
def locked_project(tmp_path: Path) -> Path:
    """A project inside a directory only root may enter."""
    locked = tmp_path / "locked"
    project = locked / "project"
    (project / "data").mkdir(parents=True)
    (project / "data" / "sales.csv").write_text("region,amount\nwest,3\n")
    (project / "weaver.toml").write_text('[llm]\napi_key = "sk-project-secret"\n')
    os.chmod(locked, 0o700)
    return project


def test_the_kernel_starts_as_root_without_capabilities_and_says_so(
    locked_project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="weaver.execution"):
        app = kernel_app(locked_project, execution={"sandbox": "none"})
        try:
            session = app.session()
            probe = app.run(session.execute(PROBE))
            data = app.run(session.execute("import pandas as pd\nprint(pd.read_csv('data/sales.csv').amount.sum())"))
            secret = app.run(session.execute(f"from pathlib import Path\nprint(Path({str(locked_project / 'weaver.toml')!r}).read_text())"))
            write = app.run(session.execute(f"from pathlib import Path\nPath({str(locked_project / 'data' / 'x.csv')!r}).write_text('1')"))
        finally:
            app.close()
    assert probe.ok, probe.error
    uid, caps = probe.stdout.split(" ", 1)
    assert uid == "0" and caps.strip() == "{'CapEff': 0, 'CapPrm': 0, 'CapInh': 0, 'CapAmb': 0}"
    assert data.ok and data.stdout == "3\n"  # the project's data is where code expects it
    assert "kernels run as root without capabilities" in caplog.text and "bubblewrap" in caplog.text
    if landlock.abi():
        assert not secret.ok and "sk-project-secret" not in secret.stdout
        assert not write.ok and not (locked_project / "data" / "x.csv").exists()
