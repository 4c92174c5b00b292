"""The default text a model reads about an execution: everything it produced, untrimmed.

Trimming (a traceback's head and tail, long output) belongs to extensions that implement
``weaver_trim_feedback``. Variables are the exception: a result names only those the
execution created, changed or deleted, since roles show the kernel's whole inventory once,
as the current state, and repeating it in every result made prompts grow with every run.
"""

from __future__ import annotations

from collections.abc import Sequence

from weaver.execution.result import ExecutionResult, VariableInfo

_OUTCOMES = {
    "ok": "succeeded",
    "error": "failed with an error",
    "timeout_interrupted": "was interrupted at the time limit",
    "timeout_restarted": "hit the time limit and the kernel was restarted",
    "kernel_died": "crashed the kernel",
    "cancelled": "was cancelled",
}


MAX_CHANGED = 20
"""The most new or changed variables one result lists; the rest are counted."""


def describe_variable(var: VariableInfo) -> str:
    """One line for a variable: ``- name: type [shape] preview``."""
    return (
        f"- {var.name}: {var.type}"
        + (f" [{var.shape_or_len}]" if var.shape_or_len else "")
        + (f" {var.preview}" if var.preview else "")
    )


def variable_changes(before: Sequence[VariableInfo], after: Sequence[VariableInfo]) -> str:
    """What an execution did to the kernel's variables, or ``""`` when nothing changed."""
    earlier = {v.name: v for v in before}
    changed = [v for v in after if earlier.get(v.name) != v]
    names = {v.name for v in after}
    deleted = [name for name in earlier if name not in names]
    sections = []
    if changed:
        lines = [describe_variable(v) for v in changed[:MAX_CHANGED]]
        if len(changed) > MAX_CHANGED:
            lines.append(f"- ... and {len(changed) - MAX_CHANGED} more")
        sections.append("New or changed variables:\n" + "\n".join(lines))
    if deleted:
        sections.append("Deleted variables: " + ", ".join(deleted))
    return "\n\n".join(sections)


def format_result(result: ExecutionResult, variables_before: Sequence[VariableInfo] = ()) -> str:
    """``result`` as sections of plain text, in the order a reader needs them.

    ``variables_before`` is the inventory before the run: only the variables the run
    created, changed or deleted are listed (all of them when it is empty).
    """
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
    changes = variable_changes(() if result.state_lost else variables_before, result.variables)
    if changes:
        sections.append(changes)
    if result.truncated:
        sections.append("Cut from this output:\n" + "\n".join(f"- {note}" for note in result.truncated))
    return "\n\n".join(sections)
