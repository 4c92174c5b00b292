"""What the API shows of a session, read from its log: summaries, rounds, the plan, variables, cost.

The log is the one source: a session open in this server and one stored since last week are
shown the same way, and what the API says is what ``weaver sessions show`` would say. The
round that is running is shown as running, with the posts it has so far.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from weaver.events import Event, EventType
from weaver.llm.usage import cost_report
from weaver.model import AttachmentType, Round, RoundState
from weaver.serde import to_data
from weaver.store import read_log, rebuild_rounds


@attrs.frozen
class SessionRecord:
    """A session as its log records it, and which of its rounds this server is running now."""

    id: str
    events: tuple[Event, ...]
    problems: tuple[str, ...] = ()
    running: str | None = None

    @classmethod
    def read(cls, session_id: str, log: Path, running: str | None = None) -> SessionRecord:
        contents = read_log(log) if log.is_file() else None
        return cls(session_id, contents.events if contents else (), contents.problems if contents else (), running)

    @property
    def rounds(self) -> tuple[Round, ...]:
        """The rounds in order; the running one as running, not as interrupted."""
        return tuple(
            attrs.evolve(r, state=RoundState.running, reason=None) if r.id == self.running else r
            for r in rebuild_rounds(self.events)
        )


def summary(record: SessionRecord, rounds: Sequence[Round] | None = None) -> dict[str, Any]:
    """One line of the session list."""
    rounds = record.rounds if rounds is None else rounds
    last = rounds[-1] if rounds else None
    started = next((e.time for e in record.events), None)
    return {
        "id": record.id,
        "rounds": len(rounds),
        "running_round": record.running,
        "last_state": last.state.value if last else None,
        "first_request": rounds[0].user_query if rounds else None,
        "created_at": rounds[0].created_at if rounds else started,
        "updated_at": record.events[-1].time if record.events else None,
        "usage": to_data(cost_report(record.events).total),
    }


def detail(record: SessionRecord) -> dict[str, Any]:
    """Everything a front end shows of one session, as JSON values."""
    rounds = record.rounds
    return {
        **summary(record, rounds),
        "round_list": [to_data(r) for r in rounds],
        "plan": latest_plan(rounds),
        "variables": latest_variables(record.events),
        "last_event_id": len(record.events),
        "problems": list(record.problems),
    }


def latest_plan(rounds: Sequence[Round]) -> dict[str, Any] | None:
    """The latest plan any role attached, with its current step and its parsed structure."""
    for round in reversed(rounds):
        for post in reversed(round.posts):
            plan = post.attachment(AttachmentType.plan)
            if plan is not None:
                step = post.attachment(AttachmentType.current_plan_step)
                return {
                    "round_id": round.id,
                    "post_id": post.id,
                    "role": post.send_from,
                    "text": plan.content,
                    "current_step": step.content if step else None,
                    "structure": plan.extra,
                }
    return None


def latest_variables(events: Sequence[Event]) -> list[dict[str, Any]]:
    """The kernel's variables after the latest execution the log records."""
    for event in reversed(events):
        if event.type is EventType.execution:
            return list(event.data.get("result", {}).get("variables", ()))
    return []


def cost(record: SessionRecord) -> dict[str, Any]:
    """Tokens and money per role, per round (in order, with its request) and per model."""
    report = cost_report(record.events)
    queries = {e.round_id: str(e.data.get("user_query", "")) for e in record.events if e.type is EventType.round_start}
    return {
        "session_id": record.id,
        "total": to_data(report.total),
        "failed_calls": report.failed_calls,
        "by_role": {role: to_data(usage) for role, usage in sorted(report.by_role.items())},
        "by_round": [
            {"round_id": round_id, "user_query": queries.get(round_id), "usage": to_data(usage)}
            for round_id, usage in sorted(report.by_round.items(), key=lambda item: _order(item[0], queries))
        ],
        "by_model": {model: to_data(usage) for model, usage in sorted(report.by_model.items())},
    }


def _order(round_id: str, queries: dict[str | None, str]) -> int:
    order = list(queries)
    return order.index(round_id) if round_id in order else len(order)
