"""Reading rounds for compression: their size in tokens, their gist, the variables still alive.

Everything here is deterministic and needs no model. :func:`condense` is both the fallback
summary (when the summarizing model fails or has not answered yet) and the material the
model summarizes: it keeps what later rounds build on (the request, the plan, the code that
ran, the answer, variable names) and drops what they do not (outputs, tracebacks, failed
attempts, which are the bulk of a round).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import attrs

from weaver.model import Attachment, AttachmentType, Post, Round
from weaver.serde import to_data

Estimate = Callable[[str], int]


def _relevant_posts(item: Round, role: str) -> list[Post]:
    """The posts ``role`` sees of a round: those it sent or received (all when it took no part)."""
    mine = [p for p in item.posts if role in (p.send_from, p.send_to)]
    return mine or list(item.posts)


def round_text(item: Round, role: str) -> str:
    """A round as text, roughly as a role's prompt would show it (for estimating its size)."""
    parts = []
    for post in _relevant_posts(item, role):
        parts.append(f"{post.send_from} -> {post.send_to}: {post.message}")
        parts.extend(f"{a.type}: {a.content}" for a in post.attachments)
    return "\n".join(parts)


def history_tokens(rounds: Sequence[Round], role: str, estimate: Estimate) -> Iterator[int]:
    """The estimated tokens each round adds to ``role``'s prompt, newest round first.

    Lazily, so that a caller who needs only the recent rounds' sizes estimates only those.
    """
    return (estimate(round_text(item, role)) for item in reversed(rounds))


def execution(attachment: Attachment) -> Mapping[str, Any] | None:
    """The execution result an ``execution_result`` attachment carries in ``extra``, as JSON data."""
    if attachment.type is not AttachmentType.execution_result or attachment.extra is None:
        return None
    data = to_data(attachment.extra) if attrs.has(type(attachment.extra)) else attachment.extra
    return data if isinstance(data, Mapping) and "ok" in data else None


def _executions_newest_first(rounds: Sequence[Round]) -> Iterator[Mapping[str, Any]]:
    for item in reversed(rounds):
        for post in reversed(item.posts):
            for attachment in reversed(post.attachments):
                data = execution(attachment)
                if data is not None:
                    yield data


def alive_variables(rounds: Sequence[Round]) -> tuple[str, ...]:
    """Names of the user variables in the kernel after the latest execution of these rounds.

    Each execution result carries the kernel's whole inventory, so the latest one is what is
    alive now; a restarted kernel's result has an empty inventory.
    """
    # Newest first, stopping at the first found: converting every older result would make
    # each call cost as much as the whole session's history.
    latest = next(_executions_newest_first(rounds), None)
    if latest is None:
        return ()
    return tuple(str(v.get("name")) for v in latest.get("variables", ()) if isinstance(v, Mapping) and v.get("name"))


def _shown_data(item: Round) -> Mapping[str, Any] | None:
    """The round's last successful execution that showed something."""
    for post in reversed(item.posts):
        for attachment in reversed(post.attachments):
            data = execution(attachment)
            if data is not None and data.get("ok") and (data.get("value_repr") or data.get("stdout")):
                return data
    return None


