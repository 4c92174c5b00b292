"""Posts, attachments and rounds as rich renderables, for the live view and ``sessions show``.

Each function turns one value into something a :class:`rich.console.Console` prints; none
of them prints. Colors are styles only: a console without color support drops them.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.syntax import Syntax
from rich.text import Text

from weaver.model import USER, Attachment, AttachmentType, Post, Round, RoundState, Usage

ROLE_STYLES = {"Planner": "bold magenta", "CodeInterpreter": "bold cyan", USER: "bold green"}
_PALETTE = ("bold blue", "bold yellow", "bold bright_magenta", "bold bright_cyan", "bold bright_blue")
MAX_RESULT_LINES = 30
"""Longer execution output is shown by its head and tail; the session log keeps all of it."""
TRACEBACK_LINES = 12
CURRENT_MARK = "▶"
_STEP_NUMBER = re.compile(r"^\s*(\d+)[.)]?(?:\s|$)")

# Attachments that say nothing to a person, or that another block already shows.
_HIDDEN = frozenset(
    {
        AttachmentType.init_plan,
        AttachmentType.current_plan_step,
        AttachmentType.stop,
        AttachmentType.reply_type,
        AttachmentType.execution_status,
        AttachmentType.session_variables,
        AttachmentType.shared_memory_entry,
    }
)
_LABELLED_TEXT: dict[str, str] = {
    AttachmentType.plan_reasoning: "reasoning",
    AttachmentType.thought: "thought",
    AttachmentType.text: "note",
}
_WARNINGS: dict[str, str] = {
    AttachmentType.verification: "verifier",
    AttachmentType.code_error: "code error",
    AttachmentType.guard_verdict: "guard",
    AttachmentType.invalid_response: "rejected reply",
    AttachmentType.revise_message: "asked to revise",
}


def role_style(alias: str) -> str:
    """A stable style per role: the built-in roles have fixed ones, others a hashed color."""
    return ROLE_STYLES.get(alias) or _PALETTE[zlib.crc32(alias.encode()) % len(_PALETTE)]


def role_name(alias: str) -> Text:
    return Text(alias, style=role_style(alias))


def post_header(send_from: str) -> Text:
    """The line that opens a role's post."""
    return Text.assemble(("── ", "dim"), role_name(send_from), (" " + "─" * 8, "dim"))


def indent(renderable: RenderableType) -> Padding:
    return Padding(renderable, (0, 0, 0, 2), expand=False)


def step_number(text: str) -> int | None:
    """The leading number of a plan line or step (``"2. plot it"`` → 2)."""
    match = _STEP_NUMBER.match(text)
    return int(match.group(1)) if match else None


def plan_block(plan: str, current_step: str | None) -> RenderableType:
    """The plan, one step a line, the current step marked with ``▶`` and highlighted."""
    current = step_number(current_step) if current_step else None
    wanted = (current_step or "").strip().lower()
    lines = Text()
    for line in plan.strip().splitlines():
        number = step_number(line)
        is_current = bool(current_step) and (
            number == current if current is not None else bool(wanted) and wanted in line.lower()
        )
        if is_current:
            lines.append(f"{CURRENT_MARK} {line.strip()}\n", style="bold")
        else:
            lines.append(f"  {line.strip()}\n")
    lines.rstrip()
    return Group(Text("plan", style="dim"), indent(lines))


def code_block(code: str) -> RenderableType:
    """Python, syntax highlighted (plain text on a console without color)."""
    return Syntax(code.rstrip("\n"), "python", theme="ansi_dark", background_color="default", word_wrap=True)


