"""The code-first half end to end: the real Planner and CodeInterpreter, the real ``openai``
client over HTTP to the fake server, the default verifier, real plugins and a real kernel.
Only the models' words are scripted."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

import weaver_code_interpreter
import weaver_code_verifier
import weaver_data_plugins
import weaver_planner
from weaver.events import Event, EventType
from weaver.model import USER, AttachmentType, Post, Round, RoundState
from weaver.testing import FakeOpenAIServer

pytestmark = pytest.mark.slow

CI = "CodeInterpreter"


def planner(message: str, send_to: str = CI, stop: str = "InProcess", step: str = "1. Do the task") -> str:
    return json.dumps(
        {
            "plan_reasoning": "Working on the request.",
            "init_plan": "1. Do the task\n2. Report the result <interactively depends on 1>",
            "plan": "1. Do the task\n2. Report the result",
            "current_plan_step": step,
            "stop": stop,
            "send_to": send_to,
            "message": message,
        }
    )


def code(content: str, thought: str = "Write the code for the step.") -> str:
    return json.dumps({"thought": thought, "reply_type": "python", "reply_content": content})


def ci_requests(server: FakeOpenAIServer) -> list[list[dict[str, str]]]:
    """The message lists of the CodeInterpreter's LLM calls, in order."""
    return [r["messages"] for r in server.requests if r["messages"][0]["content"].startswith(f"You are {CI}.")]


def ci_posts(round: Round) -> list[Post]:
    return [p for p in round.posts if p.send_from == CI]


def content(post: Post, kind: AttachmentType) -> str:
    item = post.attachment(kind)
    assert item is not None, f"no {kind.value} attachment on {post}"
    return item.content


@pytest.fixture
def start(make_app: Any, register_plugin: Any, fake_llm: FakeOpenAIServer, tmp_path: Path) -> Any:
    """``start(*replies, **config)``: an App with the Planner, the CodeInterpreter, the
    verifier and the data plugins on the fake server; returns it and its event list."""
    for extension in (weaver_planner, weaver_code_interpreter, weaver_code_verifier, weaver_data_plugins):
        register_plugin(extension)
    (tmp_path / "data.csv").write_text("item,price,qty\napple,10,1\npear,20,2\nplum,30,3\n")

    def make(*replies: str, **config: Any) -> tuple[Any, list[Event]]:
        fake_llm.add(*replies)
        config.setdefault("llm", fake_llm.llm_config())
        config.setdefault("execution", {"pool_size": 0})
        config.setdefault("planner", {"use_examples": False})
        app = make_app(tmp_path, session={"roles": ["planner", "code_interpreter"]}, **config)
        events: list[Event] = []
        app.subscribe(events.append)
        return app, events

    return make


def test_mean_of_a_column_end_to_end(start: Any, fake_llm: FakeOpenAIServer, tmp_path: Path) -> None:
    app, events = start(
        planner("Load data.csv and give the mean of the price column."),
        code("import pandas as pd\ndf = pd.read_csv('data.csv')\ndf['price'].mean()"),
        planner("The mean price is 20.0.", send_to=USER, stop="Completed", step="2. Report the result"),
    )
    round = app.session().send_message(
        "Load data.csv and give the mean of the price column", files=[tmp_path / "data.csv"]
    )

    assert round.state is RoundState.finished, round.reason
    assert [(p.send_from, p.send_to) for p in round.posts] == [
        (USER, "Planner"),
        ("Planner", CI),
        (CI, "Planner"),
        ("Planner", USER),
    ]
    (report,) = ci_posts(round)
    assert content(report, AttachmentType.execution_status) == "ok"
    assert "20.0" in content(report, AttachmentType.execution_result)
    assert report.attachment(AttachmentType.execution_result).extra["value_repr"].endswith("20.0)")
    assert content(report, AttachmentType.verification) == "passed"
    assert "df['price'].mean()" in content(report, AttachmentType.reply_content)
    # the value reached the Planner's prompt, and the Planner's answer went to the user
    assert "20.0" in fake_llm.requests[-1]["messages"][-1]["content"]
    assert round.answer == "The mean price is 20.0."
    # the CodeInterpreter's prompt had the plan, the user's file and the request
    (prompt,) = ci_requests(fake_llm)
    assert "# The plan\n1. Do the task" in prompt[-1]["content"] and "- data.csv" in prompt[-1]["content"]
    # the reply's fields streamed into the post while the model wrote them
    streamed = {e.data["type"] for e in events if e.type is EventType.attachment_delta and e.post_id == report.id}
    assert streamed == {"thought", "reply_type", "reply_content"}


