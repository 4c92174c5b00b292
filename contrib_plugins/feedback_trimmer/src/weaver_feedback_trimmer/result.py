"""An execution result with its long texts trimmed, ready for the core's default formatter."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from weaver_feedback_trimmer.trim import Trimmed, trim_output, trim_traceback

if TYPE_CHECKING:
    from weaver.execution import ExecutionResult
    from weaver_feedback_trimmer import FeedbackTrimmerConfig


def _note(what: str, trimmed: Trimmed) -> list[str]:
    if not trimmed.cut:
        return []
    parts = []
    if trimmed.omitted_lines:
        parts.append(f"{trimmed.omitted_lines} lines")
    if trimmed.omitted_chars:
        parts.append(f"{trimmed.omitted_chars} characters")
    return [f"{what}: {' and '.join(parts)} omitted by the feedback trimmer"]


def trim_result(result: ExecutionResult, settings: FeedbackTrimmerConfig) -> ExecutionResult:
    """``result`` with its traceback, stdout, stderr and value trimmed; each cut noted in ``truncated``."""
    notes: list[str] = []

    def output(what: str, text: str) -> str:
        trimmed = trim_output(
            text,
            head=settings.output_head_lines,
            tail=settings.output_tail_lines,
            max_chars=settings.max_output_chars,
            max_line_chars=settings.max_line_chars,
        )
        notes.extend(_note(what, trimmed))
        return trimmed.text

    error = result.error
    if error is not None and error.traceback:
        trimmed = trim_traceback(
            error.traceback,
            head=settings.traceback_head_lines,
            tail=settings.traceback_tail_lines,
            max_line_chars=settings.max_line_chars,
        )
        notes.extend(_note("traceback", trimmed))
        error = attrs.evolve(error, traceback=trimmed.text)
    return attrs.evolve(
        result,
        error=error,
        stdout=output("stdout", result.stdout),
        stderr=output("stderr", result.stderr),
        value_repr=None if result.value_repr is None else output("value", result.value_repr),
        truncated=(*result.truncated, *notes),
    )
