"""``weaver run``: one round in a real subprocess, its exit status, its ``--json`` Round.

The session uses the ``Greeter`` role of the checked-in fake distribution ``weaver-fake-good``
(it answers ``hello, <request>``), so these tests need no model and no other package.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import attrs
import pytest

from weaver.model import Round, RoundState
from weaver.serde import from_json
from weaver.testing import run_weaver

PROJECT = '[session]\nroles = ["greeter"]\n'


def weaver(*args: str, project: Path) -> subprocess.CompletedProcess[str]:
    """``weaver -p PROJECT ARGS`` with only the fake good extension, no user config, output piped."""
    return run_weaver("-p", str(project), *args, cwd=project, load="fake_good", fake_dists=True)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "weaver.toml").write_text(PROJECT)
    return tmp_path


def test_a_finished_round_exits_0_with_the_answer_on_stdout_and_the_view_on_stderr(project):
    result = weaver("run", "world", project=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hello, world\n"
    assert "── Greeter" in result.stderr
    assert "✓ finished" in result.stderr
    assert "\x1b" not in result.stderr  # not a terminal: no colors, no live region


def test_json_prints_the_round_alone_on_stdout(project):
    data_file = project / "numbers.csv"
    data_file.write_text("x\n1\n")
    result = weaver("run", "world", "--json", "--file", str(data_file), project=project)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    data = json.loads(lines[0])
    assert set(data) == {f.name for f in attrs.fields(Round)}
    round = from_json(lines[0], Round)
    assert (round.state, round.answer, round.user_query) == (RoundState.finished, "hello, world", "world")
    assert [(p.send_from, p.send_to) for p in round.posts] == [("User", "Greeter"), ("Greeter", "User")]
    uploaded = round.posts[0].attachments[0]
    assert (uploaded.type.value, uploaded.content) == ("file", "numbers.csv")
    assert Path(uploaded.extra["path"]).read_text() == "x\n1\n"
    assert round.ended_at >= round.created_at
    assert "session session-" in result.stderr


def test_a_failed_round_exits_1(project):
    result = weaver("run", "fail", "--json", project=project)
    assert result.returncode == 1, result.stderr
    round = from_json(result.stdout, Round)
    assert round.state is RoundState.failed
    assert round.reason == "the greeter was asked to fail"
    assert "✗ failed: the greeter was asked to fail" in result.stderr


def test_a_value_its_validator_refuses_is_a_config_error_exit_2(project):
    result = weaver("--set", "session.max_hops=0", "run", "world", project=project)
    assert result.returncode == 2, result.stderr
    assert "error: --set: [session.max_hops]: must be at least 1, got 0" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--set", "session.max_hops=lots", "run", "world"), "[session.max_hops]"),
        (("--set", "session.roles=nobody", "run", "world"), "unknown role 'nobody'"),
        (("run",), "Missing argument"),
        (("run", "world", "--file", "missing.csv"), "does not exist"),
    ],
    ids=["bad-value", "unknown-role", "no-request", "missing-file"],
)
def test_usage_and_configuration_errors_exit_2(project, args, message):
    result = weaver(*args, project=project)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert result.stdout == ""


def test_session_option_continues_a_stored_session(project):
    first = from_json(weaver("run", "one", "--json", project=project).stdout, Round)
    sessions = [p.name for p in (project / ".weaver" / "sessions").iterdir()]
    assert len(sessions) == 1
    second = weaver("run", "two", "--json", "--session", sessions[0], project=project)
    assert second.returncode == 0, second.stderr
    assert from_json(second.stdout, Round).answer == "hello, two"
    log = (project / ".weaver" / "sessions" / sessions[0] / "events.jsonl").read_text()
    assert first.id in log and '"user_query":"two"' in log
    missing = weaver("run", "three", "--session", "session-nope", project=project)
    assert missing.returncode == 2
    assert "no session 'session-nope'" in missing.stderr
