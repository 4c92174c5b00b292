"""A transcript as the page shows it: chat messages with collapsible panels, the plan, the cost.

Everything here is a pure function of a :class:`~weaver_web_ui.transcript.Transcript` and the
session's files, so a round watched live and one opened later render alike. Text the model
or the code wrote is shown as text: Markdown the chat sanitizes, code and output in fenced
blocks (a fence longer than any backtick run inside), never as HTML of its own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

from weaver.model import Usage
from weaver_web_ui.files import SessionFiles, is_image
from weaver_web_ui.tables import Table
from weaver_web_ui.transcript import Approval, Cell, RoundView, Step, Transcript

MAX_OUTPUT_CHARS = 20_000
"""Output shown per stream of a cell: its head and tail, with what was cut counted."""
ENDINGS = {
    "cancelled": "Cancelled: the round stopped here; what it did is kept.",
    "failed": "The round failed",
    "interrupted": "The round was interrupted",
}


@attrs.frozen
class NamedTable:
    """A table the session's code showed or saved, and where it came from."""

    label: str
    table: Table


def fence(text: str, language: str = "") -> str:
    """``text`` in a fenced block no backtick run inside it can close."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{language}\n{text.rstrip()}\n{ticks}"


def _clip(text: str) -> str:
    if len(text) <= MAX_OUTPUT_CHARS:
        return text
    half = MAX_OUTPUT_CHARS // 2
    return f"{text[:half]}\n… {len(text) - 2 * half:,} characters not shown …\n{text[-half:]}"


def plan_markdown(view: RoundView | None) -> str:
    """The round's plan: steps before the current one ticked, the current one marked and
    bold while the round runs, every step ticked once the round finished."""
    if view is None or not (view.plan or view.plan_steps):
        return "*No plan yet. Ask a question to start.*"
    steps = view.plan_steps or [{"text": line} for line in view.plan.splitlines() if line.strip()]
    labels = [_label(index, step) for index, step in enumerate(steps, 1)]
    current = " ".join((view.current_step or "").split())
    at = next((i for i, label in enumerate(labels) if current and (label.startswith(current) or current.startswith(label))), None)
    lines = []
    for index, label in enumerate(labels):
        if view.state == "finished" or (at is not None and index < at):
            lines.append(f"- ✓ {_escape(label)}")
        elif index == at:
            lines.append(f"- {'▶' if view.running else '■'} **{_escape(label)}**")
        else:
            lines.append(f"- ◦ {_escape(label)}")
    return "\n".join(lines)


def _label(index: int, step: Mapping[str, Any]) -> str:
    text = " ".join(str(step.get("text", "")).split())
    return text if re.match(r"^\d+[.)]", text) else f"{step.get('number', index)}. {text}"


def _escape(text: str) -> str:
    return re.sub(r"([\\`*_{}\[\]<>#+!~|])", r"\\\1", text)


def cost_markdown(usage: Usage) -> str:
    tokens = f"{usage.total_tokens:,} tokens"
    calls = f"{usage.llm_calls} LLM call" + ("" if usage.llm_calls == 1 else "s")
    money = f"${usage.cost:.4f}" + (" (estimated)" if usage.estimated else "")
    return f"**Cost so far:** {money} · {tokens} · {calls}"


def messages(transcript: Transcript, files: SessionFiles | None) -> list[dict[str, Any]]:
    """The chat: for each round the request, the steps (thought, code, output, plots,
    tables), the approvals, and the answer or how the round ended."""
    shown: list[dict[str, Any]] = []
    for number, view in enumerate(transcript.rounds):
        shown += _round(number, view, files)
    return shown


def _round(number: int, view: RoundView, files: SessionFiles | None) -> list[dict[str, Any]]:
    request = view.query or "(no request)"
    if view.files:
        request += "\n\n" + "\n".join(f"Uploaded `{name.rsplit('/', 1)[-1]}`" for name in view.files)
    out: list[dict[str, Any]] = [{"role": "user", "content": request}]
    approvals = sorted(view.approvals, key=lambda a: a.after_step)
    for index, step in enumerate(view.steps):
        out += _step(f"r{number}s{index}", step, files, view.running, waiting=view.pending_approval() is not None)
        # Asked while this step was the one working (``after_step`` steps had ended before it).
        out += [_approval(a, view.running) for a in approvals if a.after_step == index]
    out += [_approval(a, view.running) for a in approvals if a.after_step >= len(view.steps)]
    if view.answer or view.answering:
        out.append({"role": "assistant", "content": view.answer or view.answering})
    if view.running and not view.answering:
        status = view.status or "Working…"
        out.append({"role": "assistant", "content": "", "metadata": {"title": f"{status}", "status": "pending"}})
    elif not view.running and view.state != "finished":
        ending = ENDINGS.get(view.state, f"The round ended: {view.state}")
        detail = view.error or (view.reason if view.reason != view.state else "") or ""
        out.append({"role": "assistant", "content": f"{ending}" + (f": {detail}" if detail else "")})
    return out


def _step(key: str, step: Step, files: SessionFiles | None, running: bool, *, waiting: bool = False) -> list[dict[str, Any]]:
    pending = running and not step.done
    title = f"{step.role or 'Worker'}" + (f" — {step.plan_step}" if step.plan_step else "")
    body = []
    if step.request:
        body.append(f"**Asked:** {step.request}")
    if step.thought:
        body.append(f"*{step.thought.strip()}*")
    if step.status and pending:
        body.append(f"_{step.status}_")
    meta = {"title": title, "id": key, "status": "pending" if pending else "done"}
    out = [{"role": "assistant", "content": "\n\n".join(body) or "…", "metadata": meta}]
    for index, cell in enumerate(step.cells):
        out.append({"role": "assistant", "content": _cell(cell, index + 1, files, running, waiting=waiting)})
    if step.reply:
        out.append({"role": "assistant", "content": step.reply})
    return out


def _cell(cell: Cell, number: int, files: SessionFiles | None, running: bool, *, waiting: bool = False) -> str:
    # A cell held for a person's approval has not started: saying "running" would mislead.
    held = waiting and not cell.output
    state = ("waiting for approval" if held else "running…") if cell.running and running else _outcome(cell)
    parts = [f"**Code cell {number}** · {state}", fence(cell.code or "# the model is writing the code…", "python")]
    for stream in ("stdout", "stderr"):
        printed = cell.printed(stream)
        if printed.strip():
            parts.append(("**Output**" if stream == "stdout" else "**Errors**") + "\n" + fence(_clip(printed), "text"))
    result = cell.result or {}
    if result.get("value_repr") and not _shown_as_table(result):
        parts.append(fence(_clip(str(result["value_repr"])), "text"))
    error = result.get("error")
    if isinstance(error, Mapping) and result.get("outcome") != "cancelled":  # the interrupt's traceback says nothing
        parts.append("**Error**\n" + fence(_clip(str(error.get("traceback") or f"{error.get('type')}: {error.get('message')}")), "text"))
    if cell.note:
        parts.append(f"**Not run:** {cell.note}")
    if files is not None:
        parts += _media(result, files)
    return "\n\n".join(parts)


def _outcome(cell: Cell) -> str:
    if cell.note:
        return "not run"
    result = cell.result or {}
    if result.get("ok"):
        return f"ran in {float(result.get('duration_s') or 0):.1f} s"
    return str(result.get("outcome") or "stopped").replace("_", " ")


def _shown_as_table(result: Mapping[str, Any]) -> bool:
    return any(str(d.get("artifact") or "").endswith(".html") for d in result.get("displays", ()) if isinstance(d, Mapping))


def _media(result: Mapping[str, Any], files: SessionFiles) -> list[str]:
    """Plots inline, tables as tables, other artifacts as download links."""
    parts: list[str] = []
    seen: set[str] = set()
    for path in _artifact_paths(result):
        relative = files.artifact(path)
        if relative is None or relative in seen:
            continue
        seen.add(relative)
        name = relative.rsplit("/", 1)[-1]
        if is_image(relative):
            parts.append(f"![{_escape(name)}]({files.url('artifacts', relative)})")
            continue
        table = files.table("artifacts", relative)
        if table is not None:
            more = f"\n\n*{table.total:,} rows; the first {len(table.rows)} shown.*" if table.total > len(table.rows) else ""
            parts.append(table.markdown() + more)
        if not relative.endswith(".html"):
            parts.append(f"Download [{_escape(name)}]({files.url('artifacts', relative, download=True)})")
    return parts


def _artifact_paths(result: Mapping[str, Any]) -> list[str]:
    """The files a result names: what its displays were saved to, then the artifacts it made."""
    paths = [str(d.get("artifact") or "") for d in result.get("displays", ()) if isinstance(d, Mapping)]
    paths += [str(a.get("path") or "") for a in result.get("artifacts", ()) if isinstance(a, Mapping)]
    return [path for path in paths if path]


def _approval(approval: Approval, running: bool) -> dict[str, Any]:
    request, answer = approval.request, approval.answer
    what = "the plan" if request.get("kind") == "plan" else "this code"
    reasons = [str(r) for r in request.get("reasons", ())]
    why = ("\n\n" + "\n".join(f"- {r}" for r in reasons)) if reasons else ""
    if answer is None and running:
        title, status = f"Waiting for your approval of {what}", "pending"
        body = f"Answer in the approval panel below the chat.{why}"
    elif answer is None:
        title, status = "Not answered: the round ended first", "done"
        body = fence(str(request.get("content", "")), "python" if what == "this code" else "")
    else:
        decision, by = str(answer.get("decision")), str(answer.get("by", "user"))
        who = "by timeout" if by == "timeout" else "by you"
        title = {"approved": f"Approved {who}", "edited": f"Edited and approved {who}"}.get(decision, f"Rejected {who}")
        status = "done"
        body = fence(str(request.get("content", "")), "python" if what == "this code" else "")
        if answer.get("reason"):
            body += f"\n\n**Reason:** {answer['reason']}"
    return {"role": "assistant", "content": body, "metadata": {"title": title, "status": status}}


def tables(transcript: Transcript, files: SessionFiles) -> list[NamedTable]:
    """Every table the session's code displayed or saved as an artifact, latest last."""
    found: dict[str, NamedTable] = {}
    for number, view in enumerate(transcript.rounds, 1):
        for step in view.steps:
            for cell in step.cells:
                for path in _artifact_paths(cell.result or {}):
                    relative = files.artifact(path)
                    table = files.table("artifacts", relative) if relative else None
                    if relative and table is not None:
                        found[relative] = NamedTable(f"round {number} · {relative}", table)
    return list(found.values())
