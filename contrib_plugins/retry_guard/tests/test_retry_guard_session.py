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
from weaver.specs import RoleSpec, Violation
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
    """A strict verifier: it refuses imports of modules whose name starts with ``forbidden_``."""
    if code.startswith("import forbidden_"):
        module = code.split()[1].removeprefix("forbidden_")
        return [Violation(1, "import-not-allowed", f"line 1: importing {module!r} is not allowed")]
    return []


test_roles = SimpleNamespace(weaver_roles=_roles, weaver_verify_code=_verify)


@pytest.fixture
def session(make_app: Any, register_plugin: Any, fake_llm: FakeOpenAIServer, tmp_path: Path) -> Any:
    Stubborn.runs.clear()
    register_plugin(test_roles)
    register_plugin(weaver_retry_guard)
    app = make_app(tmp_path, session={"roles": ["stubborn"]}, llm=fake_llm.llm_config(), execution={"pool_size": 0})
    return app.session()


def test_the_third_failure_stops_the_work_and_one_more_on_the_same_blocker_ends_the_round(
    session: Any, fake_llm: FakeOpenAIServer
) -> None:
    # Stubborn ignores the stop: the breaker itself must end the round.
    fake_llm.add(MISSING, f"x = 1\n{MISSING}", f"import os\n{MISSING}", f"y = 2\n{MISSING}", "never sent")
    done = session.send_message("load the parquet file")

    assert [run.status for run in Stubborn.runs] == ["error"] * 4
    stop = Stubborn.runs[2].stopped
    assert stop is not None and stop.source == "retry_guard"
    assert "3 attempts in a row failed on the same blocker" in stop.message
    assert "'pyarrow_is_not_installed_here' is not usable" in stop.message and "install" in stop.message
    assert "the round ends here" in Stubborn.runs[3].stopped.message
    assert done.state is RoundState.failed and "the round ends here" in done.reason
    assert len(fake_llm.requests) == 4


def test_a_success_in_between_resets_the_count(session: Any, fake_llm: FakeOpenAIServer) -> None:
    fake_llm.add(MISSING, MISSING, "y = 1", MISSING, MISSING, "z = 2", MISSING, "DONE")
    assert session.send_message("first").state is RoundState.finished
    assert [run.status for run in Stubborn.runs] == ["error", "error", "ok", "error", "error", "ok", "error"]
    assert all(run.stopped is None for run in Stubborn.runs)


def test_one_missing_package_under_two_exception_classes_and_a_refusal_is_one_blocker(
    session: Any, fake_llm: FakeOpenAIServer
) -> None:
    # ModuleNotFoundError, then ImportError for the same module, then the verifier's refusal.
    fake_llm.add(
        "import pyarrow_is_not_installed_here.parquet",
        "raise ImportError(\"Missing optional dependency 'pyarrow_is_not_installed_here'.\")",
        "import forbidden_pyarrow_is_not_installed_here",
        "DONE",
    )
    session.send_message("load the parquet file")
    assert [run.status for run in Stubborn.runs] == ["error", "error", "blocked"]
    assert Stubborn.runs[2].stopped is not None
    assert "'pyarrow_is_not_installed_here' is not usable" in Stubborn.runs[2].stopped.message


@pytest.fixture
def planned(make_app: Any, register_plugin: Any, fake_llm: FakeOpenAIServer, tmp_path: Path) -> Any:
    Stubborn.runs.clear()
    register_plugin(test_roles)
    register_plugin(weaver_retry_guard)
    app = make_app(tmp_path, session={"roles": ["planner", "polite"]}, llm=fake_llm.llm_config(), execution={"pool_size": 0})
    return app.session()


def test_a_planner_that_routes_around_the_blocker_goes_on(planned: Any, fake_llm: FakeOpenAIServer) -> None:
    Planner.steps = ["1. load the parquet file", "2. load the csv file instead"]
    fake_llm.add(MISSING, MISSING, MISSING, "data = [1, 2, 3]")
    done = planned.send_message("load it")
    assert done.state is RoundState.finished and done.answer == "done"
    assert [run.status for run in Stubborn.runs] == ["error", "error", "error", "ok"]
    tripped = next(p for p in done.posts if p.send_from == "Polite")
    assert tripped.message.startswith("Circuit breaker: 3 attempts in a row failed on the same blocker")


def test_a_planner_that_rewords_the_step_gets_one_more_attempt_then_the_round_ends(
    planned: Any, fake_llm: FakeOpenAIServer
) -> None:
    Planner.steps = ["1. load the parquet file", "1. read sales.parquet, differently", "1. try pyarrow once more"]
    fake_llm.add(MISSING, MISSING, MISSING, f"import json\n{MISSING}", "never sent")
    done = planned.send_message("load it")
    assert done.state is RoundState.failed and "the round ends here" in done.reason
    assert len(fake_llm.requests) == 4 and len(Stubborn.runs) == 4


def test_hook_weaver_after_execute(weaver_pm: Any, register_plugin: Any, make_app: Any) -> None:
    """Called directly through the facade with real results: the third identical error trips."""
    register_plugin(weaver_retry_guard)
    app = make_app(session={"roles": []})
    hooks = Hooks(weaver_pm)
    failed = ExecutionResult(ok=False, outcome="error", error=ErrorInfo("KeyError", "'revenue_usd'", ""))
    ctx = app.session().hook_context("CodeInterpreter", step="2. sum revenue")
    outcomes = [hooks.after_execute("df['revenue_usd']", failed, ctx) for _ in range(3)]
    assert [o.stopped is None for o in outcomes] == [True, True, False]
    assert "schema mismatch" in outcomes[2].stopped.message and "revenue_usd" in outcomes[2].stopped.message
