"""A session's execution service: its executor, created on first use, restored on resume.

The engine's session owns one :class:`SessionExecution` and runs code only through it (the
verified pipeline, :mod:`weaver.execution.pipeline`, wraps it for roles); the engine logs
each result as a durable ``execution`` event.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from weaver.errors import UnknownNameError
from weaver.execution.executor import Executor, ExecutorSetup
from weaver.execution.output import InputHandler, OutputCallback
from weaver.execution.restore import RestoreReport, restore
from weaver.execution.result import ExecutionResult, VariableInfo
from weaver.serde import to_data
from weaver.store import SessionPaths, read_log

if TYPE_CHECKING:
    from weaver.config import Config
    from weaver.specs import ExecutorSpec, PluginSpec

log = logging.getLogger("weaver.execution")


class SessionExecution:
    """Owns one session's executor."""

    def __init__(
        self,
        session_id: str,
        paths: SessionPaths,
        config: Config,
        executors: dict[str, ExecutorSpec],
        plugins: tuple[PluginSpec, ...],
        *,
        on_restore: Callable[[str, dict[str, object]], None] = lambda message, report: None,
    ) -> None:
        self.session_id = session_id
        self.paths = paths
        self.config = config
        self.restore_report: RestoreReport | None = None
        self._executors = executors
        self._plugins = plugins
        self._on_restore = on_restore
        self._executor: Executor | None = None
        self._lock = asyncio.Lock()

    async def executor(self) -> Executor:
        """The session's executor, created (and, when resuming with restore on, restored) once."""
        async with self._lock:
            if self._executor is None:
                self._executor = self._create()
                if self.config.table("execution").restore_on_resume:
                    await self._restore(self._executor)
            return self._executor

    def _create(self) -> Executor:
        name = self.config.table("execution").executor
        spec = self._executors.get(name)
        if spec is None:
            raise UnknownNameError(
                "set [execution] executor", kind="executor", name=name, known=tuple(sorted(self._executors))
            )
        setup = ExecutorSetup(
            session_id=self.session_id,
            plugins=self._plugins,
            plugin_call_budget=self.config.table("plugins").call_budget or None,
        )
        executor: Executor = spec.factory(self.paths.root, self.config, setup)
        return executor

    async def _restore(self, executor: Executor) -> None:
        # A first executor with executions already in the log means a resumed session:
        # those ran in a kernel of an earlier process.
        if not self.paths.log.is_file():
            return
        report = await restore(executor, read_log(self.paths.log).events)
        if report.rerun:
            self.restore_report = report
            self._on_restore(report.summary(), to_data(report))

    async def start(self) -> None:
        """Start the executor's kernel ahead of the first execution; a failure waits for that execution."""
        try:
            await (await self.executor()).start()
        except Exception:
            log.debug("session %s: starting the kernel early failed", self.session_id, exc_info=True)

    async def execute(
        self,
        code: str,
        plugin_budget: dict[str, Any] | None = None,
        on_output: OutputCallback | None = None,
        host_calls: InputHandler | None = None,
    ) -> ExecutionResult:
        """Run ``code``; ``plugin_budget`` (what the budget's scope has left), ``on_output``
        (called with ``(stream_name, text)`` as output arrives) and ``host_calls`` (answers
        host plugin calls) go to an executor that takes them."""
        executor = await self.executor()
        accepts = inspect.signature(executor.execute).parameters
        extra: dict[str, Any] = {}
        if plugin_budget is not None and "plugin_budget" in accepts:
            extra["plugin_budget"] = plugin_budget
        if on_output is not None and "on_output" in accepts:
            extra["on_output"] = on_output
        if host_calls is not None and "host_calls" in accepts:
            extra["host_calls"] = host_calls
        return await executor.execute(code, **extra)

    def variables(self) -> tuple[VariableInfo, ...]:
        return self._executor.variables() if self._executor is not None else ()

    async def close(self) -> None:
        if self._executor is not None:
            executor, self._executor = self._executor, None
            await executor.close()


async def warm_up(config: Config, wait: bool = False, executors: Mapping[str, ExecutorSpec] | None = None) -> None:
    """Fill the configured executor's warm pool: the local executor's where its kernels may
    be started before their session is known, another's through its spec's ``warm_up``."""
    execution = config.table("execution")
    if execution.executor == "local":
        from weaver.execution.boundary import shared_kernels_allowed, site_for
        from weaver.execution.pool import warm_up as fill  # jupyter_client, only for the local executor

        if shared_kernels_allowed(execution):
            await fill(execution, site_for(config), wait)
        return
    spec = (executors or {}).get(execution.executor)
    if spec is not None and spec.warm_up is not None:
        await spec.warm_up(config, wait)


async def close_pools() -> None:
    """Shut down the warm pools of the running loop."""
    from weaver.execution.pool import close_pools as close  # as in warm_up

    await close()
