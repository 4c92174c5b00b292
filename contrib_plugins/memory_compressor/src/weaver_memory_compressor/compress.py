"""Deciding what to compress, and the summary a session keeps between rounds.

A role's history is compressed when its estimated size passes ``trigger_share`` of the
role's budget: the last ``keep_recent_rounds`` rounds stay verbatim (fewer when they alone
overflow the budget) and the older ones become one summary. That summary is the model's
incremental summary where one covers them (kept in the session's state under
:data:`SUMMARY_KEY`), extended by the deterministic condensed form of any round the model
has not summarized yet.

How many rounds the round's compressions kept verbatim is noted in the round's scratch
space, so that when the round ends the summarizer knows which rounds the next compression
will need summarized.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from weaver.memory import CompressedMemory, MemoryBudget
from weaver.model import Round
from weaver_memory_compressor.history import (
    Estimate,
    alive_variables,
    deterministic_summary,
    history_tokens,
    results_shown,
    with_variables,
)

if TYPE_CHECKING:
    from weaver.context import HookContext

SUMMARY_KEY = "memory_compressor.summary"
"""Where the session's state keeps the model's summary: ``{"covered": [round ids], "text": ...}``."""
SCRATCH_KEY = "memory_compressor"


@attrs.frozen
class Summary:
    """A summary of a session's first rounds: the ids it covers, in order, and its text."""

    covered: tuple[str, ...]
    text: str

    def as_state(self) -> dict[str, Any]:
        return {"covered": list(self.covered), "text": self.text}


def stored_summary(state: Mapping[str, Any], rounds: Sequence[Round]) -> Summary | None:
    """The session's stored summary, if it covers a prefix of ``rounds``."""
    value = state.get(SUMMARY_KEY)
    if not isinstance(value, Mapping) or not isinstance(value.get("text"), str):
        return None
    covered = tuple(str(item) for item in value.get("covered") or ())
    if not covered or tuple(r.id for r in rounds[: len(covered)]) != covered:
        return None
    return Summary(covered, value["text"])


def split(
    rounds: Sequence[Round], budget: MemoryBudget, role: str, estimate: Estimate, verbatim: int = 0
) -> int | None:
    """How many of the oldest rounds to summarize, or ``None`` when the history stays whole.

    With ``verbatim`` > 0, every round but the last ``verbatim`` is summarized from the first
    rounds on, so prompts stop growing early instead of once the budget's trigger is passed.
    Otherwise at least one recent round stays verbatim; more (up to ``keep_recent_rounds``)
    while they fit in the budget together.

    Rounds are sized newest first and only until the trigger is passed with the recent
    rounds known, so a call costs about one budget's worth of text however long the
    session is (it is made for every prompt of every role).
    """
    if verbatim > 0:
        return len(rounds) - verbatim if len(rounds) > verbatim else None
    trigger = budget.max_tokens * budget.trigger_share
    recent = min(max(budget.keep_recent_rounds, 1), len(rounds))
    sizes: list[int] = []  # newest first
    total = 0
    for size in history_tokens(rounds, role, estimate):
        sizes.append(size)
        total += size
        if total > trigger and len(sizes) >= recent:
            break
    if total <= trigger:
        return None
    keep = recent
    while keep > 1 and sum(sizes[:keep]) > budget.max_tokens:
        keep -= 1
    old = len(rounds) - keep
    return old or None


def compress(
    rounds: Sequence[Round],
    budget: MemoryBudget,
    ctx: HookContext,
    *,
    estimate: Estimate,
    max_chars: int = 600,
    verbatim: int = 0,
    shown_chars: int = 80,
    shown_max_tokens: int = 800,
) -> CompressedMemory | None:
    """The compressed history for ``ctx.role``, or ``None`` when it stays as it is.

    The summary is the model's (for the rounds it covers), the condensed form of the rounds
    it does not cover yet, what each summarized round showed the User (its numbers are
    facts later rounds need, whatever the model's summary kept; at most ``shown_max_tokens``),
    and the variables alive in the kernel (unless the role's prompt lists them itself).
    """
    old_count = split(rounds, budget, ctx.role, estimate, verbatim)
    if old_count is None:
        return None
    old = rounds[:old_count]
    ctx.scratch.setdefault(SCRATCH_KEY, {})["keep"] = len(rounds) - old_count
    stored = stored_summary(ctx.state, old)
    covered = len(stored.covered) if stored else 0
    text = deterministic_summary(stored.text if stored else "", old[covered:], covered + 1, max_chars=max_chars)
    facts = results_shown(old[:covered], 1, max_chars=shown_chars, max_tokens=shown_max_tokens, estimate=estimate)
    summary = "\n".join(part for part in (text, facts) if part)
    return CompressedMemory(
        summary=summary if budget.lists_variables else with_variables(summary, alive_variables(rounds)),
        rounds=tuple(rounds[old_count:]),
    )


def pending_work(rounds: Sequence[Round], ctx: HookContext) -> tuple[Summary | None, Sequence[Round]] | None:
    """Work for the summarizer when a round ends: the summary so far and the rounds it does not
    cover yet that the next compression will summarize; ``None`` when there is none.

    The round's compressions noted how many recent rounds they kept verbatim; the next
    compression keeps as many, so the round that just ended pushes one more round out of them.
    """
    keep = ctx.scratch.get(SCRATCH_KEY, {}).get("keep")
    if keep is None or not rounds:
        return None
    previous = stored_summary(ctx.state, rounds)
    covered = len(previous.covered) if previous else 0
    target = len(rounds) - keep
    if target <= covered:
        return None
    return previous, rounds[covered:target]
