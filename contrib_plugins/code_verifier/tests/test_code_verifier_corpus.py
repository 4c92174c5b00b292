"""The unsafe corpus is blocked with the rule each file expects; ordinary analysis code passes,
both through the verifier's API and through ``weaver check`` in a subprocess.

Each file under ``corpus/unsafe`` names the rule it must trigger on a ``# expect: rule``
line; ``corpus/safe`` holds realistic pandas/numpy/matplotlib analysis code. They are IPython
cells (``.ipy``: some use ``%magic`` and ``!shell`` syntax), as the kernel runs them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from weaver_code_verifier import verify

CORPUS = Path(__file__).parent / "corpus"
UNSAFE = sorted((CORPUS / "unsafe").glob("*.ipy"))
SAFE = sorted((CORPUS / "safe").glob("*.ipy"))


def expected_rule(path: Path) -> str:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# expect:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"{path.name} has no '# expect: rule' line")


def test_the_corpora_are_big_enough() -> None:
    categories = {path.stem.split("_", 1)[1] for path in UNSAFE}
    assert len(categories) >= 15
    assert len({expected_rule(path) for path in UNSAFE}) >= 12
    assert len(SAFE) >= 10


@pytest.mark.parametrize("path", UNSAFE, ids=lambda p: p.stem)
def test_unsafe_snippet_is_blocked_with_its_rule(path: Path) -> None:
    violations = verify(path.read_text(encoding="utf-8"))
    assert expected_rule(path) in [v.rule for v in violations], violations
    for violation in violations:
        assert violation.message.startswith(f"line {violation.line}: ")
        assert violation.source == "code_verifier"


@pytest.mark.parametrize("path", SAFE, ids=lambda p: p.stem)
def test_ordinary_analysis_code_is_allowed(path: Path) -> None:
    assert verify(path.read_text(encoding="utf-8")) == []


# --------------------------------------------------------------------------------------
# weaver check, in a subprocess
# --------------------------------------------------------------------------------------


def weaver(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WEAVER_LOAD_EXTENSIONS": "code_verifier,data_plugins"}
    return subprocess.run(
        [sys.executable, "-m", "weaver.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def run_all(paths: list[Path], *flags: str, cwd: Path) -> list[subprocess.CompletedProcess[str]]:
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda p: weaver("check", *flags, str(p), cwd=cwd), paths))


@pytest.mark.slow
def test_check_blocks_every_unsafe_snippet(tmp_path: Path) -> None:
    for path, done in zip(UNSAFE, run_all(UNSAFE, "--json", cwd=tmp_path)):
        assert done.returncode == 1, (path.name, done.stderr)
        violations = json.loads(done.stdout)
        assert all(set(v) == {"line", "rule", "message"} for v in violations)
        assert expected_rule(path) in [v["rule"] for v in violations], path.name


@pytest.mark.slow
def test_check_allows_ordinary_analysis_code(tmp_path: Path) -> None:
    for path, done in zip(SAFE, run_all(SAFE, cwd=tmp_path)):
        assert done.returncode == 0, (path.name, done.stdout, done.stderr)
        assert done.stdout.strip() == f"{path}: ok"


def test_check_text_output_names_file_line_and_rule(tmp_path: Path) -> None:
    target = tmp_path / "cell.py"
    target.write_text("import pandas as pd\nimport subprocess\n")
    done = weaver("check", str(target), cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout.splitlines()[0].startswith(f"{target}:2: [import-not-allowed] line 2: importing 'subprocess'")
    assert done.stdout.splitlines()[-1] == "1 problem found"


def test_check_plugin_only_uses_the_enabled_plugins(tmp_path: Path) -> None:
    target = tmp_path / "calls.py"
    target.write_text("flagged = anomaly_detection(df, 'amount', threshold=None)\n")
    assert weaver("check", "--plugin-only", str(target), cwd=tmp_path).returncode == 0
    target.write_text("flagged = anomaly_detection(df, 'amount', strict=true)\nimport os\n")
    done = weaver("check", "--plugin-only", "--json", str(target), cwd=tmp_path)
    assert done.returncode == 1
    assert [v["rule"] for v in json.loads(done.stdout)] == ["json-literal", "plugin-only"]
