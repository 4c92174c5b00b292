"""The performance benchmarks run in a tiny configuration and produce well-formed records.

No timing is asserted here (timings belong to ``bench/``); what is checked is that every
module follows the runner's protocol, that each baseline it names is measured in the same
run, and that the scripted rounds the benchmarks time really finished.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytestmark = pytest.mark.slow

BENCH = Path(__file__).resolve().parent.parent / "bench"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_test_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def runner() -> ModuleType:
    return load("run")


def well_formed(runner: ModuleType, module: str, rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The rows by name, each checked by the runner and summarized; baselines resolved."""
    checked = [{**row, **runner.summarize(row["samples"])} for row in (runner.check(r, module) for r in rows)]
    runner.add_ratios(checked)
    by_name = {row["name"]: row for row in checked}
    assert len(by_name) == len(rows), "measurement names must be unique"
    assert runner.table(checked).count("\n") == len(rows) + 1
    return by_name


def test_sessions_benchmark_in_a_tiny_configuration(runner: ModuleType) -> None:
    rows = load("bench_sessions").run(1, levels=(1, 2), rounds=2, concurrency_runs=1, memory_batch=2)
    by_name = well_formed(runner, "bench_sessions", rows)

    for level in (1, 2):
        assert by_name[f"concurrency {level}: failed rounds"]["samples"] == [0.0]
        assert len(by_name[f"concurrency {level}: round latency"]["samples"]) == level * 2
    assert by_name["concurrency 2: throughput"]["ratio"] is not None  # against concurrency 1, same run
    assert by_name["round overhead, HTTP fake server"]["ratio"] is not None
    assert len(by_name["idle session: kernel RSS"]["samples"]) == 4  # two batches of two sessions
    assert len(by_name["idle session: host Python heap"]["samples"]) == 1
    assert all(rss > 0 for rss in by_name["idle session: kernel RSS"]["samples"])
    # Its baseline is bench_kernel's: named, and reported missing when that module did not run.
    assert by_name["idle session: kernel RSS"]["baseline"] == "jupyter_client: idle kernel RSS"
    assert "was not measured in this run" in by_name["idle session: kernel RSS"]["note"]


def test_kernel_and_core_benchmarks_in_a_tiny_configuration(runner: ModuleType) -> None:
    kernel = well_formed(runner, "bench_kernel", load("bench_kernel").run(1))
    core = well_formed(runner, "bench_core", load("bench_core").run(1))

    for rows in (kernel, core):
        for row in rows.values():
            assert row["baseline"] is None or row["ratio"] is not None, row["name"]
    assert kernel["weaver: new session's first execution, warm pool"]["baseline"] == "jupyter_client: execute round trip"
    assert core["weaver --help"]["baseline"] == "typer app --help"  # the floor of its CLI framework, same run


def test_round_benchmark_in_a_tiny_configuration(runner: ModuleType) -> None:
    rows = well_formed(runner, "bench_round", load("bench_round").run(1, levels=(1, 2), rounds=2, token_rounds=2, warm=2, fresh=1))
    for row in rows.values():
        assert row["baseline"] is None or row["ratio"] is not None, row["name"]
    # The floors replayed Weaver's own requests in the same run, interleaved with its rounds.
    assert len(rows["warm round: raw-HTTP floor"]["samples"]) == len(rows["warm round: weaver"]["samples"]) == 2
    assert rows["warm round: weaver"]["baseline"] == "warm round: raw-HTTP floor"
    assert rows["warm round host CPU: weaver"]["baseline"] == "warm round host CPU: SDK floor"
    assert rows["concurrency 2: failed rounds"]["samples"] == [0.0]
    assert rows["concurrency 2: round latency p95"]["baseline"] == "concurrency 1: round latency p95"
    fresh = rows["fresh weaver run: first round"]
    assert fresh["samples"][0] > 0 and fresh["baseline"] == "fresh weaver run: max(kernel cold start, first call) + remaining calls"
    assert rows["prompt tokens, round 2"]["samples"][0] > 0 and "prompt tokens, rounds 1–2 in all" in rows


def test_plugins_benchmark_in_a_tiny_configuration(runner: ModuleType) -> None:
    rows = well_formed(runner, "bench_plugins", load("bench_plugins").run(1))
    assert set(rows) == {
        "import the enabled plugin files (taskweaver)",
        "load_plugins (taskweaver)",
        "import the enabled plugin files (template)",
        "load_plugins (template)",
    }
    for project in ("taskweaver", "template"):
        assert rows[f"load_plugins ({project})"]["ratio"] is not None


def test_host_plugins_benchmark_in_a_tiny_configuration(runner: ModuleType) -> None:
    rows = well_formed(runner, "bench_host_plugins", load("bench_host_plugins").run(1))
    assert rows["host plugin call"]["baseline"] == "in-kernel plugin call"
    assert rows["host plugin call, DataFrame"]["baseline"] == "in-kernel plugin call, DataFrame"
    assert all(row["ratio"] is not None for name, row in rows.items() if name.startswith("host"))


def test_the_install_benchmark_runs_only_when_named(
    runner: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Minutes per sample: a plain `nox -s bench` leaves it out and says how to run it.
    monkeypatch.setattr(runner, "discover", lambda only: [BENCH / "bench_install.py"])
    assert runner.main(["--repeats", "1", "--output", str(tmp_path / "report.json")]) == 0
    assert "skipping bench_install: slow, runs only when named (--only bench_install)" in capsys.readouterr().err
    assert load("bench_install").SLOW is True


def test_gateway_benchmark_in_a_tiny_configuration(runner: ModuleType) -> None:
    by_name = well_formed(runner, "bench_gateway", load("bench_gateway").run(1))
    for name in ("gateway executor: round trip", "gateway executor: first result", "gateway executor: round trip, against local"):
        assert by_name[name]["ratio"] is not None  # baselines measured in the same run
        assert by_name[name]["samples"][0] > 0
