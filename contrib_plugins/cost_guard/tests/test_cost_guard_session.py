"""The cost guard in real sessions: the real engine and LLM client over HTTP to the fake server,
a role that makes a given number of calls, budgets that stop it; and ``weaver cost`` in a real
subprocess reading the session's log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import weaver_cost_guard
from weaver.hookspecs import hookimpl
from weaver.model import USER, Post, RoundState
from weaver.roles import RoleContext
from weaver.specs import RoleSpec
from weaver.testing import FakeOpenAIServer
from weaver.testing.fake_openai import FakeReply


class Caller:
    """Calls the model as many times as the user's message says, then answers."""

    async def reply(self, ctx: RoleContext) -> Post:
        replies = [(await ctx.llm.chat([{"role": "user", "content": f"call {n}"}])).text for n in range(int(ctx.post.message))]
        post = ctx.new_post(send_to=USER)
        post.message_delta(" ".join(replies))
        return post.build()


@hookimpl
def _roles() -> list[RoleSpec]:
    return [RoleSpec(name="caller", alias="Caller", factory=Caller, description="Calls the model.")]


caller_role = SimpleNamespace(weaver_roles=_roles)


@pytest.fixture
def start(make_app: Any, register_plugin: Any, fake_llm: FakeOpenAIServer) -> Any:
    def make(guarded: bool = True, **limits: Any) -> Any:
        register_plugin(caller_role)
        if guarded:
            register_plugin(weaver_cost_guard)
        return make_app(session={"roles": ["caller"]}, llm=fake_llm.llm_config(), **({"cost_guard": limits} if guarded else {}))

    return make


def usage(prompt: int, completion: int) -> FakeReply:
    return FakeReply("ok", prompt_tokens=prompt, completion_tokens=completion)


def test_the_token_budget_stops_before_the_call_that_would_exceed_it(start: Any, fake_llm: FakeOpenAIServer) -> None:
    fake_llm.add(*[usage(400, 100) for _ in range(4)])
    session = start(max_session_tokens=1100).session()
    rounds = [session.send_message("1") for _ in range(4)]

    # Round 3's call fits (1,000 spent + a few prompt tokens) and its reply goes past the
    # budget; that call in flight is the only overrun, and round 4 is refused before calling.
    assert [r.state for r in rounds] == [RoundState.finished] * 3 + [RoundState.failed]
    assert rounds[3].reason.startswith("Cost guard stopped the Caller's next LLM call: the session's token budget")
    assert "1,500 of 1,100 tokens are spent" in rounds[3].reason and "3 finished round(s)" in rounds[3].reason
    assert len(fake_llm.requests) == 3
    assert session.usage.total_tokens - 1100 <= 500


def test_llm_calls_per_round_are_capped_and_the_count_starts_again_each_round(start: Any, fake_llm: FakeOpenAIServer) -> None:
    fake_llm.add(*[usage(10, 1) for _ in range(6)])
    session = start(max_round_llm_calls=3).session()

    looping = session.send_message("5")
    assert looping.state is RoundState.failed and "this round has made its 3 LLM calls" in looping.reason
    assert len(fake_llm.requests) == 3
    again = session.send_message("3")
    assert again.state is RoundState.finished and len(fake_llm.requests) == 6


def test_rounds_per_session_are_capped(start: Any, fake_llm: FakeOpenAIServer) -> None:
    fake_llm.add(*[usage(10, 1) for _ in range(2)])
    session = start(max_session_rounds=2).session()
    states = [session.send_message("1").state for _ in range(3)]
    assert states == [RoundState.finished, RoundState.finished, RoundState.failed]
    assert "this session has had its 2 rounds" in session.rounds[-1].reason
    assert len(fake_llm.requests) == 2


def test_a_healthy_session_is_never_stopped(start: Any, fake_llm: FakeOpenAIServer) -> None:
    fake_llm.add(*[usage(400, 100) for _ in range(4)])
    session = start().session()
    assert all(session.send_message("2").state is RoundState.finished for _ in range(2))
    assert session.usage.total_tokens == 2000


def test_without_the_guard_no_budget_applies(start: Any, fake_llm: FakeOpenAIServer) -> None:
    fake_llm.add(*[usage(400, 100) for _ in range(6)])
    session = start(guarded=False).session()
    assert session.send_message("6").state is RoundState.finished
    assert session.usage.total_tokens == 3000


def test_money_budget_uses_the_configured_prices(make_app: Any, register_plugin: Any, fake_llm: FakeOpenAIServer) -> None:
    register_plugin(caller_role)
    register_plugin(weaver_cost_guard)
    fake_llm.add(*[usage(1000, 1000) for _ in range(3)])
    llm = fake_llm.llm_config(input_price_per_million=1000.0, output_price_per_million=2000.0)
    session = make_app(session={"roles": ["caller"]}, llm=llm, cost_guard={"max_session_cost": 3.0}).session()
    assert session.send_message("1").state is RoundState.finished
    stopped = session.send_message("1")
    assert stopped.state is RoundState.failed and "money budget" in stopped.reason
    assert session.usage.cost == pytest.approx(3.0)


def test_weaver_cost_reports_per_role_round_and_model(make_app: Any, register_plugin: Any, fake_llm: FakeOpenAIServer, tmp_path: Path) -> None:
    register_plugin(caller_role)
    fake_llm.add(*[usage(300, 50) for _ in range(3)])
    llm = fake_llm.llm_config(input_price_per_million=1000.0, output_price_per_million=2000.0)
    app = make_app(tmp_path, session={"roles": ["caller"]}, llm=llm)
    session = app.session()
    session.send_message("1")
    session.send_message("2")
    session.close()

    environ = {k: v for k, v in os.environ.items() if not k.startswith(("WEAVER_", "OPENAI_"))}
    environ.update(WEAVER_CONFIG=str(tmp_path / "none.toml"), WEAVER_LOAD_EXTENSIONS="cost_guard")

    def cost(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "weaver.cli", "-p", str(tmp_path), "cost", *args],
            capture_output=True, text=True, env=environ, timeout=120, check=False,
        )

    as_json = cost(session.id, "--json")
    assert as_json.returncode == 0, as_json.stderr
    report = json.loads(as_json.stdout)
    assert report["total"]["llm_calls"] == 3 and report["total"]["prompt_tokens"] == 900
    assert report["total"]["cost"] == pytest.approx(0.9 + 0.3)
    assert report["by_role"]["Caller"]["completion_tokens"] == 150
    assert [report["by_round"][r["id"]]["llm_calls"] for r in report["rounds"]] == [1, 2]
    assert list(report["by_model"]) == ["fake-model"]

    table = cost(session.id)
    assert table.returncode == 0, table.stderr
    assert table.stdout.startswith(f"session {session.id}: 3 LLM calls, 900 prompt and 150 completion tokens, cost 1.2000")
    assert "per round:" in table.stdout and "2. 2" in table.stdout and "per model:" in table.stdout

    missing = cost("session-nope")
    assert missing.returncode == 2 and "no session 'session-nope'" in missing.stderr
