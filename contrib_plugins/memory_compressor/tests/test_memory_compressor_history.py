"""Compression decisions and the deterministic summary, on real Round values."""

from __future__ import annotations

import pytest

import weaver_memory_compressor
from weaver.context import HookContext
from weaver.execution.result import ErrorInfo, ExecutionResult, VariableInfo
from weaver.extensions import Hooks
from weaver.llm.usage import estimate_tokens
from weaver.memory import CompressedMemory, MemoryBudget
from weaver.model import USER, Attachment, AttachmentType, Post, Round, RoundState
from weaver.specs import ConfigTable
from weaver.testing import hook_context
from weaver_memory_compressor import NAME, MemoryCompressorConfig
from weaver_memory_compressor.compress import SUMMARY_KEY, Summary, compress, pending_work, split
from weaver_memory_compressor.history import alive_variables, condense

OUTPUT = "\n".join(f"{n:>4}  {n * 3.5:>10.2f}  region-{n % 7}" for n in range(120))


def make_round(n: int, *, ok: bool = True, variables: tuple[str, ...] = ("df",)) -> Round:
    result = ExecutionResult(
        ok=ok,
        outcome="ok" if ok else "error",
        code=f"df{n} = df.groupby('region').sum()\ndf{n}",
        value_repr=OUTPUT if ok else None,
        error=None if ok else ErrorInfo("KeyError", "'revenue_usd'", "Traceback...\nKeyError: 'revenue_usd'"),
        variables=tuple(VariableInfo(name, "DataFrame") for name in variables),
    )
    posts = (
        Post(USER, "Planner", f"question {n}: sum revenue by region"),
        Post(
            "Planner",
            "CodeInterpreter",
            f"step {n}",
            (Attachment(AttachmentType.plan, f"1. group rows for question {n}"),),
        ),
        Post(
            "CodeInterpreter",
            "Planner",
            "done",
            (
                Attachment(AttachmentType.reply_content, result.code),
                Attachment(AttachmentType.execution_result, OUTPUT, extra=result),
            ),
        ),
        Post("Planner", USER, f"answer {n}: region-3 leads with 1234.5"),
    )
    return Round(
        user_query=f"question {n}: sum revenue by region",
        posts=posts,
        answer=posts[-1].message,
        state=RoundState.finished,
    )


ROUNDS = [make_round(n, variables=tuple(f"df{k}" for k in range(1, n + 1))) for n in range(1, 11)]


def planner_context(summary: Summary | None = None) -> HookContext:
    state = {SUMMARY_KEY: summary.as_state()} if summary is not None else {}
    return hook_context(tables=[ConfigTable(NAME, MemoryCompressorConfig)], role="Planner", state=state)


def test_condense_keeps_request_plan_code_what_was_shown_and_answer_and_drops_long_outputs() -> None:
    text = condense(4, ROUNDS[3])
    assert "shown: 0 0.00 region-0 1 3.50 region-1" in text  # a printed number is a fact too
    assert text.startswith("Round 4: the User asked: question 4")
    assert "plan: 1. group rows for question 4" in text
    assert "df4 = df.groupby('region').sum()" in text
    assert "answer: answer 4: region-3 leads with 1234.5" in text
    assert "region-6" not in text
    failed = condense(1, make_round(1, ok=False))
    assert "failed executions: KeyError" in failed and "code that ran" not in failed


def test_alive_variables_come_from_the_latest_execution() -> None:
    assert alive_variables(ROUNDS) == tuple(f"df{k}" for k in range(1, 11))
    assert alive_variables([Round(user_query="hi")]) == ()


def test_a_history_that_fits_is_left_alone() -> None:
    budget = MemoryBudget(max_tokens=1_000_000)
    assert split(ROUNDS, budget, "Planner", estimate_tokens) is None
    assert compress(ROUNDS, budget, planner_context(), estimate=estimate_tokens) is None


def test_past_the_trigger_older_rounds_become_a_summary_and_recent_ones_stay() -> None:
    budget = MemoryBudget(max_tokens=4000, trigger_share=0.5, keep_recent_rounds=3)
    memory = compress(ROUNDS, budget, planner_context(), estimate=estimate_tokens)
    assert memory is not None
    assert memory.rounds == tuple(ROUNDS[-3:])
    assert [line for line in memory.summary.splitlines() if line.startswith("Round ")] == [
        f"Round {n}: the User asked: question {n}: sum revenue by region" for n in range(1, 8)
    ]
    assert memory.summary.endswith(
        "Variables alive in the kernel (newest first): " + ", ".join(f"df{k}" for k in range(10, 0, -1))
    )
    assert estimate_tokens(memory.summary) < sum(estimate_tokens(str(r)) for r in ROUNDS[:7]) / 5


def test_recent_rounds_that_alone_overflow_the_budget_are_fewer() -> None:
    size = estimate_tokens(OUTPUT)
    budget = MemoryBudget(max_tokens=int(size * 1.5), keep_recent_rounds=3)
    assert split(ROUNDS, budget, "Planner", estimate_tokens) == 9


