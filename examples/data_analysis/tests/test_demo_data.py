"""The example's data, plugin and packaging: what the recorded demo session relies on."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from weaver.plugins.decorator import schema_of

EXAMPLE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(EXAMPLE))
import make_data
from plugins.period_growth import period_growth

sys.path.remove(str(EXAMPLE))


def test_the_generator_reproduces_the_committed_data(tmp_path):
    make_data.main(tmp_path)
    assert (tmp_path / "orders.csv").read_bytes() == (EXAMPLE / "data" / "orders.csv").read_bytes()
    tables = ("regions", "products", "orders")
    with sqlite3.connect(tmp_path / "shop.db") as fresh, sqlite3.connect(EXAMPLE / "data" / "shop.db") as committed:
        for table in tables:
            query = f"SELECT * FROM {table} ORDER BY 1"
            assert fresh.execute(query).fetchall() == committed.execute(query).fetchall()


def test_the_csv_and_the_database_hold_the_same_orders():
    frame = pd.read_csv(EXAMPLE / "data" / "orders.csv")
    with sqlite3.connect(EXAMPLE / "data" / "shop.db") as db:
        count, revenue = db.execute("SELECT COUNT(*), ROUND(SUM(revenue), 2) FROM orders").fetchone()
    assert len(frame) == count
    assert round(frame["revenue"].sum(), 2) == revenue


def test_period_growth_ranks_groups_by_growth():
    monthly = pd.DataFrame(
        {"region": ["a", "a", "b", "b"], "month": ["2024-02", "2024-01", "2024-01", "2024-02"], "revenue": [150.0, 100.0, 80.0, 100.0]}
    )
    growth = period_growth(monthly, value="revenue", group="region", period="month")
    assert list(growth.index) == ["a", "b"]
    assert growth.loc["a", ["first", "last", "change", "growth_pct"]].tolist() == [100.0, 150.0, 50.0, 50.0]
    assert growth.loc["b", "growth_pct"] == 25.0
    assert schema_of(period_growth).name == "period_growth"


@pytest.mark.slow
def test_the_wheel_carries_the_project(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "-q", "-w", str(tmp_path), str(EXAMPLE)],
        check=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("weaver_demo-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in (
        "weaver_demo/__init__.py",
        "weaver_demo/project/weaver.toml",
        "weaver_demo/project/README.md",
        "weaver_demo/project/data/shop.db",
        "weaver_demo/project/data/orders.csv",
        "weaver_demo/project/plugins/period_growth.py",
        "weaver_demo/project/cassettes/demo.jsonl",
    ):
        assert name in names
    assert not any(name.startswith("weaver_demo/project/.weaver") for name in names)