def test_a_wrong_column_is_corrected_from_the_error_feedback(
    start: Any, fake_llm: FakeOpenAIServer, tmp_path: Path
) -> None:
    app, events = start(
        planner("Give the mean of the price column of data.csv."),
        code("import pandas as pd\ndf = pd.read_csv('data.csv')\ndf['prize'].mean()"),
        code("df['price'].mean()", thought="The column is called price; df is already loaded."),
        planner("The mean price is 20.0.", send_to=USER, stop="Completed"),
    )
    round = app.session().send_message("mean price?", files=[tmp_path / "data.csv"])

    assert round.state is RoundState.finished, round.reason
    _, second = ci_requests(fake_llm)
    feedback = second[-1]["content"]
    assert "KeyError: 'prize'" in feedback and "Fix the code" in feedback
    assert second[-2] == {
        "role": "assistant",
        "content": code("import pandas as pd\ndf = pd.read_csv('data.csv')\ndf['prize'].mean()"),
    }
    (report,) = ci_posts(round)
    assert content(report, AttachmentType.execution_status) == "ok"
    assert "20.0" in content(report, AttachmentType.execution_result)
    assert "KeyError" in content(report, AttachmentType.revise_message)
    assert len([e for e in events if e.type is EventType.execution]) == 2


def test_three_failures_hand_the_planner_the_last_error_and_the_next_step_starts_afresh(
    start: Any, fake_llm: FakeOpenAIServer
) -> None:
    app, _ = start(
        planner("Sum the column a of the frame t."),
        code("t = {'x': 1}\nt['a']"),
        code("t['b']"),
        code("t['c']"),
        planner("Then just compute 6 * 7.", step="2. Compute the product"),
        code("6 * seven"),
        code("6 * 7"),
        planner("The frame has no column a; 6 * 7 is 42.", send_to=USER, stop="TaskFailure"),
        code_interpreter={"max_retries": 2},
    )
    round = app.session().send_message("sum a, then 6*7")

    assert round.state is RoundState.finished, round.reason
    failed, succeeded = ci_posts(round)
    assert len(ci_requests(fake_llm)) == 5  # 3 attempts (1 + max_retries) then 2: no off-by-one
    assert content(failed, AttachmentType.execution_status) == "error"
    assert content(failed, AttachmentType.code_error) == "KeyError: 'c'"
    assert "still failed after 3 attempts ([code_interpreter] max_retries = 2)" in failed.message
    assert "KeyError: 'c'" in failed.message and "t['c']" in failed.message
    planner_prompt = fake_llm.requests[4]["messages"][-1]["content"]
    assert "KeyError: 'c'" in planner_prompt
    # the second step got its own retries although the first one used them all
    assert content(succeeded, AttachmentType.execution_status) == "ok"
    assert "42" in content(succeeded, AttachmentType.execution_result)


def test_a_verification_violation_is_corrected_on_retry(start: Any, fake_llm: FakeOpenAIServer, tmp_path: Path) -> None:
    app, events = start(
        planner("List the CSV files in the working directory."),
        code("import os\nsorted(f for f in os.listdir('.') if f.endswith('.csv'))"),
        code("from pathlib import Path\nsorted(p.name for p in Path('.').glob('*.csv'))"),
        planner("There is one CSV file: data.csv.", send_to=USER, stop="Completed"),
    )
    round = app.session().send_message("which csv files are there?", files=[tmp_path / "data.csv"])

    assert round.state is RoundState.finished, round.reason
    feedback = ci_requests(fake_llm)[1][-1]["content"]
    assert feedback.startswith("The code was NOT run: the verifier found 1 problem:")
    assert "[import-not-allowed] line 1: importing 'os' is not allowed" in feedback
    executions = [e for e in events if e.type is EventType.execution]
    assert len(executions) == 1  # the blocked attempt never reached the kernel
    (report,) = ci_posts(round)
    assert "['data.csv']" in content(report, AttachmentType.execution_result)