def _elide(text: str, limit: int = MAX_RESULT_LINES) -> str:
    lines = text.rstrip("\n").splitlines()
    if len(lines) <= limit:
        return "\n".join(lines)
    head, tail = lines[: limit // 3], lines[-(limit - limit // 3) :]
    return "\n".join([*head, f"... {len(lines) - len(head) - len(tail)} more lines ...", *tail])


def execution_block(attachment: Attachment, *, printed_output: bool = False) -> RenderableType:
    """An execution result: a one-line outcome, then what the code printed and returned.

    The structured result (``extra``) is shown when there is one: the person sees the
    output, not the feedback text written for the model; otherwise that text is shown.
    ``printed_output``: the output was shown as it was printed, so only the value follows.
    """
    result = attachment.extra if isinstance(attachment.extra, Mapping) else {}
    duration = result.get("duration_s")
    took = f" in {duration:.2f} s" if isinstance(duration, (int, float)) else ""
    if result and not result.get("ok", True):
        error = result.get("error") or {}
        what = f"{error.get('type', '')}: {error.get('message', '')}".strip(": ") or result.get("outcome", "error")
        head = Text(f"✗ failed{took}: {what}", style="bold red")
    else:
        head = Text(f"✓ executed{took}", style="green")
    parts: list[RenderableType] = [head]
    if not result:
        if attachment.content.strip():
            parts.append(indent(Text(_elide(attachment.content), style="dim")))
        return Group(*parts)
    shown = ("value_repr",) if printed_output else ("stdout", "value_repr", "stderr")
    for key, style in (("stdout", "dim"), ("value_repr", ""), ("stderr", "yellow")):
        text = (result.get(key) or "") if key in shown else ""
        if text.strip():
            parts.append(indent(Text(_elide(text), style=style)))
    traceback = (result.get("error") or {}).get("traceback") or ""
    if not result.get("ok", True) and traceback.strip():
        parts.append(indent(Text(_elide(traceback, TRACEBACK_LINES), style="red")))
    if result.get("state_lost"):
        lost = ", ".join(result.get("lost_variables") or ()) or "none"
        parts.append(indent(Text(f"the kernel was restarted; variables lost: {lost}", style="yellow")))
    return Group(*parts)


def artifact_paths(attachment: Attachment) -> list[str]:
    """Paths named by an ``artifact_paths`` attachment (structured ``extra`` first, else lines)."""
    extra = attachment.extra
    if isinstance(extra, Sequence) and not isinstance(extra, str):
        return [item["path"] if isinstance(item, Mapping) else str(item) for item in extra]
    return [line.strip() for line in attachment.content.splitlines() if line.strip()]


def artifacts_block(paths: Iterable[str]) -> Text:
    text = Text()
    for path in paths:
        text.append("artifact ", style="bold green")
        text.append(f"{path}\n", style=f"link file://{path}" if path.startswith("/") else "")
    text.rstrip()
    return text


def attachment_block(
    attachment: Attachment, reply_type: str | None = None, *, printed_output: bool = False
) -> RenderableType | None:
    """How one attachment looks, or ``None`` for those a person need not see.

    ``reply_type`` is the post's ``reply_type`` (``python`` or ``text``), which says whether
    ``reply_content`` is code; ``printed_output`` that the code's output was already shown live.
    """
    kind = attachment.type
    if kind in _HIDDEN:
        return None
    if kind is AttachmentType.plan:
        return plan_block(attachment.content, None)
    if kind in _LABELLED_TEXT:
        return Text.assemble((f"{_LABELLED_TEXT[kind]} ", "dim"), (attachment.content.strip(), "italic"))
    if kind is AttachmentType.reply_content:
        if (reply_type or "python") == "python":
            return code_block(attachment.content)
        return Text(attachment.content.strip())
    if kind is AttachmentType.execution_result:
        return execution_block(attachment, printed_output=printed_output)
    if kind is AttachmentType.artifact_paths:
        return artifacts_block(artifact_paths(attachment))
    if kind is AttachmentType.file:
        path = attachment.extra.get("path") if isinstance(attachment.extra, Mapping) else None
        return Text.assemble(("file ", "bold"), attachment.content, (f"  ({path})" if path else "", "dim"))
    if kind is AttachmentType.verification and attachment.content.strip() == "passed":
        return None
    if kind in _WARNINGS:
        return Text.assemble((f"{_WARNINGS[kind]} ", "bold yellow"), (attachment.content.strip(), "yellow"))
    return Text.assemble((f"{kind} ", "dim"), attachment.content.strip())  # any type, an extension's too, as text


def message_block(send_from: str, send_to: str, message: str, *, brief: bool = False) -> RenderableType:
    """A post's message: the answer to the user stands out; a hand-over follows an arrow.

    ``brief`` shows only the first line of a hand-over, for messages that repeat what the
    post's attachments already showed (the code and its result).
    """
    if send_to == USER:
        head = Text.assemble(("→ ", "dim"), role_name(USER))
        return Group(head, indent(Text(message.strip(), style="bold"))) if message.strip() else head
    text = message.strip()
    if brief and "\n" in text:
        text = text.splitlines()[0] + " …"
    return Text.assemble(("→ ", "dim"), role_name(send_to), (": ", "dim"), text)


def reply_type_of(attachments: Iterable[Attachment]) -> str | None:
    found = [a.content.strip() for a in attachments if a.type is AttachmentType.reply_type]
    return found[-1] if found else None


def post_blocks(post: Post, skip: Iterable[str] = ()) -> list[RenderableType]:
    """Every block of a finished post (attachments in order, the plan with its step marked,
    then the message), leaving out attachments whose ids are in ``skip``."""
    skipped = set(skip)
    reply_type = reply_type_of(post.attachments)
    current = post.attachment(AttachmentType.current_plan_step)
    blocks: list[RenderableType] = []
    for attachment in post.attachments:
        if attachment.id in skipped:
            continue
        if attachment.type is AttachmentType.plan:
            block: RenderableType | None = plan_block(attachment.content, current.content if current else None)
        else:
            block = attachment_block(attachment, reply_type)
        if block is not None:
            blocks.append(block)
    ran_code = post.attachment(AttachmentType.execution_result) is not None
    blocks.append(message_block(post.send_from, post.send_to, post.message, brief=ran_code))
    return blocks


def counted(n: int, noun: str) -> str:
    """``1 round``, ``2 rounds``, ``0 rounds``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def usage_text(usage: Usage) -> str:
    """``3 LLM calls · 4,512 tokens · $0.0021`` (``~`` marks estimated counts)."""
    approx = "~" if usage.estimated else ""
    parts = [counted(usage.llm_calls, "LLM call")]
    parts.append(f"{approx}{usage.total_tokens:,} tokens ({usage.prompt_tokens:,} in, {usage.completion_tokens:,} out)")
    if usage.cost:
        parts.append(f"{approx}${usage.cost:.4f}")
    return " · ".join(parts)


_STATE_LOOK = {
    RoundState.finished: ("✓ finished", "bold green"),
    RoundState.failed: ("✗ failed", "bold red"),
    RoundState.cancelled: ("■ cancelled", "bold yellow"),
}


def round_summary(round: Round) -> Text:
    """One line: how the round ended, why, how long it took and what it cost."""
    label, style = _STATE_LOOK.get(round.state, (round.state.value, "bold"))
    text = Text(label, style=style)
    # "✓ finished: Completed" and "■ cancelled: cancelled" say one thing twice.
    said = round.reason in ("Completed", round.state.value)
    if round.reason and not said:
        first, _, more = round.reason.partition("\n")
        text.append(f": {first}" + (" …" if more else ""))
    details = Text(style="dim")
    if round.ended_at:
        details.append(f" · {round.ended_at - round.created_at:.1f} s")
    if round.usage.llm_calls:
        details.append(f" · {usage_text(round.usage)}")
    return Text.assemble(text, details)


def round_blocks(round: Round) -> list[RenderableType]:
    """A whole round as the live view would have shown it (for ``weaver sessions show``)."""
    blocks: list[RenderableType] = [Text.assemble(("you ", "bold green"), round.user_query)]
    for post in round.posts:
        if post.send_from == USER:
            continue
        blocks.append(post_header(post.send_from))
        blocks.extend(indent(block) for block in post_blocks(post))
    blocks.append(round_summary(round))
    return blocks


def describe(value: Any) -> str:
    """A short one-line form of any text, for lists."""
    text = " ".join(str(value or "").split())
    return text if len(text) <= 60 else text[:57] + "..."
