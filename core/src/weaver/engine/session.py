"""One conversation: rounds in order, its own directory, its roles, its kernel, its ports.

The session owns everything that belongs to it: the event log, the executor, the rounds,
the usage, the per-round ``scratch`` and the ``state`` extensions persist, and the background
work extensions start. Roles and hooks never receive the session itself, only the facts and
ports it hands them (:class:`weaver.context.HookContext`, :class:`weaver.roles.RoleContext`),
so the verified pipeline is the only way a role runs code.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Coroutine, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from weaver.context import ChatPort, HookContext, LLMPort
from weaver.engine.accounting import Accounts, usage_in
from weaver.engine.driver import RoundInProgress, drive
from weaver.engine.loop import running_loop
from weaver.errors import WeaverError
from weaver.events import Event, EventType
from weaver.model import USER, AttachmentType, Post, Round, RoundState, Usage
from weaver.roles import Role, RoleContext
from weaver.serde import to_data
from weaver.specs import RoleSpec, VerifyMode
from weaver.store import SessionPaths, SessionStore, session_paths

if TYPE_CHECKING:
    from weaver.engine.app import App
    from weaver.execution.pipeline import CodePipeline, CodeRun
    from weaver.execution.result import ExecutionResult, VariableInfo
    from weaver.execution.service import SessionExecution
    from weaver.memory import CompressedMemory, MemoryBudget

log = logging.getLogger("weaver.engine")

SETTLE_TIMEOUT_S = 120.0
"""How long closing a session waits for its background work before cancelling it."""


class Session:
    """One conversation: rounds in order, its own directory, roles and (lazily) its kernel."""

    def __init__(
        self,
        app: App,
        session_id: str,
        rounds: Sequence[Round] = (),
        problems: Sequence[str] = (),
        events: Sequence[Event] = (),
    ) -> None:
        self.app = app
        self.paths: SessionPaths = session_paths(app.workspace, session_id)
        self.id = session_id
        self.rounds: tuple[Round, ...] = tuple(rounds)
        self.problems: tuple[str, ...] = tuple(problems)
        self._accounts = Accounts(session=usage_in(events) if events else sum((r.usage for r in rounds), Usage()))
        self._state: dict[str, Any] = {
            str(e.data.get("key")): e.data.get("value") for e in events if e.type is EventType.state
        }
        self._scratch: dict[str, Any] = {}
        session_config = app.config.table("session")
        self._role_specs: dict[str, RoleSpec] = {}
        for name in session_config.roles:
            spec = app.registry.role(name)
            self._role_specs[spec.alias] = spec
        entry = session_config.entry or (session_config.roles[0] if session_config.roles else "")
        self.entry: str = app.registry.role(entry).alias if entry else ""
        self._roles: dict[str, Role] = {}
        self._store: SessionStore | None = None
        self._current: RoundInProgress | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._closed = False
        self._execution: SessionExecution | None = None
        self._pipeline: CodePipeline | None = None
        self._llm_lock: asyncio.Lock | None = None
        """One LLM call of this session at a time (see :class:`weaver.llm.service.ChatClient`)."""

    # ---- public API -----------------------------------------------------------------

    @property
    def cwd(self) -> Path:
        return self.paths.cwd

    @property
    def artifacts_dir(self) -> Path:
        return self.paths.artifacts

    @property
    def usage(self) -> Usage:
        """Tokens, money and calls the session has spent, background work included."""
        return self._accounts.session

    @property
    def state(self) -> MappingProxyType[str, Any]:
        """What extensions persisted for this session (``HookContext.persist``), by key."""
        return MappingProxyType(self._state)

    def send_message(self, text: str, files: Sequence[str | os.PathLike[str]] = ()) -> Round:
        """Run one round to its end and return it (never raises for a failed round)."""
        return self.app.run(self._round(text, files))

    async def asend_message(self, text: str, files: Sequence[str | os.PathLike[str]] = ()) -> Round:
        """The async form of :meth:`send_message`; cancelling the awaiting task cancels the round."""
        return await self.app.arun(self._round(text, files))

    def cancel(self) -> bool:
        """Cancel the running round from any thread; ``False`` when no round is running."""
        current = self._current
        if current is None or current.task is None or current.task.done():
            return False
        self.app.call_soon(current.task.cancel)
        return True

    def run_code(self, code: str, mode: VerifyMode = VerifyMode.normal) -> CodeRun:
        """Take ``code`` through the verified pipeline (verifiers, guards, kernel, feedback), as a role would."""
        return self.app.run(self.arun_code(code, mode))

    async def arun_code(self, code: str, mode: VerifyMode = VerifyMode.normal) -> CodeRun:
        """The async form of :meth:`run_code`."""
        return await self.app.arun(self._pipeline_run(code, mode, self.hook_context(USER)))

    async def execute(self, code: str) -> ExecutionResult:
        """Run ``code`` in this session's kernel *without* verification or guards, and log it.

        For the host program's own code (setting up data, tests); code from a model goes
        through :meth:`run_code`. Roles are never given this method. Failures of the code,
        the time limit or the kernel are in the result; a plugin that fails to load raises
        before any code runs.
        """
        return await self.app.arun(self._execute(code))

    def variables(self) -> tuple[VariableInfo, ...]:
        """The kernel's variables after the latest execution (empty before the first)."""
        return self._execution.variables() if self._execution is not None else ()

    def close(self) -> None:
        """Wait for background work, stop the kernel and close the log (from any thread)."""
        if self._closed:
            return
        if running_loop() is self.app.loop:
            asyncio.ensure_future(self.aclose())
        else:
            self.app.run(self.aclose())

    async def aclose(self) -> None:
        """The async form of :meth:`close`."""
        if self._closed:
            return
        self._closed = True
        await self.settle(timeout=SETTLE_TIMEOUT_S)
        if self._execution is not None:
            await self._execution.close()
        if self._store is not None:
            self._store.close()
        self.app.forget(self)

    # ---- ports: what roles and hooks are given --------------------------------------------

    def emit(self, event: Event) -> None:
        """Publish an event; durable ones are appended to the session's log first."""
        if event.type is EventType.llm_call:
            self._accounts.charge(event)
        elif event.type is EventType.state:
            self._state[str(event.data.get("key"))] = event.data.get("value")
        if event.durable:
            self._ensure_store().append(event)
        self.app.publish(event, self)

    def hook_context(self, role: str, round_id: str | None = None, step: str | None = None) -> HookContext:
        """A fresh context for a hook call on behalf of ``role`` (usage as of now)."""
        if round_id is None and self._current is not None:
            round_id = self._current.round.id
        return HookContext(
            session_id=self.id,
            config=self.app.config,
            round_id=round_id,
            role=role,
            step=step,
            session_usage=self._accounts.session,
            round_usage=self._accounts.round if round_id == self._accounts.round_id else Usage(),
            session_rounds=len(self.rounds),
            plugins=self.app.plugin_specs,
            scratch=self._scratch,
            state=MappingProxyType(self._state),
            emit=lambda event: self.emit(event),
            spawn=lambda coro: self._spawn(coro),
            llm=self._llm_port(role, round_id),
        )

    def _llm_port(self, default_role: str, round_id: str | None) -> LLMPort:
        def llm(alias: str | None = None, *, role: str | None = None) -> ChatPort:
            return self._chat(alias, role or default_role, round_id)

        return llm

    def role_context(self, spec: RoleSpec, post: Post, round: Round) -> RoleContext:
        """What ``spec``'s role is given to answer ``post``: facts and ports, no session."""
        alias, round_id = spec.alias, round.id
        carried = post.attachment(AttachmentType.current_plan_step)
        step = (carried.content.strip() or None) if carried is not None else None
        hook = self.hook_context(alias, round_id, step)
        history = self.rounds

        async def run_code(code: str, mode: VerifyMode = VerifyMode.normal, *, step: str | None = step) -> CodeRun:
            return await self._pipeline_run(code, mode, self.hook_context(alias, round_id, step))

        def memory(budget: MemoryBudget) -> CompressedMemory:
            return self.app.hooks.compress_memory(history, budget, self.hook_context(alias, round_id, step))

        return RoleContext(
            spec=spec,
            post=post,
            round=round,
            history=history,
            roles=self._role_specs,
            hook=hook,
            llm=self._chat(self.app.llm.alias_for(spec.name), alias, round_id, step),
            run_code=run_code,
            variables=lambda: self.variables(),
            plugins=self.app.plugins,
            memory=memory,
        )

    def _chat(self, alias: str | None, role: str, round_id: str | None, step: str | None = None) -> ChatPort:
        from weaver.llm.config import DEFAULT_ALIAS
        from weaver.llm.service import ChatClient

        if self._llm_lock is None:
            self._llm_lock = asyncio.Lock()
        return ChatClient(
            self.app.llm, alias or DEFAULT_ALIAS, lambda: self.hook_context(role, round_id, step), self._llm_lock
        )

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        if self._closed:
            coro.close()
            raise WeaverError(f"session {self.id} is closed: it starts no more background work")
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background work of session %s failed", self.id, exc_info=task.exception())

    async def settle(self, timeout: float | None = None) -> None:
        """Wait for the background work started so far (cancelling it after ``timeout``)."""
        pending = set(self._background)
        if not pending:
            return
        _, late = await asyncio.wait(pending, timeout=timeout)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late)

    # ---- inside the loop --------------------------------------------------------------

    async def _pipeline_run(self, code: str, mode: VerifyMode, ctx: HookContext) -> CodeRun:
        if self._pipeline is None:
            from weaver.execution.pipeline import CodePipeline

            self._pipeline = CodePipeline(
                self.app.hooks, lambda code, budget: self._execute(code, budget), variables=lambda: self.variables()
            )
        return await self._pipeline.run(code, mode, ctx)

    async def _execute(self, code: str, plugin_budget: dict[str, Any] | None = None) -> ExecutionResult:
        if self._closed:
            raise WeaverError(f"session {self.id} is closed")
        if self._execution is None:
            from weaver.execution.service import SessionExecution

            self.app.used_kernels()
            self._execution = SessionExecution(
                self.id,
                self.paths,
                self.app.config,
                dict(self.app.registry.executors),
                self.app.plugins.specs,
                on_restore=lambda message, report: self.emit(
                    Event(EventType.status, self.id, data={"message": message, "restore": report})
                ),
            )
        result = await self._execution.execute(code, plugin_budget)
        round_id = self._current.round.id if self._current is not None else None
        self.emit(Event(EventType.execution, self.id, round_id, data={"result": to_data(result)}))
        return result

    def _ensure_store(self) -> SessionStore:
        if self._store is None:
            self._store = SessionStore(self.paths)
        return self._store

    def role(self, alias: str) -> Role:
        """The session's instance of the role with wire name ``alias``, created on first use."""
        if alias not in self._roles:
            self._roles[alias] = self._role_specs[alias].factory()
        return self._roles[alias]

    @property
    def role_specs(self) -> dict[str, RoleSpec]:
        """The enabled roles by wire alias, in configuration order."""
        return self._role_specs

    async def _round(self, text: str, files: Sequence[str | os.PathLike[str]]) -> Round:
        if self._closed:
            raise WeaverError(f"session {self.id} is closed")
        if self._current is not None:
            raise WeaverError(f"session {self.id} is already running a round; cancel it or wait")
        current = RoundInProgress(Round(user_query=text, state=RoundState.running))
        self._current = current
        current.task = asyncio.current_task()
        try:
            self._scratch = {}
            self._accounts.start_round(current.round.id)
            finished = await drive(self, current, text, files)
            self.rounds = (*self.rounds, finished)
            self.emit(Event(EventType.round_end, self.id, finished.id, data={"round": to_data(finished)}))
            self.app.hooks.round_end(finished, self.rounds, self.hook_context("", finished.id))
            return finished
        finally:
            self._accounts.end_round()
            self._current = None

    def round_usage(self) -> Usage:
        """What the running round has spent so far."""
        return self._accounts.round
