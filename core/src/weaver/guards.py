"""How guards' verdicts combine.

Guards are plain hook functions (:mod:`weaver.hookspecs`, the guard phase) that receive the
session's :class:`weaver.context.HookContext` and return ``None`` or a
:class:`weaver.specs.Verdict`. The core asks every guard and combines the answers with
:func:`combine`: any ``stop`` wins; warnings and injected messages are kept in order so the
model and the user see them all.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from weaver.context import GuardContext
from weaver.specs import Verdict, VerdictAction

__all__ = ["GuardContext", "Outcome", "combine"]


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