def _sales_db(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE sales (region TEXT, amount REAL)")
        db.executemany(
            "INSERT INTO sales VALUES (?, ?)", [("north", 10.0), ("south", 5.5), ("north", 4.5), ("east", 900.0)]
        )


def test_a_plugin_dataframe_is_used_by_the_next_rounds_code(
    start: Any, fake_llm: FakeOpenAIServer, tmp_path: Path
) -> None:
    (tmp_path / "data").mkdir()  # a project folder the kernel sees ([execution] project_files)
    _sales_db(tmp_path / "data" / "sales.db")
    app, _ = start(
        planner("Pull the sales table."),
        code("sales = sql_pull_data('SELECT region, amount FROM sales')\nsales.shape"),
        planner("The sales table has 4 rows.", send_to=USER, stop="Completed"),
        planner("Flag unusual amounts in the sales already loaded, and total the rest."),
        code("flagged = anomaly_detection(sales, 'amount')\nflagged.loc[~flagged['is_anomaly'], 'amount'].sum()"),
        planner("Without the outlier the total is 20.0.", send_to=USER, stop="Completed"),
        plugins={"config": {"sql_pull_data": {"db_path": "data/sales.db"}}},
    )
    session = app.session()
    first = session.send_message("load the sales")
    assert first.state is RoundState.finished, first.reason
    assert "(4, 2)" in content(ci_posts(first)[0], AttachmentType.execution_result)

    second = session.send_message("flag outliers and total the rest")
    assert second.state is RoundState.finished, second.reason
    (report,) = ci_posts(second)
    assert content(report, AttachmentType.execution_status) == "ok"
    assert "20.0" in content(report, AttachmentType.execution_result)
    assert report.attachment(AttachmentType.execution_result).extra["plugin_calls"] == {"anomaly_detection": 1}
    # the second round's prompt told the model that `sales` is already in the kernel
    prompt = ci_requests(fake_llm)[-1]
    assert "- sales (DataFrame" in prompt[-1]["content"]
    system = prompt[0]["content"]
    assert (
        "def sql_pull_data(query: str, params: list | dict | None = None, limit: int | None = 10000) -> pd.DataFrame:"
        in system
    )
    assert "def anomaly_detection(df: pd.DataFrame, column: str," in system


TASKWEAVER_YAML = """\
name: word_stats
enabled: true
required: false
description: >-
  word_stats counts the words of a text that are at least min_length long and
  returns the count and the longest word.
examples: |-
  count, longest = word_stats("the quick brown fox", min_length=2)
parameters:
  - name: text
    type: str
    required: true
    description: the text to analyse.
  - name: min_length
    type: int
    required: false
    default: 1
    description: shorter words are ignored.
returns:
  - name: count
    type: int
    description: how many words are long enough.
  - name: longest
    type: str
    description: the longest word.
configurations:
  case: lower
"""

TASKWEAVER_PY = """\
from taskweaver.plugin import Plugin, register_plugin


@register_plugin
class WordStats(Plugin):
    def __call__(self, text: str, min_length: int = 1):
        words = [w for w in text.split() if len(w) >= min_length]
        if self.config.get("case") == "upper":
            words = [w.upper() for w in words]
        self.log("info", f"{len(words)} words")
        return len(words), max(words, key=len) if words else ""
"""


def test_a_taskweaver_format_plugin_loads_and_runs(start: Any, fake_llm: FakeOpenAIServer, tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "word_stats.yaml").write_text(TASKWEAVER_YAML)
    (plugins / "word_stats.py").write_text(TASKWEAVER_PY)
    app, _ = start(
        planner("Count the words of 'the quick brown fox' that have at least 2 letters."),
        code("count, longest = word_stats('the quick brown fox', min_length=2)\ncount, longest"),
        planner("4 words; the longest is QUICK.", send_to=USER, stop="Completed"),
        plugins={"config": {"word_stats": {"case": "upper"}}},
    )
    round = app.session().send_message("count the words")

    assert round.state is RoundState.finished, round.reason
    (report,) = ci_posts(round)
    result = content(report, AttachmentType.execution_result)
    assert "(4, 'QUICK')" in result
    assert "[word_stats] INFO: Plugin-word_stats: 4 words" in result
    system = ci_requests(fake_llm)[0][0]["content"]
    assert "def word_stats(text: str, min_length: int = 1) -> tuple[int, str]:" in system
    assert "upper" not in system  # config values never reach the prompt


PLUGIN_ONLY_PY = """\
from __future__ import annotations

import weaver


@weaver.plugin
def summarize(values: list, skip_none: bool = False, label: str | None = None) -> dict:
    \"\"\"Count and total a list of numbers.

    Args:
        values: the numbers (None allowed).
        skip_none: leave None out instead of counting it as 0.
        label: a name for the summary.
    \"\"\"
    kept = [v for v in values if v is not None] if skip_none else [v or 0 for v in values]
    return {"label": label, "count": len(kept), "total": sum(kept)}
"""


def test_plugin_only_mode_rejects_code_and_runs_plugin_calls_with_true_and_none(
    start: Any, fake_llm: FakeOpenAIServer, tmp_path: Path
) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "summaries.py").write_text(PLUGIN_ONLY_PY)
    app, events = start(
        planner("Summarize the numbers 1, None and 3, skipping None."),
        code("import statistics\nstatistics.fmean([1, 3])"),
        code("info = summarize([1, null, 3], skip_none=true)\ninfo"),
        code("info = summarize([1, None, 3], skip_none=True, label=None)\ninfo"),
        planner("2 numbers, total 4.", send_to=USER, stop="Completed"),
        code_interpreter={"plugin_only": True},
    )
    round = app.session().send_message("summarize 1, None, 3")

    assert round.state is RoundState.finished, round.reason
    requests = ci_requests(fake_llm)
    assert "# Plugin-only mode" in requests[0][0]["content"]
    first_feedback, second_feedback = requests[1][-1]["content"], requests[2][-1]["content"]
    assert "[plugin-only]" in first_feedback and "may call only: anomaly_detection, summarize" in first_feedback
    assert "[json-literal]" in second_feedback
    assert "'null' is JSON, not Python: write None" in second_feedback
    assert "'true' is JSON, not Python: write True" in second_feedback
    (report,) = ci_posts(round)
    assert "{'label': None, 'count': 2, 'total': 4}" in content(report, AttachmentType.execution_result)
    assert len([e for e in events if e.type is EventType.execution]) == 1
