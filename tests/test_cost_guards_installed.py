"""The cost guards as installed distributions, loaded through the real entry points:
with all of them installed each has its effect; with one left out of ``WEAVER_LOAD_EXTENSIONS``
exactly its effect disappears and the others behave the same. Then one real round with the
real Planner, CodeInterpreter, verifier and kernel, where the circuit breaker ends a
persistent failure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import pytest

from weaver.engine import App
from weaver.execution.result import ErrorInfo, ExecutionResult
from weaver.llm import ChatMessage, LLMRequest
from weaver.memory import MemoryBudget
from weaver.model import USER, Post, Round, RoundState
from weaver.specs import PluginSpec, VerifyMode
from weaver.testing import FakeOpenAIServer

GUARDS = ("retry_guard", "feedback_trimmer", "loop_detector", "memory_compressor", "cost_guard")
BASE = ("planner", "code_interpreter", "code_verifier")


def app_with(tmp_path: Path, guards: tuple[str, ...], **config: Any) -> App:
    environ = {"WEAVER_LOAD_EXTENSIONS": ",".join((*BASE, *guards)), "WEAVER_CONFIG": str(tmp_path / "none.toml")}
    return App(tmp_path, environ=environ, execution={"pool_size": 0}, **config)


def effects(app: App) -> dict[str, bool]:
    """Whether each guard's effect shows, observed through the app's hooks with real values."""
    hooks, session = app.hooks, app.session()
    ctx = session.hook_context("CodeInterpreter", step="1. load")
    failed = ExecutionResult(ok=False, outcome="error", error=ErrorInfo("ModuleNotFoundError", "No module named 'pyarrow'"))
    tripped = [hooks.after_execute("import pyarrow", failed, ctx).stopped for _ in range(3)][-1] is not None
    long_output = ExecutionResult(ok=True, outcome="ok", stdout="\n".join(map(str, range(2000))))
    trimmed = "output lines omitted" in hooks.feedback(long_output, "", ctx)

    with_plugin = attrs.evolve(ctx, plugins={"lookup": PluginSpec("lookup", "m:lookup", batch="lookup_many")})
    loop = "[lookup(x) for x in xs]"  # of unknown size, over a plugin with a batch form: refused before it runs
    flagged = any(v.source == "loop_detector" for v in hooks.verify_code(loop, VerifyMode.normal, with_plugin))

    rounds = [Round(user_query=f"q{n} " + "word " * 2000, answer="a", posts=(Post(USER, "Planner", "word " * 2000),)) for n in range(6)]
    compressed = bool(hooks.compress_memory(rounds, MemoryBudget(max_tokens=4000), session.hook_context("Planner")).summary)

    huge = LLMRequest(role="Planner", model="default", messages=(ChatMessage("user", "x"),), estimated_prompt_tokens=2_000_000)
    # The Planner's context: the CodeInterpreter's step 1 is tripped above, and would stop its calls.
    budgeted = hooks.before_llm_call(huge, session.hook_context("Planner")).stopped is not None
    return {
        "breaker": tripped,
        "trimming": trimmed,
        "loop warning": flagged,
        "compression": compressed,
        "cost budget": budgeted,
    }


OWN = {
    "retry_guard": {"breaker"},
    "feedback_trimmer": {"trimming"},
    "loop_detector": {"loop warning"},
    "memory_compressor": {"compression"},
    "cost_guard": {"cost budget"},
}


def test_all_guards_are_active_when_installed(tmp_path: Path) -> None:
    with app_with(tmp_path, GUARDS) as app:
        assert {info.name for info in app.load_report.extensions if info.ok} >= set(GUARDS)
        assert effects(app) == dict.fromkeys(effects(app), True)
        assert set(GUARDS) <= set(app.config.tables)


def test_the_plugin_call_budget_is_the_cores_whatever_is_installed(tmp_path: Path) -> None:
    with app_with(tmp_path, ()) as bare, app_with(tmp_path, GUARDS) as guarded:
        assert bare.config.table("plugins").call_budget == guarded.config.table("plugins").call_budget == 25


@pytest.mark.parametrize("left_out", GUARDS)
def test_leaving_one_out_removes_its_effect_and_nothing_else(tmp_path: Path, left_out: str) -> None:
    with app_with(tmp_path, tuple(g for g in GUARDS if g != left_out)) as app:
        found = effects(app)
        assert {name for name, active in found.items() if not active} == OWN[left_out]
        assert left_out not in app.config.tables
        assert set(GUARDS) - {left_out} <= set(app.config.tables)


def planner(message: str, send_to: str = "CodeInterpreter", stop: str = "InProcess") -> str:
    return json.dumps(
        {
            "plan_reasoning": "Load the data first.",
            "init_plan": "1. Load sales.parquet\n2. Report the total <interactively depends on 1>",
            "plan": "1. Load sales.parquet\n2. Report the total",
            "current_plan_step": "1. Load sales.parquet",
            "stop": stop,
            "send_to": send_to,
            "message": message,
        }
    )


def code(content: str) -> str:
    return json.dumps({"thought": "Read the parquet file.", "reply_type": "python", "reply_content": content})


@pytest.mark.slow
@pytest.mark.parametrize("guarded", [True, False])
def test_a_persistent_missing_package_ends_at_the_third_error_only_with_the_retry_guard(
    tmp_path: Path, fake_llm: FakeOpenAIServer, guarded: bool
) -> None:
    # The project allows pyarrow, but the kernel's environment does not have it.
    attempt = "import pyarrow.parquet as pq\ntable = pq.read_table('sales.parquet')"
    script = [planner("Load sales.parquet.")] + [code(attempt)] * 4
    script += [planner("Load sales.parquet again, differently.")] + [code(attempt)] * 4
    script += [planner("The data cannot be loaded: pyarrow is missing.", send_to=USER, stop="TaskFailure")]
    fake_llm.add(*script)
    guards = GUARDS if guarded else tuple(g for g in GUARDS if g != "retry_guard")
    settings = {"planner": {"use_examples": False}, "code_verifier": {"extra_allowed_imports": ["pyarrow"]}}
    with app_with(tmp_path, guards, llm=fake_llm.llm_config(), **settings) as app:
        done = app.session().send_message("total sales from sales.parquet")

    ci_calls = [r for r in fake_llm.requests if r["messages"][0]["content"].startswith("You are CodeInterpreter.")]
    if guarded:
        # The 3rd failure on the missing module stops the step; the re-plan's one attempt fails
        # on it again, and that ends the round.
        assert len(ci_calls) == 4
        assert done.state is RoundState.failed and "Circuit breaker: 3 attempts in a row" in done.reason
        assert "'pyarrow' is not usable" in done.reason and "the round ends here" in done.reason
    else:
        assert len(ci_calls) == 8
        assert done.state is RoundState.finished and done.answer.startswith("The data cannot be loaded")
