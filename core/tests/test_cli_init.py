"""``weaver init DIR``: the new project's files, and that Weaver accepts them as they are."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def weaver(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("WEAVER_", "OPENAI_"))}
    environ |= {"WEAVER_CONFIG": str(cwd / "no-user-config.toml"), "WEAVER_LOAD_EXTENSIONS": ""}
    return subprocess.run(
        [sys.executable, "-m", "weaver.cli", *args], cwd=cwd, capture_output=True, text=True, env=environ, timeout=120, check=False
    )


def test_init_creates_a_commented_project(tmp_path):
    result = weaver("init", "shop", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    project = tmp_path / "shop"
    created = sorted(str(p.relative_to(project)) for p in project.rglob("*") if p.is_file())
    assert created == [".gitignore", "README.md", "data/sales.csv", "plugins/top_rows.py", "weaver.toml"]
    toml = (project / "weaver.toml").read_text()
    assert toml.count("\n# ") > 5, "the configuration explains itself"
    assert "OPENAI_API_KEY" in toml and "api_key =" not in toml
    assert ".weaver/" in (project / ".gitignore").read_text()
    assert "weaver chat" in result.stdout and "weaver demo" in result.stdout


@pytest.mark.slow
def test_the_new_project_is_valid_configuration_and_its_plugin_runs_in_the_kernel(tmp_path, make_app):
    assert weaver("init", "shop", cwd=tmp_path).returncode == 0
    project = tmp_path / "shop"
    shown = weaver("-p", str(project), "config", "show", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "gpt-4o-mini" in shown.stdout
    app = make_app(project, session={"roles": []})  # the roles are other packages; the kernel is enough here
    assert app.plugins.names == ("top_rows",)
    assert "def top_rows(df: pd.DataFrame, column: str, n: int = 5) -> pd.DataFrame" in app.plugins.render()
    session = app.session()
    code = f"import pandas as pd\ntop_rows(pd.read_csv({str(project / 'data' / 'sales.csv')!r}), 'amount', 2)['amount'].tolist()"
    result = app.run(session.execute(code))
    assert result.ok, result.error
    assert result.value_repr == "[1120.0, 1040.0]"


def test_init_never_overwrites_without_force(tmp_path):
    assert weaver("init", cwd=tmp_path).returncode == 0
    (tmp_path / "weaver.toml").write_text("# mine\n")
    again = weaver("init", cwd=tmp_path)
    assert again.returncode == 2
    assert "already has" in again.stderr and "weaver.toml" in again.stderr
    assert (tmp_path / "weaver.toml").read_text() == "# mine\n"
    forced = weaver("init", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert "[llm]" in (tmp_path / "weaver.toml").read_text()
