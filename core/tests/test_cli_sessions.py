"""``weaver sessions list | show | resume | export`` and ``weaver chat`` fed by a pipe.

Real subprocesses on a project whose only role is the ``Greeter`` of the fake distribution
``weaver-fake-good`` (it answers ``hello, <request>``).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from weaver.model import Round, RoundState
from weaver.serde import from_data
from weaver.testing import run_weaver


def weaver(*args: str, project: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """``weaver -p PROJECT ARGS`` with only the fake good extension and no user config."""
    return run_weaver("-p", str(project), *args, cwd=project, load="fake_good", fake_dists=True, stdin=stdin)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "weaver.toml").write_text('[session]\nroles = ["greeter"]\n')
    return tmp_path


def session_ids(project: Path) -> list[str]:
    result = weaver("sessions", "list", "--json", project=project)
    assert result.returncode == 0, result.stderr
    return [row["id"] for row in json.loads(result.stdout)]


def test_list_is_empty_then_shows_each_session(project):
    empty = weaver("sessions", "list", project=project)
    assert (empty.returncode, empty.stdout.strip()) == (0, f"no sessions in {project / '.weaver'}")
    weaver("run", "first", project=project)
    weaver("run", "second", project=project)
    rows = json.loads(weaver("sessions", "list", "--json", project=project).stdout)
    assert [(r["rounds"], r["last_state"], r["first_request"]) for r in rows] == [
        (1, "finished", "first"),
        (1, "finished", "second"),
    ]
    table = weaver("sessions", "list", project=project).stdout.splitlines()
    assert table[0].split() == ["ID", "ROUNDS", "LAST", "UPDATED", "FIRST", "REQUEST"]
    assert table[1].startswith(rows[0]["id"]) and table[1].endswith("first")


def test_show_renders_the_rounds_and_json_gives_them_as_data(project):
    weaver("run", "world", project=project)
    (session_id,) = session_ids(project)
    shown = weaver("sessions", "show", session_id, project=project)
    assert shown.returncode == 0, shown.stderr
    lines = [line.rstrip() for line in shown.stdout.splitlines()]
    assert lines[0] == f"session {session_id} · 1 round"
    assert "you world" in lines
    assert "    hello, world" in lines
    assert lines[-1].startswith("✓ finished")
    rounds = [from_data(item, Round) for item in json.loads(weaver("sessions", "show", session_id, "--json", project=project).stdout)]
    assert [(r.state, r.answer) for r in rounds] == [(RoundState.finished, "hello, world")]


def test_export_writes_markdown_or_json(project):
    weaver("run", "world", project=project)
    (session_id,) = session_ids(project)
    markdown = weaver("sessions", "export", session_id, project=project)
    assert markdown.returncode == 0, markdown.stderr
    assert markdown.stdout.startswith(f"# Weaver session {session_id}\n")
    assert "## Round 1: world" in markdown.stdout
    assert "### Greeter → User" in markdown.stdout
    assert "hello, world" in markdown.stdout
    target = project / "out" / "session.json"
    target.parent.mkdir()
    exported = weaver("sessions", "export", session_id, "--json", "-o", str(target), project=project)
    assert exported.returncode == 0, exported.stderr
    assert [r["answer"] for r in json.loads(target.read_text())] == ["hello, world"]


def test_unknown_session_is_one_clear_error(project):
    for command in ("show", "export", "resume"):
        result = weaver("sessions", command, "session-nope", project=project)
        assert result.returncode == 2
        assert result.stderr.strip().splitlines()[-1].startswith("error: no session 'session-nope'")


def test_resume_continues_the_session_with_new_rounds(project):
    weaver("run", "first", project=project)
    (session_id,) = session_ids(project)
    resumed = weaver("sessions", "resume", session_id, project=project, stdin="second\n/exit\n")
    assert resumed.returncode == 0, resumed.stderr
    assert f"session {session_id} (resumed, 1 round)" in resumed.stdout
    assert "hello, second" in resumed.stdout
    rounds = json.loads(weaver("sessions", "show", session_id, "--json", project=project).stdout)
    assert [r["user_query"] for r in rounds] == ["first", "second"]


def test_chat_commands_from_a_pipe(project):
    upload = project / "numbers.csv"
    upload.write_text("x\n1\n")
    script = "\n".join(
        ["/help", "/plan", f"/load {upload}", "/load nowhere.csv", "world", "/cost", "/save", "/bogus", "/reset", "again", "/exit"]
    )
    result = weaver("chat", project=project, stdin=script + "\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for name in ("/help", "/exit", "/reset", "/load", "/plan", "/cost", "/save"):
        assert f"  {name} " in out
    assert "no plan yet" in out
    assert "numbers.csv will be uploaded with your next request" in out
    assert "/load wants a file; nowhere.csv is not one" in out
    assert "hello, world" in out
    assert "  1. world: 0 LLM calls" in out
    assert "unknown command /bogus" in out
    first = re.search(r"Weaver chat · session (\S+)", out).group(1)
    (second,) = set(session_ids(project)) - {first}
    saved = project / ".weaver" / "sessions" / first / "transcript.md"
    assert f"saved 1 round to {saved}" in out
    assert "## Round 1: world" in saved.read_text()
    assert f"new session {second}" in out
    assert "hello, again" in out
    uploaded = project / ".weaver" / "sessions" / first / "cwd" / "numbers.csv"
    assert uploaded.read_text() == "x\n1\n"


def test_chat_ends_at_end_of_input(project):
    result = weaver("chat", project=project, stdin="world\n")
    assert result.returncode == 0, result.stderr
    assert "hello, world" in result.stdout
