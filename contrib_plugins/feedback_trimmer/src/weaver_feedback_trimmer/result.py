"""An execution result with its long texts trimmed, and an earlier attempt in one line."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import attrs

from weaver.llm.usage import estimate_tokens
from weaver_feedback_trimmer.trim import EXCEPTION_LINES, Trimmed, cap_lines, failing_line, trim_output, trim_traceback

if TYPE_CHECKING:
    from weaver.execution import ExecutionResult
    from weaver.execution.pipeline import CodeRun
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


def _by_lines(text: str, head: int, tail: int) -> tuple[str, int]:
    lines = text.splitlines()
    omitted = len(lines) - head - tail
    if omitted < 2:
        return text, 0
    kept = [*lines[:head], f"... [{omitted} output lines omitted] ...", *(lines[-tail:] if tail else [])]
    return "\n".join(kept) + ("\n" if text.endswith("\n") else ""), omitted


def trim_result(result: ExecutionResult, settings: FeedbackTrimmerConfig) -> ExecutionResult:
    """``result`` with its traceback, error message, stdout, stderr and value trimmed; each cut noted."""
    notes: list[str] = []

    def output(what: str, text: str) -> str:
        text, by_lines = _by_lines(text, settings.output_head_lines, settings.output_tail_lines)
        trimmed = trim_output(
            text,
            head_tokens=settings.output_head_tokens,
            tail_tokens=settings.output_tail_tokens,
            max_chars=settings.max_output_chars,
            max_line_chars=settings.max_line_chars,
            estimate=estimate_tokens,
        )
        trimmed = attrs.evolve(trimmed, omitted_lines=trimmed.omitted_lines + by_lines)
        notes.extend(_note(what, trimmed))
        return trimmed.text

    error = result.error
    if error is not None:
        # The formatter shows the error's message beside the traceback: keep it once, capped.
        message = "\n".join(cap_lines(error.message.splitlines(), EXCEPTION_LINES))
        traceback = error.traceback
        if traceback:
            trimmed = trim_traceback(
                traceback,
                head=settings.traceback_head_lines,
                tail=settings.traceback_tail_lines,
                max_line_chars=settings.max_line_chars,
                exception=False,
            )
            notes.extend(_note("traceback", trimmed))
            traceback = trimmed.text
        error = attrs.evolve(error, message=message, traceback=traceback)
    return attrs.evolve(
        result,
        error=error,
        stdout=output("stdout", result.stdout),
        stderr=output("stderr", result.stderr),
        value_repr=None if result.value_repr is None else output("value", result.value_repr),
        truncated=(*result.truncated, *notes),
    )


def code_hash(code: str) -> str:
    """A short stable name for a piece of code, so the model can tell its attempts apart."""
    return hashlib.sha1(code.encode("utf-8"), usedforsecurity=False).hexdigest()[:8]


def attempt_line(run: CodeRun) -> str | None:
    """An abandoned attempt in one line: its code's hash, how it failed, the line that failed."""
    where = f"code {code_hash(run.code)}"
    if run.violations:
        first = run.violations[0]
        return f"{where}: refused by the verifier: [{first.rule}] {_first_line(first.message)}"
    if run.result is None:
        return f"{where}: not run: {_first_line(run.stopped.message if run.stopped else run.feedback)}"
    error = run.result.error
    if error is None:
        return None if run.result.ok else f"{where}: {run.result.outcome}"
    shown = f"{where}: {error.type}: {_first_line(error.message)}"
    number = failing_line(error.traceback)
    lines = run.code.splitlines()
    if number is not None and 0 < number <= len(lines):
        shown += f" at line {number}: `{lines[number - 1].strip()[:160]}`"
    return shown


def _first_line(text: str) -> str:
    stripped = text.strip()
    return stripped.splitlines()[0][:200] if stripped else ""
