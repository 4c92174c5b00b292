"""A session as Markdown, for ``/save`` in chat and ``weaver sessions export``."""

from __future__ import annotations

import re
from collections.abc import Iterable

from weaver.model import USER, AttachmentType, Round

_CODE_TYPES = frozenset({AttachmentType.reply_content})
_SKIPPED = frozenset(
    {AttachmentType.reply_type, AttachmentType.session_variables, AttachmentType.shared_memory_entry}
)


def fence(text: str, language: str = "") -> str:
    """``text`` as a fenced Markdown block, its fence longer than any backtick run inside."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{language}\n{text.rstrip()}\n{ticks}"


def round_markdown(round: Round, number: int) -> str:
    """One round: the request, each role's post with its attachments, how it ended."""
    ended = f"*{round.state.value}*" + (f": {round.reason}" if round.reason else "")
    lines = [f"## Round {number}: {round.user_query}", "", ended, ""]
    for post in round.posts:
        if post.send_from == USER:
            continue
        lines += [f"### {post.send_from} → {post.send_to}", ""]
        reply_type = post.attachment(AttachmentType.reply_type)
        for attachment in post.attachments:
            if attachment.type in _SKIPPED:
                continue
            if attachment.type in _CODE_TYPES and (reply_type is None or reply_type.content.strip() == "python"):
                lines += [f"**{attachment.type}**", "", fence(attachment.content, "python"), ""]
            elif "\n" in attachment.content.strip():
                lines += [f"**{attachment.type}**", "", fence(attachment.content), ""]
            else:
                lines += [f"**{attachment.type}**: {attachment.content.strip()}", ""]
        if post.message.strip():
            lines += [post.message.strip(), ""]
    usage = round.usage
    lines += [
        f"*{usage.llm_calls} LLM calls, {usage.total_tokens} tokens"
        + (f", ${usage.cost:.4f}" if usage.cost else "")
        + "*",
        "",
    ]
    return "\n".join(lines)


def session_markdown(session_id: str, rounds: Iterable[Round]) -> str:
    """A whole session, round after round."""
    parts = [f"# Weaver session {session_id}", ""]
    parts += [round_markdown(round, number) for number, round in enumerate(rounds, 1)]
    return "\n".join(parts).rstrip() + "\n"
