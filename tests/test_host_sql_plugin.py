"""The data-analysis example's SQL plugin on the host: kernel code queries a database the
kernel cannot see (outside ``[execution] project_files``), and gets a DataFrame."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

import weaver_data_plugins
from weaver.testing.kernels import kernel_app

pytestmark = pytest.mark.slow
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "data_analysis"


def test_sql_pull_data_runs_on_the_host_against_a_database_the_kernel_cannot_reach(
    tmp_path: Path, weaver_pm: Any, register_plugin: Any
) -> None:
    register_plugin(weaver_data_plugins)
    project = tmp_path / "shop"
    shutil.copytree(EXAMPLE / "data", project / "data")
    (project / "private").mkdir()
    shutil.move(project / "data" / "shop.db", project / "private" / "shop.db")
    config = (EXAMPLE / "weaver.toml").read_text().replace('db_path = "data/shop.db"', 'db_path = "private/shop.db"')
    (project / "weaver.toml").write_text(config)
    with kernel_app(project, weaver_pm) as app:
        assert app.plugins.get("sql_pull_data").spec.host
        session = app.session()
        result = app.run(
            session.execute(
                "import os\n"
                "rows = sql_pull_data('SELECT r.name AS region, COUNT(*) AS n FROM orders o JOIN regions r USING (region_id) GROUP BY r.name')\n"
                f"print(type(rows).__name__, len(rows) > 0, list(rows.columns), os.path.exists({str(project / 'private')!r}))"
            )
        )
    assert result.ok, result.error
    assert result.stdout.split() == ["DataFrame", "True", "['region',", "'n']", "False"]
