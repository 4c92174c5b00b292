"""The retry guard in real rounds: a real kernel, the real LLM client over HTTP to the fake
server, the real code pipeline. The test role writes no code itself: the model's scripted
replies are the code, and the role retries whatever fails, ignoring stops on purpose, so the
guard's own enforcement is what ends the loop."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest

import weaver_retry_guard
from weaver.execution.result import ErrorInfo, ExecutionResult
from weaver.extensions import Hooks
from weaver.hookspecs import hookimpl
from weaver.model import USER, AttachmentType, Post, RoundState
from weaver.roles import RoleContext
from weaver.specs import RoleSpec
from weaver.testing import FakeOpenAIServer

pytestmark = pytest.mark.slow

MISSING = "import pyarrow_is_not_installed_here"


class Stubborn:
    """Asks the model for code and runs it until the model says DONE, whatever a guard says."""

    runs: ClassVar[list[Any]] = []

    async def reply(self, ctx: RoleContext) -> Post:
        while True:
            code = (await ctx.llm.chat([{"role": "user", "content": ctx.post.message}])).text
            if code == "DONE":
                post = ctx.new_post(send_to=ctx.post.send_from)
                post.message_delta("done")
                return post.build()
            Stubborn.runs.append(await ctx.run_code(code))


class Polite(Stubborn):
    """Like :class:`Stubborn`, but reports back as soon as a guard stops the work."""

    async def reply(self, ctx: RoleContext) -> Post:
        while True:
            code = (await ctx.llm.chat([{"role": "user", "content": ctx.post.message}])).text
            run = await ctx.run_code(code)
            Stubborn.runs.append(run)
            if run.ok or run.stopped is not None:
                post = ctx.new_post(send_to=ctx.post.send_from)
                post.message_delta(run.stopped.message if run.stopped else "done")
                return post.build()


class Planner:
    """Hands out ``steps`` in order to Polite, one per post, then answers the User."""

    steps: ClassVar[list[str]] = []

    async def reply(self, ctx: RoleContext) -> Post:
        handed = sum(1 for p in ctx.round.posts if p.send_from == "Planner")
        if handed >= len(Planner.steps):
            post = ctx.new_post(send_to=USER)
            post.message_delta(ctx.post.message)
            return post.build()
        post = ctx.new_post(send_to="Polite")
        post.attach(AttachmentType.current_plan_step, Planner.steps[handed])
        post.message_delta(f"do {Planner.steps[handed]}")
        return post.build()


@hookimpl
def _roles() -> list[RoleSpec]:
    return [
        RoleSpec(name="stubborn", alias="Stubborn", factory=Stubborn, description="Runs code."),
        RoleSpec(name="polite", alias="Polite", factory=Polite, description="Runs code, reports stops."),
        RoleSpec(name="planner", alias="Planner", factory=Planner, description="Hands out steps."),
    ]


@hookimpl
def _verify(code: str, mode: Any, plugins: Any) -> list[Any]:
    return []


test_roles = SimpleNamespace(weaver_roles=_roles, weaver_verify_code=_verify)


@pytest.fixture
def session(make_app: Any, register_plugin: Any, fake_llm: FakeOpenAIServer, tmp_path: Path) -> Any:
    Stubborn.runs.clear()
    register_plugin(test_roles)
    register_plugin(weaver_retry_guard)
    app = make_app(tmp_path, session={"roles": ["stubborn"]}, llm=fake_llm.llm_config(), execution={"pool_size": 0})
    return app.session()


def test_the_third_identical_error_stops_the_step_and_the_next_llm_call_ends_the_round(
    session: Any, fake_llm: FakeOpenAIServer
) -> None:
    fake_llm.add(MISSING, f"x = 1\n{MISSING}", f"import os\n{MISSING}", "DONE")
    done = session.send_message("load the parquet file")

    assert [run.status for run in Stubborn.runs] == ["error", "error", "error"]
    stop = Stubborn.runs[2].stopped
    assert stop is not None and stop.source == "retry_guard"
    assert "failed 3 times in a row with ModuleNotFoundError" in stop.message and "likely environmental" in stop.message
    assert done.state is RoundState.failed
    assert "assigned again after the circuit breaker stopped it" in done.reason
    assert len(fake_llm.requests) == 3


def test_a_success_in_between_resets_the_count(session: Any, fake_llm: FakeOpenAIServer) -> None:
    fake_llm.add(MISSING, MISSING, "y = 1", MISSING, MISSING, "z = 2", MISSING, "DONE")
    assert session.send_message("first").state is RoundState.finished
    assert [run.status for run in Stubborn.runs] == ["error", "error", "ok", "error", "error", "ok", "error"]
    assert all(run.stopped is None for run in Stubborn.runs)


@pytest.fixture
def planned(make_app: Any, register_plugin: Any, fake_llm: FakeOpenAIServer, tmp_path: Path) -> Any:
    Stubborn.runs.clear()
    register_plugin(test_roles)
    register_plugin(weaver_retry_guard)
    app = make_app(tmp_path, session={"roles": ["planner", "polite"]}, llm=fake_llm.llm_config(), execution={"pool_size": 0})
    return app.session()


def test_a_planner_that_routes_around_the_tripped_step_goes_on(planned: Any, fake_llm: FakeOpenAIServer) -> None:
    Planner.steps = ["1. load the parquet file", "2. load the csv file instead"]
    fake_llm.add(MISSING, MISSING, MISSING, "data = [1, 2, 3]")
    done = planned.send_message("load it")
    assert done.state is RoundState.finished and done.answer == "done"
    assert [run.status for run in Stubborn.runs] == ["error", "error", "error", "ok"]
    tripped = next(p for p in done.posts if p.send_from == "Polite")
    assert tripped.message.startswith("Circuit breaker: step '1. load the parquet file' failed 3 times")


def test_a_planner_that_hands_out_the_tripped_step_again_ends_the_round(planned: Any, fake_llm: FakeOpenAIServer) -> None:
    Planner.steps = ["1. load the parquet file", "1. load the parquet file"]
    fake_llm.add(MISSING, MISSING, MISSING, "never sent")
    done = planned.send_message("load it")
    assert done.state is RoundState.failed and "assigned again after the circuit breaker" in done.reason
    assert len(fake_llm.requests) == 3 and len(Stubborn.runs) == 3


def test_hook_weaver_after_execute(weaver_pm: Any, register_plugin: Any, make_app: Any) -> None:
    """Called directly through the facade with real results: the third identical error trips."""
    register_plugin(weaver_retry_guard)
    app = make_app(session={"roles": []})
    hooks = Hooks(weaver_pm)
    failed = ExecutionResult(ok=False, outcome="error", error=ErrorInfo("KeyError", "'revenue_usd'", ""))
    ctx = app.session().hook_context("CodeInterpreter", step="2. sum revenue")
    outcomes = [hooks.after_execute("df['revenue_usd']", failed, ctx) for _ in range(3)]
    assert [o.stopped is None for o in outcomes] == [True, True, False]
    assert "schema mismatch" in outcomes[2].stopped.message
