"""weaver-feedback-trimmer: execution feedback trimmed before it goes back into a prompt.

On ``weaver_trim_feedback`` a traceback keeps the frames of the model's own cell (its header
and the ``---->`` line that failed), with library frames and chained exceptions collapsed to
a count, and the exception's message once; stdout, stderr and the value keep a head and a
tail measured in tokens; every cut is marked (:mod:`weaver_feedback_trimmer.trim`). The
core's formatter then lays the result out.

On ``weaver_summarize_attempt`` an earlier attempt of the same request is given one line
(its code's hash, the exception, the line that failed), so a role's later retries carry the
last attempt in full and the earlier ones in a line each.

Settings are the ``[feedback_trimmer]`` table (:class:`FeedbackTrimmerConfig`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from weaver.config import at_least
from weaver.hookspecs import hookimpl
from weaver.specs import ConfigTable

if TYPE_CHECKING:
    from weaver.context import HookContext
    from weaver.execution.pipeline import CodeRun
    from weaver.execution.result import ExecutionResult

NAME = "feedback_trimmer"
_count = at_least(0)


@attrs.frozen
class FeedbackTrimmerConfig:
    """``[feedback_trimmer]``: how much of each part of an execution result the model reads."""

    enabled: bool = True
    traceback_head_lines: int = attrs.field(default=4, validator=_count)
    """Lines kept from the start of a traceback in a format the trimmer does not read."""
    traceback_tail_lines: int = attrs.field(default=15, validator=_count)
    """Lines kept from the end of a traceback in a format the trimmer does not read."""
    output_head_tokens: int = attrs.field(default=100, validator=_count)
    """Tokens kept from the start of stdout, stderr and the value (whole lines)."""
    output_tail_tokens: int = attrs.field(default=40, validator=_count)
    """Tokens kept from their end (whole lines)."""
    output_head_lines: int = attrs.field(default=15, validator=_count)
    """At most this many lines of the head, whatever their tokens."""
    output_tail_lines: int = attrs.field(default=15, validator=_count)
    max_output_chars: int = attrs.field(default=4000, validator=_count)
    """The most characters kept of each of stdout, stderr and the value."""
    max_line_chars: int = attrs.field(default=400, validator=_count)
    """The most characters kept of one line (a wide DataFrame row, a long list)."""
    summarize_attempts: bool = True
    """Show each earlier attempt of a request in one line in the prompts of later retries."""


@hookimpl
def weaver_config_tables() -> list[ConfigTable]:
    return [ConfigTable(NAME, FeedbackTrimmerConfig, "Trimming of execution feedback for the model")]


@hookimpl
def weaver_trim_feedback(result: ExecutionResult, ctx: HookContext) -> ExecutionResult | None:
    settings = ctx.config.table(FeedbackTrimmerConfig)
    if not settings.enabled:
        return None
    from weaver_feedback_trimmer.result import trim_result

    return trim_result(result, settings)


@hookimpl
def weaver_summarize_attempt(run: CodeRun, ctx: HookContext) -> str | None:
    settings = ctx.config.table(FeedbackTrimmerConfig)
    if not (settings.enabled and settings.summarize_attempts):
        return None
    from weaver_feedback_trimmer.result import attempt_line

    return attempt_line(run)
