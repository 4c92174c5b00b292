"""weaver-retry-guard: a circuit breaker for a step that keeps failing the same way.

**Circuit breaker** (``weaver_after_execute``): when ``max_identical_errors`` executions of
one step in a row fail with the same error class, the guard returns a ``stop`` verdict. The
executing role (the CodeInterpreter) stops retrying and reports the verdict's one message
to the Planner: the blocker is likely environmental (a missing package, a schema
mismatch), these were the attempts, do not assign the step again. A success, or another
error class, restarts the count. The step is the Planner's current plan step
(``HookContext.step``); without a plan the whole round counts as one step. Counts live in
the round's scratch space, so every round starts afresh and a user who installs the
missing package can simply ask again.

**Re-planning** (``weaver_before_llm_call``): the Planner is free to re-plan around the
blocker, but if the tripped step reaches the executing role again in the same round, that
role's next LLM call is refused with a ``stop`` and the round ends with the breaker's
message. A Planner that ignores the message therefore costs one more Planner call, never
another code-and-retry cycle.

Trimming execution feedback moved to ``weaver-feedback-trimmer``; its old keys here still
work, with a deprecation warning.

.. code-block:: toml

    [retry_guard]
    max_identical_errors = 3     # 0 turns the breaker off
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from weaver.config import at_least
from weaver.hookspecs import hookimpl
from weaver.specs import ConfigTable, Verdict

if TYPE_CHECKING:
    from weaver.context import HookContext
    from weaver.execution import ExecutionResult

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
    """Consecutive executions of one step failing with one error class that trip the breaker (0: off)."""


@hookimpl
def weaver_config_tables() -> list[ConfigTable]:
    return [ConfigTable(NAME, RetryGuardConfig, "Circuit breaker for a step that keeps failing", moved=MOVED)]


@hookimpl
def weaver_after_execute(result: ExecutionResult, ctx: HookContext) -> Verdict | None:
    from weaver_retry_guard.breaker import BreakerState, failure_of, observe

    error = result.error
    state, trip = observe(
        ctx.scratch.get(NAME, BreakerState()),
        round_id=ctx.round_id,
        step=ctx.step,
        role=ctx.role,
        failure=failure_of(result.ok, result.outcome, error.type if error else None, error.message if error else None),
        limit=ctx.config.table(RetryGuardConfig).max_identical_errors,
    )
    ctx.scratch[NAME] = state
    return Verdict.stop(trip.message, source=NAME) if trip else None


@hookimpl
def weaver_before_llm_call(ctx: HookContext) -> Verdict | None:
    state = ctx.scratch.get(NAME)
    if state is None:
        return None
    trip = state.for_round(ctx.round_id).tripped(ctx.step)
    if trip is None or trip.role != ctx.role:
        return None
    return Verdict.stop(
        f"{trip.message} The step was assigned again after the circuit breaker stopped it, so the round ends here.",
        source=NAME,
    )
