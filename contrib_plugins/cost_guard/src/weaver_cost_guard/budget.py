"""Budget checks made before an LLM call: the call goes ahead only if it fits.

Each check compares what is already spent *plus what the next call is known to need* (its
estimated prompt) with the limit. Only the call's reply, unknown in advance, can go past a
budget, so a budget is never exceeded by more than the one call in flight.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from weaver.model import Usage

if TYPE_CHECKING:
    from weaver_cost_guard import CostGuardConfig


@attrs.frozen
class NextCall:
    """What is known about the call about to be made, and what was spent before it."""

    role: str
    estimated_prompt_tokens: int
    estimated_prompt_cost: float
    session_usage: Usage
    round_llm_calls: int
    session_rounds: int


def refusal(limits: CostGuardConfig, call: NextCall) -> str | None:
    """Why ``call`` must not be made, or ``None`` when every budget has room for it."""
    spent = call.session_usage
    if limits.max_session_rounds and call.session_rounds >= limits.max_session_rounds:
        return _message(
            f"this session has had its {limits.max_session_rounds} rounds",
            "max_session_rounds",
            call,
        )
    if limits.max_round_llm_calls and call.round_llm_calls >= limits.max_round_llm_calls:
        return _message(
            f"this round has made its {limits.max_round_llm_calls} LLM calls",
            "max_round_llm_calls",
            call,
        )
    if limits.max_session_tokens and spent.total_tokens + call.estimated_prompt_tokens > limits.max_session_tokens:
        return _message(
            f"the session's token budget would be exceeded: {spent.total_tokens:,} of "
            f"{limits.max_session_tokens:,} tokens are spent and the next call needs about "
            f"{call.estimated_prompt_tokens:,} more",
            "max_session_tokens",
            call,
        )
    if limits.max_session_cost and spent.cost + call.estimated_prompt_cost > limits.max_session_cost:
        return _message(
            f"the session's money budget would be exceeded: {spent.cost:.4f} of "
            f"{limits.max_session_cost:.4f} is spent and the next call's prompt costs about "
            f"{call.estimated_prompt_cost:.4f}",
            "max_session_cost",
            call,
        )
    return None


def _message(why: str, key: str, call: NextCall) -> str:
    spent = call.session_usage
    return (
        f"Cost guard stopped the {call.role}'s next LLM call: {why}. "
        f"Achieved so far: {call.session_rounds} finished round(s) in this session and "
        f"{call.round_llm_calls} LLM call(s) in the current one, whose work up to now is kept; "
        f"{spent.llm_calls} call(s) in all, {spent.total_tokens:,} tokens, cost {spent.cost:.4f}. "
        f"To go on, raise [cost_guard] {key} or start a new session."
    )
