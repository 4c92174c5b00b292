"""The sample data plugins: read-only SQL over a real SQLite file, robust outlier flags, and
both bound and called inside a real kernel."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import weaver_data_plugins
from weaver.testing.kernels import kernel_app
from weaver_data_plugins.anomaly import anomaly_detection, outlier_mask
from weaver_data_plugins.sql import ReadOnlyQueryError, check_select, read_only_query


@pytest.fixture
def db(tmp_path: Path) -> Path:
    # In a project folder the kernel sees ([execution] project_files), not beside weaver.toml.
    (tmp_path / "data").mkdir()
    path = tmp_path / "data" / "sales.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE sales (region TEXT, amount REAL)")
        connection.executemany("INSERT INTO sales VALUES (?, ?)", [("north", 10.0), ("south", 5.5), ("north", 4.5)])
    return path


def rows(path: Path) -> int:
    with sqlite3.connect(path) as connection:
        return connection.execute("SELECT COUNT(*) FROM sales").fetchone()[0]


def test_select_returns_a_dataframe(db: Path) -> None:
    frame, more = read_only_query(db, "SELECT region, SUM(amount) AS total FROM sales GROUP BY region ORDER BY region")
    assert frame.to_dict("list") == {"region": ["north", "south"], "total": [14.5, 5.5]}
    assert more is False
    frame, more = read_only_query(
        db, "-- comment\nWITH big AS (SELECT * FROM sales WHERE amount > ?) SELECT * FROM big;", [5]
    )
    assert len(frame) == 2 and more is False
    assert check_select("select 1 ;") == "select 1"


def test_limit_cuts_and_says_so(db: Path) -> None:
    frame, more = read_only_query(db, "SELECT * FROM sales", limit=2)
    assert len(frame) == 2 and more is True
    frame, more = read_only_query(db, "SELECT * FROM sales", limit=None)
    assert len(frame) == 3 and more is False


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("DELETE FROM sales", "only SELECT queries are allowed (this one starts with DELETE)"),
        ("SELECT 1; DELETE FROM sales", "only one statement may run"),
        ("WITH x AS (SELECT 1) DELETE FROM sales", "does something other than read"),
        ("SELECT * FROM pragma_table_info('sales') WHERE 0; ATTACH 'x.db' AS x", "only one statement may run"),
        ("  ", "the query is empty"),
        ("ATTACH DATABASE 'other.db' AS other", "starts with ATTACH"),
    ],
)
def test_anything_but_one_select_is_refused_and_nothing_changes(db: Path, query: str, problem: str) -> None:
    with pytest.raises(ReadOnlyQueryError) as caught:
        read_only_query(db, query)
    assert problem in str(caught.value)
    assert rows(db) == 3


def test_a_missing_database_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"\[plugins.config.sql_pull_data\] db_path"):
        read_only_query(tmp_path / "nope.db", "SELECT 1")


def test_robust_z_flags_the_outlier_that_would_hide_from_three_sigma() -> None:
    values = pd.Series([10, 11, 9, 10, 12, 10, 11, 95, None])
    assert outlier_mask(values).tolist() == [False] * 7 + [True, False]
    # mean +- 3 sigma misses it: the outlier inflates sigma
    present = values.dropna()
    assert not ((present - present.mean()).abs() > 3 * present.std()).any()


def test_iqr_and_thresholds() -> None:
    values = pd.Series([1.0, 2, 3, 4, 5, 6, 7, 8, 30])
    assert outlier_mask(values, "iqr").tolist() == [False] * 8 + [True]
    assert outlier_mask(values, "iqr", threshold=10).tolist() == [False] * 9
    assert outlier_mask(pd.Series([5, 5, 5, 5])).tolist() == [False] * 4
    # more than half equal: MAD is 0, the mean absolute deviation stands in
    assert outlier_mask(pd.Series([5, 5, 5, 5, 5, 6, 50])).tolist() == [False] * 6 + [True]
    with pytest.raises(ValueError, match="unknown method 'zscore'"):
        outlier_mask(values, "zscore")


def test_anomaly_detection_returns_a_flagged_copy() -> None:
    frame = pd.DataFrame({"day": range(6), "amount": [3.0, 2.9, 3.1, 3.0, 40.0, 3.2]})
    flagged = anomaly_detection(frame, "amount", flag_column="odd")
    assert flagged["odd"].tolist() == [False, False, False, False, True, False]
    assert "odd" not in frame.columns
    with pytest.raises(KeyError, match="its columns are \\['day', 'amount'\\]"):
        anomaly_detection(frame, "amt")
    with pytest.raises(TypeError, match="not numeric"):
        anomaly_detection(pd.DataFrame({"name": ["a", "b"]}), "name")


@pytest.mark.slow
def test_plugins_run_in_a_real_kernel(db: Path, weaver_pm: Any, register_plugin: Any, tmp_path: Path) -> None:
    register_plugin(weaver_data_plugins)
    app = kernel_app(tmp_path, weaver_pm, plugins={"config": {"sql_pull_data": {"db_path": "data/sales.db"}}})
    try:
        assert app.plugins.names == ("anomaly_detection", "sql_pull_data")
        session = app.session()
        result = session.app.run(
            session.execute(
                "df = sql_pull_data('SELECT * FROM sales', limit=2)\n"
                "flagged = anomaly_detection(df, 'amount', method='iqr')\n"
                "(len(df), flagged['is_anomaly'].tolist())"
            )
        )
        assert result.ok, result.error
        assert result.value_repr == "(2, [False, False])"
        assert result.plugin_calls == {"sql_pull_data": 1, "anomaly_detection": 1}
        assert "only the first 2 rows are returned" in result.stderr
        refused = session.app.run(session.execute("sql_pull_data('DROP TABLE sales')"))
        assert refused.error is not None and refused.error.type == "ReadOnlyQueryError"
        assert rows(db) == 3
    finally:
        app.close()
