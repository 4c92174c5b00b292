"""Rebuilding a resumed session's kernel state by re-running its successful cells.

The session's log keeps every execution (durable ``execution`` events). A kernel that was
restarted lost what came before, so only the successful cells after the last loss of
state are re-run, in order. Re-runs are not logged again, so resuming twice does not
double them.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from weaver.events import Event, EventType
from weaver.execution.executor import Executor
from weaver.execution.result import ExecutionResult
from weaver.serde import from_data


@attrs.frozen
class RestoreReport:
    """What a restore re-ran, and which of those cells failed this time (with the error)."""

    rerun: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        text = f"restored kernel state: re-ran {len(self.rerun)} cell(s)"
        return text + (f", {len(self.failed)} failed" if self.failed else "")


def cells_to_restore(events: Iterable[Event]) -> list[str]:
    """The code of the successful executions since the kernel last lost its state."""
    cells: list[str] = []
    for event in events:
        if event.type is not EventType.execution:
            continue
        result = from_data(event.data["result"], ExecutionResult)
        if result.state_lost:
            cells = []
        if result.ok:
            cells.append(result.code)
    return cells


async def restore(executor: Executor, events: Iterable[Event]) -> RestoreReport:
    """Re-run the cells of ``events`` in ``executor``; a failing cell is reported, not fatal."""
    rerun: list[str] = []
    failed: list[tuple[str, str]] = []
    for code in cells_to_restore(events):
        result = await executor.execute(code)
        rerun.append(code)
        if not result.ok:
            error = f"{result.error.type}: {result.error.message}" if result.error else result.outcome
            failed.append((code, error))
    return RestoreReport(tuple(rerun), tuple(failed))