def _one_line(text: str, max_chars: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= max_chars else f"{text[:max_chars]}…"


def shown(item: Round, max_chars: int = 80) -> str:
    """What the round's last successful execution showed (its value, then what it printed), in one line."""
    data = _shown_data(item)
    if data is None:
        return ""
    parts = [str(data.get(key) or "").strip() for key in ("value_repr", "stdout")]
    return _one_line(" | printed: ".join(part for part in parts if part), max_chars)


_LABELLED = re.compile(r"(?<![\w.])([A-Za-z_][\w ]{0,40}?)\s*[=:]\s*(-?\$?\d[\d,]*(?:\.\d+)?%?)(?![\w.])")
"""``name = 12.5``, ``total: 1,350``, ``TOTAL_MONTH_2=1350``: a number printed with its name."""


def labelled_numbers(text: str, limit: int = 3) -> tuple[str, ...]:
    """Up to ``limit`` numbers printed with a name in ``text``, as ``name=value``."""
    found = []
    for match in _LABELLED.finditer(text):
        item = f"{match.group(1).strip()}={match.group(2)}"
        if item not in found:
            found.append(item)
        if len(found) == limit:
            break
    return tuple(found)


@attrs.frozen
class _Fact:
    number: int
    full: str
    compact: str
    labelled: bool


def _fact(number: int, item: Round, max_chars: int) -> _Fact | None:
    data = _shown_data(item)
    if data is None:
        return None
    value = str(data.get("value_repr") or "").strip()
    named = labelled_numbers(str(data.get("stdout") or ""))
    compact = "; ".join(part for part in (_one_line(value, 40) if value else "", *named) if part)
    return _Fact(number, f"Shown in round {number}: {shown(item, max_chars)}", f"Shown in round {number}: {compact}", bool(named))


FULL_FACTS = 5
"""How many of the newest summarized rounds keep their fact in full; older ones are compacted."""


def results_shown(
    rounds: Sequence[Round], first_number: int, *, max_chars: int, max_tokens: int, estimate: Callable[[str], int]
) -> str:
    """What each summarized round showed the User, within ``max_tokens``, oldest first.

    A printed number is a fact a later round may ask for, so these lines outlive the
    summary's wording; but they must not grow with the session. The newest
    :data:`FULL_FACTS` rounds keep their line (``max_chars``); older rounds keep only
    their value and the numbers printed with a name (``total=1350``). Past ``max_tokens``
    the oldest lines without a named number go first, then the oldest of the rest.
    """
    facts = [f for n, item in enumerate(rounds, first_number) if (f := _fact(n, item, max_chars)) is not None]
    lines = {f.number: (f.full if i >= len(facts) - FULL_FACTS else f.compact) for i, f in enumerate(facts)}
    spent = sum(estimate(line) for line in lines.values())
    for fact in sorted(facts, key=lambda f: (f.labelled, f.number)):
        if spent <= max_tokens:
            break
        spent -= estimate(lines.pop(fact.number))
    return "\n".join(lines[f.number] for f in facts if f.number in lines)


def _cap(text: str, limit: int) -> str:
    text = text.strip()
    if limit <= 0 or len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text) - limit} characters omitted]"


def condense(number: int, item: Round, *, max_chars: int = 600, shown_chars: int = 80) -> str:
    """Round ``number`` in a few lines: request, last plan, code that ran, failures by class,
    what it showed (a value or printed numbers are facts too), answer.

    Tracebacks and long outputs are dropped; each kept text is capped at ``max_chars``.
    """
    lines = [f"Round {number}: the User asked: {_cap(item.user_query, max_chars)}"]
    plans = [a.content for p in item.posts for a in p.attachments if a.type is AttachmentType.plan and a.content.strip()]
    if plans:
        lines.append(f"  plan: {_cap(plans[-1], max_chars)}")
    failures: list[str] = []
    for post in item.posts:
        for attachment in post.attachments:
            data = execution(attachment)
            if data is None:
                continue
            if data.get("ok"):
                code = str(data.get("code") or "")
                if code.strip():
                    lines.append("  code that ran:\n" + _indent(_cap(code, max_chars)))
            else:
                error = data.get("error") or {}
                failures.append(str(error.get("type") or data.get("outcome") or "error"))
    if failures:
        lines.append(f"  failed executions: {', '.join(failures)}")
    result = shown(item, max_chars=shown_chars)
    if result:
        lines.append(f"  shown: {result}")
    if item.answer:
        lines.append(f"  answer: {_cap(item.answer, max_chars)}")
    elif item.reason:
        lines.append(f"  ended {item.state.value}: {_cap(item.reason, max_chars)}")
    return "\n".join(lines)


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines())


def deterministic_summary(previous: str, rounds: Sequence[Round], first_number: int, *, max_chars: int = 600) -> str:
    """``previous`` followed by the condensed form of ``rounds`` (numbered from ``first_number``)."""
    parts = [previous.strip()] if previous.strip() else []
    parts.extend(condense(first_number + n, item, max_chars=max_chars) for n, item in enumerate(rounds))
    return "\n".join(parts)


MAX_NAMES = 25
"""The most variable names the summary lists (the newest); the rest are counted."""


def with_variables(summary: str, variables: Sequence[str]) -> str:
    """The summary followed by the names of the variables still alive in the kernel, newest first."""
    if not variables:
        return summary
    newest = list(reversed(variables))
    names = ", ".join(newest[:MAX_NAMES]) + (f" and {len(newest) - MAX_NAMES} more" if len(newest) > MAX_NAMES else "")
    return f"{summary}\nVariables alive in the kernel (newest first): {names}"
