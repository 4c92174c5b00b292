"""Usage accounting: what a session and its running round have spent, from ``llm_call`` events.

Every LLM call, a role's or an extension's background work, is recorded as a durable
``llm_call`` event with its usage; the session's total is the sum of those events, so a
resumed session (or another process) counts exactly what the log holds, between-round calls
included.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from weaver.events import Event, EventType
from weaver.model import Usage
from weaver.serde import from_data


def usage_of(event: Event) -> Usage:
    """The usage an ``llm_call`` event records (``Usage()`` for any other event)."""
    if event.type is not EventType.llm_call:
        return Usage()
    # The one converter ignores keys a newer LLM client adds, where Usage(**...) would fail the round.
    return from_data(event.data.get("usage", {}), Usage)


def usage_in(events: Iterable[Event]) -> Usage:
    """Everything the events' LLM calls spent."""
    return sum((usage_of(event) for event in events), Usage())


@attrs.define
class Accounts:
    """The session's usage, and the usage of the round that is running (if one is)."""

    session: Usage = Usage()
    round: Usage = Usage()
    round_id: str | None = None

    def start_round(self, round_id: str) -> None:
        self.round, self.round_id = Usage(), round_id

    def end_round(self) -> None:
        self.round_id = None

    def charge(self, event: Event) -> None:
        """Count an ``llm_call`` event: for the session always, for the round when it is the round's.

        A call made between rounds (an extension's background work) counts for the session only.
        """
        usage = usage_of(event)
        self.session = self.session + usage
        if self.round_id is not None and event.round_id == self.round_id:
            self.round = self.round + usage
