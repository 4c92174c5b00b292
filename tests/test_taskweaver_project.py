"""A TaskWeaver sample-style project (``tests/taskweaver_project/``), copied unchanged, run by
``weaver`` in a fresh process with every installed extension: the real Planner and
CodeInterpreter, the real ``openai`` client over HTTP to a scripted model, a real kernel.

The round calls the project's plugins with the signatures their YAML gives, the project's
``anomaly_detection`` wins over the one of ``weaver-data-plugins``, the disabled
``speech2text`` (whose file imports the missing ``whisper``) is never imported, and both
kinds of examples reach the prompts as chat turns."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from weaver.model import USER, AttachmentType, Round, RoundState
from weaver.serde import from_json
from weaver.testing import FakeOpenAIServer, run_weaver
from weaver.testing.wire import code_reply, planner_reply
from weaver_code_interpreter.examples import CURRENT_START, EXAMPLE_START

pytestmark = pytest.mark.slow

SAMPLE = Path(__file__).with_name("taskweaver_project")
PLAN = "1. Search the catalog for lamps and flag price anomalies\n2. Report the result"
CODE = (
    'lamps, description = catalog_search("lamp", max_price=100)\n'
    'flagged, summary = anomaly_detection(lamps, "listed", "price")\n'
    "print(description)\n"
    "print(summary)\n"
    'flagged[["name", "price", "Is_Anomaly"]]'
)
ANSWER = "4 lamps cost at most 100 euros; none of their prices is an anomaly."


@pytest.fixture
def project(tmp_path: Path) -> Path:
    copy = tmp_path / "project"
    shutil.copytree(SAMPLE, copy)
    return copy


def weaver(project: Path, *args: str, **env: str) -> Any:
    return run_weaver(*args, cwd=project, load=None, env={"WEAVER_EXECUTION__POOL_SIZE": "0", **env})


def requests_of(server: FakeOpenAIServer, role: str) -> list[list[dict[str, str]]]:
    return [r["messages"] for r in server.requests if r["messages"][0]["content"].startswith(f"You are {role}.")]


def test_a_round_calls_the_yaml_plugins_and_shows_both_kinds_of_examples(project: Path) -> None:
    replies = [
        planner_reply("Search the catalog for lamps of at most 100 euros and flag price anomalies.", plan=PLAN),
        code_reply(CODE, thought="Search, then flag the prices."),
        planner_reply(ANSWER, send_to=USER, stop="Completed", plan=PLAN, step="2. Report the result"),
    ]
    with FakeOpenAIServer(replies) as server:
        done = weaver(
            project,
            "run",
            "which lamps under 100 euros have unusual prices?",
            "--json",
            OPENAI_API_KEY="sk-test",
            OPENAI_BASE_URL=server.base_url,
            WEAVER_LLM__MODEL="fake-model",
        )
    assert done.returncode == 0, done.stderr
    # speech2text's missing whisper, the bundled sql_pull_data nobody configured: nothing to say
    # (the one warning is that the folder has no weaver.toml: a TaskWeaver project has none)
    warned = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert [w for w in warned if "plugin" in w or "whisper" in w] == [], done.stderr
    assert len(warned) <= 1 and all("weaver.toml" in w for w in warned), warned
    round = from_json(done.stdout, Round)
    assert (round.state, round.answer) == (RoundState.finished, ANSWER), round.reason

    # the plugins ran with the YAML's signature, the function's real defaults and the blank config
    (report,) = [p for p in round.posts if p.send_from == "CodeInterpreter"]
    result = report.attachment(AttachmentType.execution_result)
    assert result is not None and report.attachment(AttachmentType.execution_status).content == "ok"
    assert result.extra["stdout"] == (
        "4 products matching 'lamp' between 0 and 100 euros "
        "(api_type=openai; blank: api_base, api_key, api_version, deployment_name)\n"
        "There are 0 anomalies in 4 values\n"
    )
    assert result.extra["plugin_calls"] == {"catalog_search": 1, "anomaly_detection": 1}
    assert "reading lamp" in result.content and "Is_Anomaly" in result.content

    (ci_prompt,) = requests_of(server, "CodeInterpreter")
    system = ci_prompt[0]["content"]
    assert (
        "def catalog_search(query: str, size: int = 5, min_price: int = 0, max_price: int = 1000)"
        " -> tuple[DataFrame, str]:" in system
    )
    assert (
        "def anomaly_detection(df: DataFrame, time_col_name: str, value_col_name: str) -> tuple[DataFrame, str]:"
        in system
    )
    assert "flag_column" not in system  # the shadowed extension plugin's signature is nowhere
    assert "speech2text" not in system and "sql_pull_data" not in system
    # the code generator example, as turns before the conversation
    assert ci_prompt[1] == {"role": "user", "content": f"{EXAMPLE_START}\n\nPlanner: hello"}
    assert json.loads(ci_prompt[2]["content"]) == {
        "thought": "",
        "reply_type": "text",
        "reply_content": "Hello! I write Python that uses the shop's plugins to answer questions.",
    }
    assert ci_prompt[3]["content"] == "Planner: Search the catalog for chairs priced at most 200 euros and count them"
    assert json.loads(ci_prompt[4]["content"]) == {
        "thought": "CodeInterpreter will call catalog_search with the price range.\n"
        "CodeInterpreter ends the code with the count so that it is shown.",
        "reply_type": "python",
        "reply_content": 'chairs, description = catalog_search("chair", 10, 0, 200)\nlen(chairs)',
    }
    current = ci_prompt[5]["content"]
    assert current.startswith(f"Execution result:\n1\n\n{CURRENT_START}\n\n# The plan\n")
    assert current.endswith(
        "# Request from Planner\nSearch the catalog for lamps of at most 100 euros and flag price anomalies."
    )
    assert [m["role"] for m in ci_prompt[1:6]] == ["user", "assistant", "user", "assistant", "user"]

    # the planner example, as turns in the Planner's prompt
    planner_prompt = requests_of(server, "Planner")[0]
    contents = [m["content"] for m in planner_prompt]
    start = contents.index(
        "A new conversation starts here.\n\nUser: how many chairs does the catalog have under 200 euros?"
    )
    assert planner_prompt[start + 1]["role"] == "assistant"
    assert json.loads(contents[start + 1]) == {
        "plan_reasoning": "The catalog is reached through the CodeInterpreter's plugins; "
        "searching and counting can be one step.",
        "init_plan": "1. Search the catalog for chairs of at most 200 euros\n"
        "2. Count the products found <sequentially depends on 1>\n"
        "3. Report the count to the user <interactively depends on 2>",
        "plan": "1. Search the catalog for chairs of at most 200 euros and count them\n2. Report the count to the user",
        "current_plan_step": "1. Search the catalog for chairs of at most 200 euros and count them",
        "stop": "InProcess",
        "send_to": "CodeInterpreter",
        "message": "Search the catalog for chairs priced at most 200 euros and count them",
    }
    assert contents[start + 2] == "CodeInterpreter: 1 product matches 'chair' between 0 and 200 euros"
    assert json.loads(contents[start + 3])["stop"] == "Completed"
    assert contents[-1] == "A new conversation starts here.\n\nUser: which lamps under 100 euros have unusual prices?"
    assert not (project / "weaver.toml").exists()  # nothing was added to the project


def test_the_listing_and_doctor_show_where_each_plugin_comes_from(project: Path) -> None:
    done = weaver(project, "plugins", "--json")
    assert done.returncode == 0 and done.stderr == "", done.stderr
    rows = {(r["name"], r["origin"]): r for r in json.loads(done.stdout)["plugins"]}
    assert {key: row["status"] for key, row in rows.items()} == {
        ("anomaly_detection", "taskweaver"): "loaded",
        ("anomaly_detection", "extension"): "shadowed",
        ("catalog_search", "taskweaver"): "loaded",
        ("speech2text", "taskweaver"): "disabled",
        ("sql_pull_data", "extension"): "not_configured",
    }
    shadowed = rows[("anomaly_detection", "extension")]
    assert shadowed["detail"] == (
        f"by {project / 'plugins' / 'anomaly_detection.yaml'}: the project's own plugin of that name wins"
    )
    assert shadowed["distribution"].startswith("weaver-data-plugins ") and shadowed["severity"] == "warn"
    assert rows[("speech2text", "taskweaver")]["detail"] == "enabled: false in speech2text.yaml"

    text = weaver(project, "plugins").stdout
    assert "anomaly_detection  shadowed        extension data_plugins (weaver-data-plugins" in text
    assert "catalog_search     loaded          plugins/catalog_search.yaml (TaskWeaver YAML)" in text

    doctor = weaver(project, "doctor", "--json")
    checks = {row["name"]: row for row in json.loads(doctor.stdout) if row["name"].startswith("plugin ")}
    assert doctor.returncode == 0, doctor.stdout
    assert {name: row["status"] for name, row in checks.items()} == {
        "plugin anomaly_detection (TaskWeaver YAML)": "ok",
        "plugin anomaly_detection (extension data_plugins)": "warn",
        "plugin catalog_search": "ok",
        "plugin speech2text": "info",
        "plugin sql_pull_data": "info",
    }
