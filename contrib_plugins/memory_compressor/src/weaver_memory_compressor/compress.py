"""Deciding what to compress, and the summaries kept between rounds.

A role's history is compressed when its estimated size passes ``trigger_share`` of the
role's budget: the last ``keep_recent_rounds`` rounds stay verbatim (fewer when they alone
overflow the budget) and the older ones become one summary. That summary is the model's
incremental summary where one covers them (:class:`SummaryStore`), extended by the
deterministic condensed form of any round the model has not summarized yet.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

import attrs

from weaver.memory import CompressedMemory, MemoryBudget
from weaver.model import Round
from weaver_memory_compressor.history import (
    Estimate,
    alive_variables,
    deterministic_summary,
    history_tokens,
    with_variables,
)


@attrs.frozen
class Summary:
    """A summary of a session's first rounds: the ids it covers, in order, and its text."""

    covered: tuple[str, ...]
    text: str


@attrs.define
class _Entry:
    summary: Summary | None = None
    keep: int | None = None
    """How many recent rounds the last compression kept verbatim (what to summarize next)."""
    busy: bool = False


class SummaryStore:
    """Per session: the latest model summary, how much history the last compression kept,
    and whether a summary is being made.

    The compression hook sees only rounds, so a session is recognised by the id of its
    first round, which is unique. Only the ``capacity`` sessions used most recently are kept.
    """

    def __init__(self, capacity: int = 256) -> None:
        self._capacity = capacity
        self._items: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def _entry(self, first_round_id: str) -> _Entry:
        entry = self._items.get(first_round_id)
        if entry is None:
            entry = self._items[first_round_id] = _Entry()
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)
        self._items.move_to_end(first_round_id)
        return entry

    def get(self, rounds: Sequence[Round]) -> Summary | None:
        """The stored summary of these rounds' session, if it covers a prefix of them."""
        if not rounds:
            return None
        with self._lock:
            found = self._entry(rounds[0].id).summary
        if found is None or tuple(r.id for r in rounds[: len(found.covered)]) != found.covered:
            return None
        return found

    def put(self, summary: Summary) -> None:
        with self._lock:
            self._entry(summary.covered[0]).summary = summary

    def compressed(self, rounds: Sequence[Round], keep: int) -> None:
        """Note that these rounds were compressed keeping the last ``keep`` verbatim."""
        with self._lock:
            self._entry(rounds[0].id).keep = keep

    def claim(self, rounds: Sequence[Round]) -> tuple[Summary | None, Sequence[Round]] | None:
        """Work for the summarizer: the summary so far and the rounds it does not cover yet
        that the next compression will summarize; ``None`` when there is none (or when a
        summary of this session is already being made). The caller must :meth:`release`."""
        if not rounds:
            return None
        with self._lock:
            entry = self._entry(rounds[0].id)
            if entry.keep is None or entry.busy:
                return None
            previous = entry.summary
            if previous is not None and tuple(r.id for r in rounds[: len(previous.covered)]) != previous.covered:
                previous = None
            covered = len(previous.covered) if previous else 0
            target = len(rounds) - entry.keep
            if target <= covered:
                return None
            entry.busy = True
        return previous, rounds[covered:target]

    def release(self, rounds: Sequence[Round]) -> None:
        with self._lock:
            self._entry(rounds[0].id).busy = False


def split(rounds: Sequence[Round], budget: MemoryBudget, role: str, estimate: Estimate) -> int | None:
    """How many of the oldest rounds to summarize, or ``None`` when the history fits.

    At least one recent round stays verbatim; more (up to ``keep_recent_rounds``) while
    they fit in the budget together.

    Rounds are sized newest first and only until the trigger is passed with the recent
    rounds known, so a call costs about one budget's worth of text however long the
    session is (it is made for every prompt of every role).
    """
    trigger = budget.max_tokens * budget.trigger_share
    recent = min(max(budget.keep_recent_rounds, 1), len(rounds))
    sizes: list[int] = []  # newest first
    total = 0
    for size in history_tokens(rounds, role, estimate):
        sizes.append(size)
        total += size
        if total > trigger and len(sizes) >= recent:
            break
    if total <= trigger:
        return None
    keep = recent
    while keep > 1 and sum(sizes[:keep]) > budget.max_tokens:
        keep -= 1
    old = len(rounds) - keep
    return old or None


def compress(
    rounds: Sequence[Round],
    budget: MemoryBudget,
    role: str,
    *,
    store: SummaryStore,
    estimate: Estimate,
    max_chars: int = 600,
) -> CompressedMemory | None:
    """The compressed history for ``role``, or ``None`` when it fits and stays as it is."""
    old_count = split(rounds, budget, role, estimate)
    if old_count is None:
        return None
    old = rounds[:old_count]
    store.compressed(rounds, len(rounds) - old_count)
    stored = store.get(old)
    covered = len(stored.covered) if stored else 0
    text = deterministic_summary(stored.text if stored else "", old[covered:], covered + 1, max_chars=max_chars)
    return CompressedMemory(
        summary=with_variables(text, alive_variables(rounds)),
        rounds=tuple(rounds[old_count:]),
    )
