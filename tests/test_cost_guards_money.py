"""The money budget across processes and resumes, as a user drives it: the real Planner, the
memory compressor's between-round summaries and the cost guard, the real ``openai`` client over
HTTP to the fake server, a first round in this process and the next ones with
``weaver run --session ID`` in fresh subprocesses. What the server billed is the truth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from weaver.engine import App
from weaver.errors import ConfigError
from weaver.model import RoundState
from weaver.testing import FakeOpenAIServer
from weaver.testing.cli import run_weaver
from weaver.testing.fake_openai import FakeReply

pytestmark = pytest.mark.slow

LOAD = "planner,memory_compressor,cost_guard"
CALL_COST = 1000 * 1000 / 1e6 + 100 * 2000 / 1e6  # 1000 prompt, 100 completion tokens: 1.2


def respond(request: dict[str, Any]) -> FakeReply:
    if request["messages"][0]["content"].startswith("You keep the running summary"):
        text = "The User asked three questions about revenue; the totals were shown."
    else:
        text = json.dumps(
            {
                "plan_reasoning": "A direct answer.",
                "init_plan": "1. Answer",
                "plan": "1. Answer",
                "current_plan_step": "1. Answer",
                "stop": "Completed",
                "send_to": "User",
                "message": "Revenue was 1,234.",
            }
        )
    return FakeReply(text, prompt_tokens=1000, completion_tokens=100)


def project(tmp_path: Path, server: FakeOpenAIServer, budget: float, **extra: str) -> Path:
    lines = [
        "[llm]",
        f'base_url = "{server.base_url}"',
        'api_key = "test"',
        f'model = "{server.model}"',
        "input_price_per_million = 1000.0",
        "output_price_per_million = 2000.0",
        "[session]",
        'roles = ["planner"]',
        "[planner]",
        "use_examples = false",
        "[cost_guard]",
        f"max_session_cost = {budget}",
        *(f"{key} = {value}" for key, value in extra.items()),
    ]
    (tmp_path / "weaver.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path


def app_in(path: Path) -> App:
    return App(path, environ={"WEAVER_LOAD_EXTENSIONS": LOAD, "WEAVER_CONFIG": str(path / "none.toml")})


def test_the_budget_holds_across_a_resume_and_other_processes_and_weaver_cost_is_what_was_billed(tmp_path: Path) -> None:
    with FakeOpenAIServer(respond) as server:
        path = project(tmp_path, server, budget=6.0)
        with app_in(path) as app:
            session = app.session()
            assert session.send_message("revenue in January?").state is RoundState.finished
            assert session.send_message("and in February?").state is RoundState.finished
            session_id = session.id
        # Round 2 kept round 1 verbatim, so no summary was due yet.
        assert len(server.served) == 2

        runs = []
        while len(runs) < 5 and (not runs or runs[-1].returncode == 0):
            runs.append(run_weaver("run", "and in March?", "--session", session_id, "--json", cwd=path, load=LOAD))
        # The refused round's end may still afford a cheap summary; after it, nothing more fits.
        served = len(server.served)
        runs.append(run_weaver("run", "and in April?", "--session", session_id, "--json", cwd=path, load=LOAD))
        assert len(server.served) == served
        cost = run_weaver("cost", session_id, "--json", cwd=path, load=LOAD)

    billed = sum(u["prompt_tokens"] * 1000 / 1e6 + u["completion_tokens"] * 2000 / 1e6 for u in server.served)
    # Each later process resumed the session: it counted every earlier call, the summaries
    # made between rounds by other processes included, so the last one, refused, says it
    # had spent exactly what the server billed, and the budget was passed by at most the
    # one call in flight.
    assert runs[0].returncode == 0 and runs[-1].returncode == 1, [r.stdout + r.stderr for r in runs]
    refused = json.loads(runs[-1].stdout)["reason"]
    assert "money budget would be exceeded" in refused
    assert f"{billed:.4f} of 6.0000 is spent" in refused
    assert billed <= 6.0 + CALL_COST
    assert cost.returncode == 0, cost.stderr
    report = json.loads(cost.stdout)
    assert report["total"]["llm_calls"] == len(server.served)
    assert report["total"]["prompt_tokens"] == sum(u["prompt_tokens"] for u in server.served)
    assert report["total"]["completion_tokens"] == sum(u["completion_tokens"] for u in server.served)
    assert report["total"]["cost"] == pytest.approx(billed)
    assert report["by_role"]["MemoryCompressor"]["llm_calls"] >= 1  # made by a subprocess, between rounds


def test_a_money_budget_without_a_price_is_an_error_at_start(tmp_path: Path) -> None:
    with FakeOpenAIServer(respond) as server:
        path = project(tmp_path, server, budget=0.5)
        text = (path / "weaver.toml").read_text().replace("input_price_per_million = 1000.0\n", "")
        (path / "weaver.toml").write_text(text.replace("output_price_per_million = 2000.0\n", ""))
        with pytest.raises(ConfigError) as caught:
            app_in(path)
        assert caught.value.table == "cost_guard" and "[llm] has none" in str(caught.value)
        cli = run_weaver("run", "hello", cwd=path, load=LOAD)
        assert cli.returncode != 0 and "needs a price for every model" in cli.stdout + cli.stderr


def test_with_missing_price_warn_every_uncounted_call_says_so(tmp_path: Path) -> None:
    with FakeOpenAIServer(respond) as server:
        path = project(tmp_path, server, budget=0.5, missing_price='"warn"')
        text = (path / "weaver.toml").read_text().replace("input_price_per_million = 1000.0\n", "")
        (path / "weaver.toml").write_text(text.replace("output_price_per_million = 2000.0\n", ""))
        with app_in(path) as app:
            events: list[Any] = []
            app.subscribe(events.append)
            done = app.session().send_message("hello")
        assert done.state is RoundState.finished
        warnings = [e.data["message"] for e in events if e.type.value == "status" and "does not count" in e.data["message"]]
        assert warnings and "has no price" in warnings[0]
