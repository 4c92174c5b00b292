"""weaver-retry-guard: a circuit breaker for a failing step, and trimmed execution feedback.

**Circuit breaker** (``weaver_after_execute``): when ``max_identical_errors`` executions of
one step in a row fail with the same error class, the guard returns a ``stop`` verdict. The
executing role (the CodeInterpreter) stops retrying and reports the verdict's one message
to the Planner: the blocker is likely environmental (a missing package, a schema
mismatch), these were the attempts, do not assign the step again. A success, or another
error class, restarts the count. The step is the Planner's current plan step
(``GuardContext.step``); without a plan the whole round counts as one step. Counts start
afresh in every round, so a user who installs the missing package can simply ask again.

**Re-planning** (``weaver_before_llm_call``): the Planner is free to re-plan around the
blocker, but if the tripped step reaches the executing role again in the same round, that
role's next LLM call is refused with a ``stop`` and the round ends with the breaker's
message. A Planner that ignores the message therefore costs one more Planner call, never
another code-and-retry cycle.

**Feedback trimming** (``weaver_format_feedback``, which wins over the core's ``trylast``
default): a traceback keeps its head and last ``traceback_tail_lines`` lines, stdout,
stderr and the value its head and tail, each cut marked with what was omitted; the text is
then laid out by the core's default formatter.

.. code-block:: toml

    [retry_guard]
    max_identical_errors = 3     # 0 turns the breaker off
    trim_feedback = true
    traceback_head_lines = 4
    traceback_tail_lines = 15
    output_head_lines = 15
    output_tail_lines = 15
    max_output_chars = 4000
    max_line_chars = 400
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from weaver.errors import ConfigError
from weaver.hookspecs import hookimpl
from weaver.specs import ConfigTable, Verdict

if TYPE_CHECKING:
    from weaver.config import Config
    from weaver.execution import ExecutionResult
    from weaver.guards import GuardContext
    from weaver.llm import LLMRequest

NAME = "retry_guard"


@attrs.frozen
class RetryGuardConfig:
    """``[retry_guard]``: when the breaker trips and how much feedback is kept."""

    max_identical_errors: int = 3
    """Consecutive executions of one step failing with one error class that trip the breaker (0: off)."""
    trim_feedback: bool = True
    traceback_head_lines: int = 4
    """Lines kept from a traceback's start: the header and the frame in the model's own code."""
    traceback_tail_lines: int = 15
    """Lines kept from a traceback's end: the frames nearest the error and the error itself."""
    output_head_lines: int = 15
    output_tail_lines: int = 15
    max_output_chars: int = 4000
    """The most characters kept of each of stdout, stderr and the value."""
    max_line_chars: int = 400
    """The most characters kept of one line (a wide DataFrame row, a long list)."""


_settings = RetryGuardConfig()
"""The configuration last seen: ``weaver_format_feedback`` has no config argument."""


@hookimpl
def weaver_config_tables() -> list[ConfigTable]:
    return [ConfigTable(NAME, RetryGuardConfig, "Circuit breaker and feedback trimming")]


@hookimpl
def weaver_configure(config: Config) -> None:
    global _settings
    if NAME not in config.tables:
        # The hook is historic: registered late, this extension also gets configurations
        # built before it was, which have no table of its own.
        return
    settings: RetryGuardConfig = config.table(NAME)
    for field in attrs.fields(RetryGuardConfig):
        value = getattr(settings, field.name)
        if not isinstance(value, bool) and value < 0:
            raise ConfigError("must not be negative", source=config.sources.get(f"{NAME}.{field.name}", ""), table=NAME, key=field.name)
    _settings = settings


@hookimpl
def weaver_after_execute(code: str, result: ExecutionResult, ctx: GuardContext) -> Verdict | None:
    from weaver_retry_guard.breaker import BreakerState, failure_of, observe

    error = result.error
    state, trip = observe(
        ctx.scratch.get(NAME, BreakerState()),
        round_id=ctx.round_id,
        step=ctx.step,
        role=ctx.role,
        failure=failure_of(result.ok, result.outcome, error.type if error else None, error.message if error else None),
        limit=ctx.config.table(NAME).max_identical_errors,
    )
    ctx.scratch[NAME] = state
    return Verdict.stop(trip.message, source=NAME) if trip else None


@hookimpl
def weaver_before_llm_call(request: LLMRequest, ctx: GuardContext) -> Verdict | None:
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


@hookimpl
def weaver_format_feedback(result: ExecutionResult, code: str) -> str | None:
    if not _settings.trim_feedback:
        return None
    from weaver.execution.feedback import format_result
    from weaver_retry_guard.feedback import trim_result

    return format_result(trim_result(result, _settings))
