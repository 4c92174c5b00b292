"""What guards see, and how their verdicts combine.

Guards are plain hook functions (:mod:`weaver.hookspecs`, the guard phase) that return
``None`` or a :class:`weaver.specs.Verdict`. The core asks every guard and combines the
answers with :func:`combine`: any ``stop`` wins; warnings and injected messages are kept in
order so the model and the user see them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

import attrs

from weaver.model import Usage
from weaver.specs import PluginSpec, Verdict, VerdictAction

if TYPE_CHECKING:
    from weaver.config import Config


@attrs.frozen
class GuardContext:
    """The facts a guard decides on.

    ``scratch`` is a per-session dictionary a guard may keep its own state in, under its
    own key (``ctx.scratch.setdefault("retry_guard", {})``); it lives as long as the session.
    ``step`` is the Planner's current plan step, when there is one. ``session_rounds`` is
    how many rounds of the session ended before the current one. ``plugins`` are the
    plugins generated code may call, by name (a guard reads ``PluginSpec.batch`` there).
    """

    session_id: str
    round_id: str | None
    role: str
    config: Config
    session_usage: Usage = Usage()
    round_usage: Usage = Usage()
    round_llm_calls: int = 0
    step: str | None = None
    scratch: MutableMapping[str, Any] = attrs.field(factory=dict)
    session_rounds: int = 0
    plugins: Mapping[str, PluginSpec] = attrs.field(factory=dict)


@attrs.frozen
class Outcome:
    """The combined answer of all guards for one call or execution."""

    verdicts: tuple[Verdict, ...] = ()

    @property
    def stopped(self) -> Verdict | None:
        return next((v for v in self.verdicts if v.action is VerdictAction.stop), None)

    @property
    def messages(self) -> tuple[str, ...]:
        """Warnings and injected messages, for the model's next prompt."""
        return tuple(v.message for v in self.verdicts if v.action is not VerdictAction.stop)


def combine(results: Iterable[Verdict | None]) -> Outcome:
    return Outcome(tuple(v for v in results if v is not None))
