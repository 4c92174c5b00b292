"""``weaver cost SESSION``: what a session spent, read back from its event log.

The figures come from the session's own ``llm_call`` events, added up by the LLM layer's
:func:`weaver.llm.usage.cost_report`; this module only finds the log, labels the rounds and
lays the numbers out.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from weaver.errors import SessionNotFoundError
from weaver.events import EventType
from weaver.llm.usage import CostReport, cost_report
from weaver.model import Usage
from weaver.serde import to_data
from weaver.store import SessionPaths, read_log, sessions_dir

COLUMNS = ("calls", "prompt tokens", "completion tokens", "cost")


@attrs.frozen
class SessionCost:
    """A session's cost report, its rounds in order as ``(round id, user query)``, and log problems."""

    session_id: str
    report: CostReport
    rounds: tuple[tuple[str, str], ...] = ()
    problems: tuple[str, ...] = ()


def load_session_cost(workspace: Path, session_id: str) -> SessionCost:
    """Read ``session_id``'s log in ``workspace`` and add up its LLM calls."""
    paths = SessionPaths(sessions_dir(workspace) / session_id)
    if not paths.log.is_file():
        raise SessionNotFoundError(f"no session {session_id!r} in {workspace}", session_id=session_id)
    contents = read_log(paths.log)
    rounds = tuple(
        (event.round_id, str(event.data.get("user_query", "")))
        for event in contents.events
        if event.type is EventType.round_start and event.round_id
    )
    return SessionCost(session_id, cost_report(contents.events), rounds, contents.problems)


def _row(label: str, usage: Usage) -> tuple[str, ...]:
    approx = "~" if usage.estimated else ""
    return (
        label,
        str(usage.llm_calls),
        f"{approx}{usage.prompt_tokens:,}",
        f"{approx}{usage.completion_tokens:,}",
        f"{usage.cost:.4f}",
    )


def tables(cost: SessionCost) -> dict[str, list[tuple[str, ...]]]:
    """Rows per role, per round (numbered, with the start of the request) and per model."""
    report = cost.report
    labels = {round_id: f"{n}. {query[:40]}" for n, (round_id, query) in enumerate(cost.rounds, 1)}
    return {
        "role": [_row(role, usage) for role, usage in sorted(report.by_role.items())],
        "round": [_row(labels.get(round_id, round_id), usage) for round_id, usage in _in_round_order(report.by_round, cost)],
        "model": [_row(model, usage) for model, usage in sorted(report.by_model.items())],
    }


def total_line(cost: SessionCost) -> str:
    """The session's total in one line; ``~`` marks token counts that were partly estimated."""
    total = cost.report.total
    approx = "~" if total.estimated else ""
    failed = f" ({cost.report.failed_calls} failed)" if cost.report.failed_calls else ""
    return (
        f"session {cost.session_id}: {total.llm_calls} LLM calls{failed}, "
        f"{approx}{total.prompt_tokens:,} prompt and {approx}{total.completion_tokens:,} completion tokens, "
        f"cost {total.cost:.4f}"
    )


def _in_round_order(by_round: Mapping[str, Usage], cost: SessionCost) -> list[tuple[str, Usage]]:
    order = {round_id: n for n, (round_id, _) in enumerate(cost.rounds)}
    return sorted(by_round.items(), key=lambda item: order.get(item[0], len(order)))


def as_json(cost: SessionCost) -> dict[str, Any]:
    """The report as JSON values, for ``--json``."""
    report = cost.report
    return {
        "session": cost.session_id,
        "total": to_data(report.total),
        "failed_calls": report.failed_calls,
        "by_role": {k: to_data(v) for k, v in report.by_role.items()},
        "by_round": {k: to_data(v) for k, v in report.by_round.items()},
        "by_model": {k: to_data(v) for k, v in report.by_model.items()},
        "rounds": [{"id": round_id, "user_query": query} for round_id, query in cost.rounds],
    }