def test_a_stored_summary_is_used_for_the_rounds_it_covers_and_extended_deterministically() -> None:
    budget = MemoryBudget(max_tokens=4000, keep_recent_rounds=3)
    stored = Summary(covered=tuple(r.id for r in ROUNDS[:5]), text="MODEL SUMMARY of rounds 1-5")
    memory = compress(ROUNDS, budget, planner_context(stored), estimate=estimate_tokens)
    assert memory is not None
    assert memory.summary.startswith("MODEL SUMMARY of rounds 1-5\nRound 6: ")
    assert "Round 1:" not in memory.summary and "Round 7:" in memory.summary and "Round 8:" not in memory.summary
    other_session = [make_round(1), *ROUNDS[1:]]
    assert (
        "MODEL SUMMARY"
        not in compress(other_session, budget, planner_context(stored), estimate=estimate_tokens).summary
    )


def test_the_round_end_hands_out_the_rounds_the_next_compression_will_need() -> None:
    budget = MemoryBudget(max_tokens=4000, keep_recent_rounds=3)
    ctx = planner_context()
    assert pending_work(ROUNDS, ctx) is None  # nothing was compressed in this round
    compress(ROUNDS[:9], budget, ctx, estimate=estimate_tokens)
    work = pending_work(ROUNDS, ctx)
    assert work is not None and work[0] is None and list(work[1]) == ROUNDS[:7]
    covered = Summary(covered=tuple(r.id for r in ROUNDS[:7]), text="up to 7")
    done = planner_context(covered)
    compress(ROUNDS[:9], budget, done, estimate=estimate_tokens)
    assert pending_work(ROUNDS, done) is None


@pytest.fixture
def hooks(weaver_pm, register_plugin) -> Hooks:
    register_plugin(weaver_memory_compressor)
    return Hooks(weaver_pm)


def test_hook_weaver_compress_memory(hooks: Hooks) -> None:
    """Through the hook, the compressor's answer wins over the core's keep-everything default."""
    one = hooks.compress_memory(ROUNDS[:1], MemoryBudget(max_tokens=100_000), planner_context())
    assert one == CompressedMemory(rounds=tuple(ROUNDS[:1]))
    # From the second round on, all but the last round become the summary, whatever the budget.
    memory = hooks.compress_memory(ROUNDS, MemoryBudget(max_tokens=100_000, keep_recent_rounds=2), planner_context())
    assert memory.rounds == tuple(ROUNDS[-1:])
    assert "Round 9: the User asked" in memory.summary and "(newest first): df10, df9" in memory.summary


def test_early_compression_keeps_what_every_round_showed_even_when_the_model_summary_drops_it() -> None:
    covered = Summary(covered=tuple(r.id for r in ROUNDS[:8]), text="The User summed revenue by region.")
    ctx = planner_context(covered)
    memory = compress(ROUNDS, MemoryBudget(max_tokens=8000), ctx, estimate=estimate_tokens, verbatim=1)
    assert memory is not None and memory.rounds == (ROUNDS[-1],)
    assert memory.summary.startswith("The User summed revenue by region.\nRound 9: ")
    shown = [line for line in memory.summary.splitlines() if line.startswith("Shown in round")]
    assert [line.split(":")[0] for line in shown] == [f"Shown in round {n}" for n in range(1, 9)]
    # The newest five keep their line; the older ones only their value.
    assert all(len(line) <= len("Shown in round 1: ") + 41 for line in shown[:3])
    assert all(len(line) > len("Shown in round 1: ") + 60 for line in shown[3:])
    bounded = compress(
        ROUNDS, MemoryBudget(max_tokens=8000), ctx, estimate=estimate_tokens, verbatim=1, shown_max_tokens=60
    )
    assert [line.split(":")[0] for line in bounded.summary.splitlines() if line.startswith("Shown")] == [
        "Shown in round 7",
        "Shown in round 8",
    ]


def printing_round(n: int, stdout: str) -> Round:
    result = ExecutionResult(ok=True, outcome="ok", code=f"print(month_{n})", stdout=stdout)
    posts = (
        Post(USER, "Planner", f"month {n}"),
        Post(
            "CodeInterpreter", "Planner", "done", (Attachment(AttachmentType.execution_result, stdout, extra=result),)
        ),
        Post("Planner", USER, "The table is above."),
    )
    return Round(user_query=f"month {n}", posts=posts, answer="The table is above.", state=RoundState.finished)


def test_what_rounds_showed_stops_growing_and_a_named_number_outlives_the_tables() -> None:
    """Forty alike rounds each print a table; round 2 also printed ``TOTAL_MONTH_2=1350``.
    The lines stay within their budget however many rounds there are, and round 2's named
    number is among the last to go."""
    table = "\n".join(f"North product-{k}  {k * 37}  {k * 4.5}" for k in range(7))
    rounds = [printing_round(n, ("TOTAL_MONTH_2=1350\n" if n == 2 else "") + table) for n in range(1, 41)]
    sizes = {}
    for count in (10, 20, 40):
        # The model's summary covers the older rounds, and (a weak model) kept none of their numbers.
        ctx = planner_context(
            Summary(tuple(r.id for r in rounds[: count - 1]), "The User looks at one month at a time.")
        )
        memory = compress(
            rounds[:count],
            MemoryBudget(max_tokens=8000),
            ctx,
            estimate=estimate_tokens,
            verbatim=1,
            shown_max_tokens=200,
        )
        assert memory is not None
        facts = [line for line in memory.summary.splitlines() if line.startswith("Shown in round")]
        sizes[count] = sum(estimate_tokens(line) for line in facts)
        assert sizes[count] <= 200
        assert any("TOTAL_MONTH_2=1350" in line for line in facts), facts
        assert facts[-1].startswith(f"Shown in round {count - 1}: ")
    assert sizes[40] <= sizes[20] * 1.15
