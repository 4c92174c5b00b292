"""``weaver plugins`` and ``weaver doctor`` on a project's kernel plugins, from outside: the CLI
in a fresh process, with every installed extension loaded, in projects made by ``weaver init``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from weaver.testing import FakeOpenAIServer, run_weaver
from weaver.testing.wire import planner_reply


@pytest.fixture
def fresh(tmp_path: Path) -> Path:
    """A project exactly as ``weaver init`` makes it."""
    done = run_weaver("init", "shop", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return tmp_path / "shop"


def weaver(project: Path, *args: str, **env: str) -> Any:
    """``weaver ARGS`` in the project, with every installed extension, as after ``pip install weaver``."""
    return run_weaver(*args, cwd=project, load=None, env=env)


def listed(project: Path) -> dict[tuple[str, str], dict[str, Any]]:
    done = weaver(project, "plugins", "--json")
    assert done.returncode == 0, done.stderr
    return {(row["name"], row["origin"]): row for row in json.loads(done.stdout)["plugins"]}


def test_a_fresh_project_lists_every_plugin_with_its_source_and_says_nothing_else(fresh: Path) -> None:
    done = weaver(fresh, "plugins")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no "plugin left out" for a bundled plugin nobody asked for
    lines = done.stdout.splitlines()
    assert lines[0] == "Plugins (2 loaded, 1 not configured):"
    assert any(
        line.split()
        == ["sql_pull_data", "not", "configured", "extension", "data_plugins", "(weaver-data-plugins", "0.1.0)"]
        for line in lines
    )
    assert any(line.split() == ["top_rows", "loaded", "plugins/top_rows.py", "(project", "file)"] for line in lines)

    rows = listed(fresh)
    sql = rows[("sql_pull_data", "extension")]
    assert (sql["status"], sql["severity"], sql["requested"]) == ("not_configured", "info", False)
    assert sql["source"] == "extension data_plugins" and sql["distribution"].startswith("weaver-data-plugins ")
    assert "[plugins.config.sql_pull_data]" in sql["detail"]
    top = rows[("top_rows", "project")]
    assert (top["status"], top["source"]) == ("loaded", str(fresh / "plugins" / "top_rows.py"))
    assert top["description"].startswith("The ``n`` rows of ``df``")


@pytest.mark.slow
def test_weaver_run_in_a_fresh_project_prints_no_plugin_warning(fresh: Path) -> None:
    with FakeOpenAIServer(
        [planner_reply("Hello! Ask me about data/sales.csv.", send_to="User", stop="Completed")]
    ) as server:
        done = weaver(
            fresh,
            "run",
            "hello",
            "--json",
            OPENAI_API_KEY="sk-test",
            OPENAI_BASE_URL=server.base_url,
            WEAVER_LLM__MODEL="fake-model",
        )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["answer"] == "Hello! Ask me about data/sales.csv."
    assert "plugin" not in done.stderr and "warning" not in done.stderr


def test_a_plugin_the_project_enabled_by_name_and_that_fails_is_still_said(fresh: Path) -> None:
    (fresh / "weaver.toml").write_text('[plugins]\nenabled = ["top_rows", "sql_pull_data", "top_row"]\n')
    done = weaver(fresh, "plugins")
    assert done.returncode == 0, done.stderr
    warned = done.stderr.splitlines()
    assert len(warned) == 2, done.stderr
    assert warned[0].startswith(
        "warning: plugin left out: plugin 'sql_pull_data' (extension data_plugins): not configured"
    )
    assert warned[1].startswith("warning: plugin left out: plugin 'top_row' ([plugins] enabled): failed: no plugin")
    rows = listed(fresh)
    assert (rows[("sql_pull_data", "extension")]["severity"], rows[("sql_pull_data", "extension")]["requested"]) == (
        "fail",
        True,
    )
    assert rows[("top_row", "config")]["status"] == "failed"


def doctor_rows(project: Path) -> tuple[int, dict[str, dict[str, str]]]:
    done = weaver(project, "doctor", "--json")
    return done.returncode, {row["name"]: row for row in json.loads(done.stdout)}


@pytest.mark.slow
def test_doctor_fails_on_a_broken_project_plugin_and_shows_the_unconfigured_as_information(fresh: Path) -> None:
    code, rows = doctor_rows(fresh)
    assert code == 0, rows  # the control: the same project without the broken file passes
    assert rows["plugin top_rows"]["status"] == "ok"
    assert rows["plugin sql_pull_data"]["status"] == "info"
    assert rows["plugin sql_pull_data"]["detail"].startswith(
        "not configured, extension data_plugins (weaver-data-plugins"
    )

    (fresh / "plugins" / "forecast.py").write_text("import weaver\n\n@weaver.plugin\ndef forecast(x: int) -> int\n")
    code, rows = doctor_rows(fresh)
    assert code == 1
    broken = rows["plugin forecast"]
    assert broken["status"] == "fail"
    assert broken["detail"].startswith(
        "failed, plugins/forecast.py (project file): forecast.py failed to import: SyntaxError"
    )
    assert rows["plugin top_rows"]["status"] == "ok"


@pytest.mark.slow
def test_plugins_test_passes_on_the_template_plugin(fresh: Path) -> None:
    done = weaver(fresh, "plugins", "test", "top_rows")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "examples: 3 passed, 0 failed"
    report = json.loads(weaver(fresh, "plugins", "test", "top_rows", "--json").stdout)
    assert (report["ok"], report["examples_attempted"], report["examples_failed"]) == (True, 3, 0)
