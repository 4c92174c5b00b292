"""weaver-retry-guard: a circuit breaker for work that keeps failing on the same blocker.

**Circuit breaker**: every failed attempt of the round (an execution that failed,
``weaver_after_execute``; code the verifier refused, ``weaver_code_refused``) has a root
cause: the exception's family by its class hierarchy and what it names (the missing module,
column, key or file; the refused construct; the plugin whose budget is spent), see
:mod:`weaver_retry_guard.causes`. When ``max_identical_errors`` attempts in a row have one
cause, whatever the Planner called the step and whichever exception class carried it, the
guard returns a ``stop``: the executing role stops retrying and reports the one message to
the Planner, naming the blocker and what the user can do. A success, or a different cause
(the next missing column), restarts the count.

**Re-planning** (``weaver_before_llm_call``): the Planner may re-plan around the blocker; if
an attempt fails on the tripped cause again in the same round, that attempt stops too and
the round ends at its next LLM call, with the breaker's message. So a persistent blocker
costs at most ``max_identical_errors + 1`` attempts per round however the re-plans are
worded. Counts live in the round's scratch space: every round starts afresh, and a user who
installs the missing package can simply ask again.

Trimming execution feedback moved to ``weaver-feedback-trimmer``; its old keys here still
work, with a deprecation warning.

.. code-block:: toml

    [retry_guard]
    max_identical_errors = 3     # attempts in a row with one root cause; 0 turns the breaker off
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from weaver.config import at_least
from weaver.hookspecs import hookimpl
from weaver.specs import ConfigTable, Verdict

if TYPE_CHECKING:
    from collections.abc import Sequence

    from weaver.context import HookContext
    from weaver.execution import ExecutionResult
    from weaver.specs import Violation
    from weaver_retry_guard.breaker import Attempt, BreakerState

NAME = "retry_guard"
TRIMMER = "feedback_trimmer"
MOVED = {
    "trim_feedback": f"{TRIMMER}.enabled",
    **{
        key: f"{TRIMMER}.{key}"
        for key in (
            "traceback_head_lines",
            "traceback_tail_lines",
            "output_head_lines",
            "output_tail_lines",
            "max_output_chars",
            "max_line_chars",
        )
    },
}
"""The trimming keys this table had, and where they went."""


@attrs.frozen
class RetryGuardConfig:
    """``[retry_guard]``: when the breaker trips."""

    max_identical_errors: int = attrs.field(default=3, validator=at_least(0))
    """Consecutive failed attempts of a round with one root cause that trip the breaker (0: off)."""


@hookimpl
def weaver_config_tables() -> list[ConfigTable]:
    return [ConfigTable(NAME, RetryGuardConfig, "Circuit breaker for work that keeps failing on one blocker", moved=MOVED)]


def _observe(ctx: HookContext, failure: Attempt | None) -> Verdict | None:
    from weaver_retry_guard.breaker import BreakerState, observe

    state = _state(ctx) or BreakerState(ctx.round_id, ctx.session_rounds)
    state, stop = observe(
        state.for_round(ctx.round_id, ctx.session_rounds), failure, ctx.config.table(RetryGuardConfig).max_identical_errors
    )
    ctx.scratch[NAME] = state
    return Verdict.stop(stop, source=NAME) if stop else None


def _state(ctx: HookContext) -> BreakerState | None:
    return ctx.scratch.get(NAME)


@hookimpl
def weaver_after_execute(result: ExecutionResult, ctx: HookContext) -> Verdict | None:
    from weaver_retry_guard.breaker import Attempt, evidence
    from weaver_retry_guard.causes import cause_of_error, cause_of_outcome

    if result.ok:
        return _observe(ctx, None)
    error = result.error
    if error is not None and result.outcome == "error":
        failure = Attempt(cause_of_error(error.type, error.message, error.mro), evidence(error.type, error.message))
    else:
        failure = Attempt(cause_of_outcome(result.outcome), evidence(result.outcome, error.message if error else ""))
    return _observe(ctx, failure)


@hookimpl
def weaver_code_refused(violations: Sequence[Violation], ctx: HookContext) -> Verdict | None:
    from weaver_retry_guard.breaker import Attempt, evidence
    from weaver_retry_guard.causes import cause_of_refusal

    first = min(violations, key=lambda v: (v.line, v.col))
    return _observe(ctx, Attempt(cause_of_refusal(violations), evidence("the verifier refused the code", first.message)))


@hookimpl
def weaver_before_llm_call(ctx: HookContext) -> Verdict | None:
    state = _state(ctx)
    # Only the round that tripped ends: work after it (a summary between rounds) goes on.
    if state is None or state.ended is None or state.round_id != ctx.round_id or ctx.session_rounds != state.rounds_before:
        return None
    return Verdict.stop(state.ended.message, source=NAME)
