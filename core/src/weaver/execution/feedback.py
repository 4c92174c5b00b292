"""The default text a model reads about an execution: everything, untrimmed.

Trimming (a traceback's head and tail, long output) belongs to guard extensions that
implement ``weaver_format_feedback`` and come before this ``trylast`` default.
"""

from __future__ import annotations

from weaver.execution.result import ExecutionResult

_OUTCOMES = {
    "ok": "succeeded",
    "error": "failed with an error",
    "timeout_interrupted": "was interrupted at the time limit",
    "timeout_restarted": "hit the time limit and the kernel was restarted",
    "kernel_died": "crashed the kernel",
}


def format_result(result: ExecutionResult) -> str:
    """``result`` as sections of plain text, in the order a reader needs them."""
    sections = [f"The execution {_OUTCOMES.get(result.outcome, result.outcome)} ({result.duration_s:.2f} s)."]
    if result.state_lost:
        lost = ", ".join(result.lost_variables) or "none were defined"
        sections.append(f"Kernel state was lost; variables to recreate: {lost}.")
    if result.error is not None:
        error = f"Error: {result.error.type}: {result.error.message}"
        if result.error.traceback:
            error += f"\nTraceback:\n{result.error.traceback}"
        sections.append(error)
    if result.value_repr is not None:
        sections.append(f"Value:\n{result.value_repr}")
    if result.stdout:
        sections.append(f"stdout:\n{result.stdout}")
    if result.stderr:
        sections.append(f"stderr:\n{result.stderr}")
    displays = [d.text or ", ".join(d.mimes) for d in result.displays]
    if displays:
        sections.append("Displayed:\n" + "\n".join(displays))
    if result.artifacts:
        sections.append("Artifacts:\n" + "\n".join(f"- {a.path} ({a.mime})" for a in result.artifacts))
    if result.plugin_calls:
        calls = ", ".join(f"{name} x{count}" for name, count in sorted(result.plugin_calls.items()))
        sections.append(f"Plugin calls: {calls}.")
    if result.variables:
        lines = [
            f"- {v.name}: {v.type}"
            + (f" [{v.shape_or_len}]" if v.shape_or_len else "")
            + (f" {v.preview}" if v.preview else "")
            for v in result.variables
        ]
        sections.append("Variables:\n" + "\n".join(lines))
    if result.truncated:
        sections.append("Cut from this output:\n" + "\n".join(f"- {note}" for note in result.truncated))
    return "\n\n".join(sections)
