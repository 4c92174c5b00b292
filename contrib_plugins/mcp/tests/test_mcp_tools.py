"""MCP servers' tools as host plugins, end to end: a real MCP server (the SDK's server side,
over stdio), the real Planner and CodeInterpreter on the fake OpenAI server, a real kernel,
a recorded cassette replayed with the server gone, and ``weaver doctor`` on a broken server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import weaver_code_interpreter
import weaver_code_verifier
import weaver_mcp
import weaver_planner
from weaver.events import Event, EventType
from weaver.model import RoundState
from weaver.testing import FakeOpenAIServer
from weaver.testing.cli import run_weaver
from weaver.testing.wire import code_reply, planner_reply
from weaver_mcp.schema import tool_of, type_text

pytestmark = pytest.mark.slow

SERVER = Path(__file__).with_name("stats_server.py")
CI = "CodeInterpreter"
CODE = """import pandas as pd
df = pd.DataFrame({"amount": [10.0, 20.0, 60.0]})
summary = stats.summarize(rows=df.to_dict("records"), column="amount")
doubled = pd.Series(stats.scale_values(df["amount"].tolist(), factor=3.0))
print(summary["mean"], doubled.sum())
"""


def servers(command: str, calls: Path) -> dict[str, Any]:
    return {"servers": {"stats": {"command": command, "args": [str(SERVER)], "env": {"STATS_CALL_LOG": str(calls)}}}}


@pytest.fixture
def project(make_app: Any, register_plugin: Any, tmp_path: Path) -> Any:
    for extension in (weaver_planner, weaver_code_interpreter, weaver_code_verifier, weaver_mcp):
        register_plugin(extension)

    def make(llm: dict[str, Any], mcp: dict[str, Any]) -> Any:
        return make_app(
            tmp_path,
            session={"roles": ["planner", "code_interpreter"]},
            llm=llm,
            mcp=mcp,
            execution={"pool_size": 0},
            planner={"use_examples": False},
        )

    return make


def replies() -> tuple[str, ...]:
    plan = "1. Summarize the amounts"
    return (
        planner_reply("Summarize the amounts with the stats tools.", plan=plan),
        code_reply(CODE, "Call the tools on the frame."),
        planner_reply("The mean is 30 and the tripled total 270.", plan=plan, stop="Completed", send_to="User"),
    )


def test_a_round_calls_mcp_tools_on_a_dataframe_and_replays_with_the_server_gone(
    project: Any, fake_llm: FakeOpenAIServer, tmp_path: Path
) -> None:
    calls = tmp_path / "calls.log"
    cassette = tmp_path / "round.jsonl"
    fake_llm.add(*replies())
    app = project({**fake_llm.llm_config(), "mode": "record", "cassette": str(cassette)}, servers(sys.executable, calls))
    events: list[Event] = []
    app.subscribe(events.append)
    with app:
        prompt_plugins = app.plugins.render()
        finished = app.session().send_message("Summarize the amounts")
    assert finished.state is RoundState.finished, finished.reason
    execution = next(e for e in events if e.type is EventType.execution)
    assert execution.data["result"]["stdout"].split() == ["30.0", "270.0"]
    assert execution.data["result"]["plugin_calls"] == {"stats.summarize": 1, "stats.scale_values": 1}
    # One server process for the App (started once, lazily), reached for both calls.
    assert calls.read_text().splitlines() == ["starting", "summarize amount over 3 rows", "scale 3 values by 3.0"]
    logged = [e.data for e in events if e.type is EventType.plugin_call]
    assert [(d["plugin"], d["ok"], d["replayed"]) for d in logged] == [
        ("stats.summarize", True, False),
        ("stats.scale_values", True, False),
    ]
    # The prompt shows typed signatures generated from the tools' schemas, under the server's name.
    assert "def stats.summarize(rows: list[dict[str, float]], column: str) -> dict[str, float]:" in prompt_plugins
    assert "def stats.scale_values(values: list[float], factor: float = 2.0) -> list[float]:" in prompt_plugins
    ci_prompt = next(r for r in fake_llm.requests if r["messages"][0]["content"].startswith(f"You are {CI}."))
    assert "stats.summarize(" in ci_prompt["messages"][0]["content"]
    lines = [json.loads(line) for line in cassette.read_text().splitlines()]
    kinds = [line.get("kind") for line in lines]
    assert kinds.count("plugin_tools") == 1 and kinds.count("plugin_call") == 2  # the listing once per App

    # Replay: the server's command no longer exists, and no model answers.
    calls.unlink()
    fake_llm.requests.clear()
    replay = project({**fake_llm.llm_config(), "mode": "replay", "cassette": str(cassette)}, servers("/nonexistent/stats", calls))
    events.clear()
    replay.subscribe(events.append)
    with replay:
        again = replay.session().send_message("Summarize the amounts")
    assert again.state is RoundState.finished, again.reason
    execution = next(e for e in events if e.type is EventType.execution)
    assert execution.data["result"]["stdout"].split() == ["30.0", "270.0"]
    assert [e.data["replayed"] for e in events if e.type is EventType.plugin_call] == [True, True]
    assert not calls.exists()
    assert fake_llm.requests == []


def test_a_tool_error_reaches_the_code_as_a_named_exception(project: Any, fake_llm: FakeOpenAIServer, tmp_path: Path) -> None:
    app = project(fake_llm.llm_config(), servers(sys.executable, tmp_path / "calls.log"))
    with app:
        session = app.session()
        result = app.run(session.execute("stats.scale_values([1.0], factor=0)"))
        wrong = app.run(session.execute("stats.scale_values()"))
        missing = app.run(session.execute("weaver_tools.search('scale')"))
    assert result.error is not None and result.error.type == "PluginCallError"
    assert "factor 0 would erase the data" in result.error.message
    assert wrong.error is not None and wrong.error.type == "TypeError" and "values" in wrong.error.message
    assert "stats.scale_values(values: list[float], factor: float = 2.0) -> list[float]" in (missing.value_repr or "")


def test_a_server_over_streamable_http(project: Any, fake_llm: FakeOpenAIServer, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    calls = tmp_path / "calls.log"
    server = subprocess.Popen(
        [sys.executable, str(SERVER), "http", str(port)], env={**os.environ, "STATS_CALL_LOG": str(calls)}, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while not calls.exists() or _closed(port):
            assert server.poll() is None and time.monotonic() < deadline, "the HTTP server did not start"
            time.sleep(0.2)
        app = project(fake_llm.llm_config(), {"servers": {"stats": {"url": f"http://127.0.0.1:{port}/mcp"}}})
        with app:
            result = app.run(app.session().execute("stats.summarize(rows=[{'v': 2.0}, {'v': 4.0}], column='v')"))
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert result.ok, result.error
    assert result.value_repr == "{'count': 2.0, 'mean': 3.0, 'max': 4.0}"
    assert "summarize v over 2 rows" in calls.read_text()


def _closed(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def test_doctor_names_a_broken_server_command(tmp_path: Path) -> None:
    (tmp_path / "weaver.toml").write_text(
        '[mcp.servers.stats]\ncommand = "/nonexistent/stats-server"\n\n[mcp.servers.quits]\n'
        f'command = "{sys.executable}"\nargs = ["-c", "import sys; print(\'no such database\', file=sys.stderr); sys.exit(3)"]\n'
    )
    done = run_weaver("-p", str(tmp_path), "doctor", "--json", cwd=tmp_path, load="mcp")
    rows = {row["name"]: row for row in json.loads(done.stdout)}
    assert done.returncode == 1
    broken = rows["plugin source stats"]
    assert broken["status"] == "fail"
    assert "could not be started" in broken["detail"] and "/nonexistent/stats-server" in broken["detail"]
    quits = rows["plugin source quits"]
    assert quits["status"] == "fail" and "no such database" in quits["detail"]


def test_json_schema_types_become_python_types() -> None:
    assert type_text({"type": "array", "items": {"type": "integer"}}) == "list[int]"
    assert type_text({"anyOf": [{"type": "string"}, {"type": "null"}]}) == "str | None"
    assert type_text({"enum": ["asc", "desc"]}) == "Literal['asc', 'desc']"
    tool = tool_of(
        "find-issues",
        "Search issues.",
        {"type": "object", "properties": {"from": {"type": "string"}, "q": {"type": "string", "description": "words"}}, "required": ["q"]},
        None,
    )
    assert tool.schema.signature() == "find_issues(q: str, from_: str = None) -> str"
    assert tool.arguments == {"from_": "from"} and tool.remote_name == "find-issues"
