"""A session's execution service: its executor, created on first use, restored on resume.

The engine's :class:`weaver.engine.Session` delegates to this class for
``session.execute(code)``, ``session.variables()`` and closing; the engine itself logs each
result as a durable ``execution`` event.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from weaver.errors import UnknownNameError
from weaver.events import Event, EventType
from weaver.execution.executor import Executor, ExecutorSetup
from weaver.execution.restore import RestoreReport, restore
from weaver.execution.result import ExecutionResult, VariableInfo
from weaver.serde import to_data
from weaver.store import read_log

if TYPE_CHECKING:
    from weaver.config import Config
    from weaver.engine import Session


class SessionExecution:
    """Owns one session's executor."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.restore_report: RestoreReport | None = None
        self._executor: Executor | None = None
        self._lock = asyncio.Lock()

    async def executor(self) -> Executor:
        """The session's executor, created (and, when resuming with restore on, restored) once."""
        async with self._lock:
            if self._executor is None:
                self._executor = self._create()
                if self.session.app.config.table("execution").restore_on_resume:
                    await self._restore(self._executor)
            return self._executor

    def _create(self) -> Executor:
        app = self.session.app
        name = app.config.table("execution").executor
        spec = app.registry.executors.get(name)
        if spec is None:
            raise UnknownNameError(
                "set [execution] executor", kind="executor", name=name, known=tuple(sorted(app.registry.executors))
            )
        setup = ExecutorSetup(
            session_id=self.session.id,
            plugins=app.plugins.specs,
            plugin_call_budget=app.hooks.plugin_call_budget(app.config),
        )
        return spec.factory(self.session.paths.root, app.config, setup)

    async def _restore(self, executor: Executor) -> None:
        # A first executor with executions already in the log means a resumed session:
        # those ran in a kernel of an earlier process.
        log = self.session.paths.log
        if not log.is_file():
            return
        report = await restore(executor, read_log(log).events)
        if report.rerun:
            self.restore_report = report
            self.session.emit(
                Event(EventType.status, self.session.id, data={"message": report.summary(), "restore": to_data(report)})
            )

    async def execute(self, code: str) -> ExecutionResult:
        return await (await self.executor()).execute(code)

    def variables(self) -> tuple[VariableInfo, ...]:
        return self._executor.variables() if self._executor is not None else ()

    async def close(self) -> None:
        if self._executor is not None:
            executor, self._executor = self._executor, None
            await executor.close()


async def warm_up(config: Config, wait: bool = False) -> None:
    """Fill the local executor's warm pool, when it is the configured executor."""
    execution = config.table("execution")
    if execution.executor == "local":
        from weaver.execution.pool import warm_up as fill

        await fill(execution, wait)


async def close_pools() -> None:
    """Shut down the warm pools of the running loop."""
    from weaver.execution.pool import close_pools as close

    await close()
