"""Budget checks before a call: what is spent plus the next prompt must fit every budget."""

from __future__ import annotations

from weaver.model import Usage
from weaver_cost_guard import CostGuardConfig
from weaver_cost_guard.budget import NextCall, refusal

NOTHING = Usage()


def _call(spent: Usage = NOTHING, prompt: int = 1000, cost: float = 0.0, calls: int = 0, rounds: int = 0) -> NextCall:
    return NextCall("Planner", prompt, cost, spent, calls, rounds)


def test_a_call_that_fits_every_budget_is_allowed() -> None:
    limits = CostGuardConfig(max_session_tokens=10_000, max_session_cost=1.0, max_round_llm_calls=5, max_session_rounds=3)
    assert refusal(limits, _call(Usage(prompt_tokens=8000, completion_tokens=500, cost=0.5, llm_calls=4), 1500, 0.4, 4, 2)) is None


def test_the_token_budget_counts_the_prompt_of_the_call_in_flight() -> None:
    limits = CostGuardConfig(max_session_tokens=10_000)
    spent = Usage(prompt_tokens=8000, completion_tokens=1000, llm_calls=7)
    why = refusal(limits, _call(spent, prompt=1001, rounds=4))
    assert why is not None
    assert "9,000 of 10,000 tokens" in why and "about 1,001 more" in why
    assert "4 finished round(s)" in why and "7 call(s)" in why and "[cost_guard] max_session_tokens" in why
    assert refusal(limits, _call(spent, prompt=1000)) is None


def test_money_round_calls_and_session_rounds_budgets() -> None:
    assert "money budget" in (refusal(CostGuardConfig(max_session_cost=0.10), _call(Usage(cost=0.09), cost=0.02)) or "")
    assert "made its 3 LLM calls" in (refusal(CostGuardConfig(max_round_llm_calls=3), _call(calls=3)) or "")
    assert "had its 2 rounds" in (refusal(CostGuardConfig(max_session_rounds=2), _call(rounds=2)) or "")
    assert refusal(CostGuardConfig(max_round_llm_calls=3), _call(calls=2)) is None


def test_zero_turns_a_budget_off() -> None:
    off = CostGuardConfig(max_session_tokens=0, max_session_cost=0, max_round_llm_calls=0, max_session_rounds=0)
    assert refusal(off, _call(Usage(prompt_tokens=10**9, cost=10**6), prompt=10**6, cost=10.0, calls=10**4, rounds=10**4)) is None
