"""weaver-feedback-trimmer: execution feedback trimmed before it goes back into a prompt.

On ``weaver_trim_feedback`` a traceback keeps its head and last ``traceback_tail_lines``
lines, and stdout, stderr and the value their head and tail, each cut marked with what was
omitted (:mod:`weaver_feedback_trimmer.trim`); the core's formatter then lays the result out.
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
    from weaver.execution.result import ExecutionResult

NAME = "feedback_trimmer"
_count = at_least(0)


@attrs.frozen
class FeedbackTrimmerConfig:
    """``[feedback_trimmer]``: how much of each part of an execution result the model reads."""

    enabled: bool = True
    traceback_head_lines: int = attrs.field(default=4, validator=_count)
    """Lines kept from a traceback's start: the header and the frame in the model's own code."""
    traceback_tail_lines: int = attrs.field(default=15, validator=_count)
    """Lines kept from a traceback's end: the frames nearest the error and the error itself."""
    output_head_lines: int = attrs.field(default=15, validator=_count)
    output_tail_lines: int = attrs.field(default=15, validator=_count)
    max_output_chars: int = attrs.field(default=4000, validator=_count)
    """The most characters kept of each of stdout, stderr and the value."""
    max_line_chars: int = attrs.field(default=400, validator=_count)
    """The most characters kept of one line (a wide DataFrame row, a long list)."""


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
