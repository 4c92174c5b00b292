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
import threading
from collections.abc import Coroutine, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import attrs

from weaver.approvals import ApprovalAnswer, ApprovalRequest, Decision
from weaver.config import ApprovalConfig
from weaver.context import ChatPort, HookContext, LLMPort
from weaver.engine.accounting import Accounts, usage_in
from weaver.engine.bounds import bounded, bounded_post
from weaver.engine.deltas import DELTAS, DeltaBuffer
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
    from weaver.execution.output import OutputCallback
    from weaver.execution.pipeline import CodePipeline, CodeRun
    from weaver.execution.result import ExecutionResult, FileListing, VariableInfo
    from weaver.execution.service import SessionExecution
    from weaver.memory import CompressedMemory, MemoryBudget
    from weaver.plugins.host import HostCalls

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
        workspace: Path | None = None,
    ) -> None:
        self.app = app
        self.paths: SessionPaths = session_paths(app.workspace if workspace is None else workspace, session_id)
        self.id = session_id
        self.rounds: tuple[Round, ...] = tuple(rounds)
        self.problems: tuple[str, ...] = tuple(problems)
        self._accounts = Accounts(session=usage_in(events) if events else sum((r.usage for r in rounds), Usage()))
        self._state: dict[str, Any] = {
            str(e.data.get("key")): e.data.get("value") for e in events if e.type is EventType.state
        }
        self._scratch: dict[str, Any] = {}
        self._role_specs: dict[str, RoleSpec] = app.roles
        self.entry: str = app.entry
        self._roles: dict[str, Role] = {}
        self._store: SessionStore | None = None
        self._current: RoundInProgress | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._approvals: dict[str, tuple[ApprovalRequest, asyncio.Future[ApprovalAnswer]]] = {}
        self._approvals_lock = threading.Lock()  # front ends read and answer from their own threads
        self._closed = False
        self._execution: SessionExecution | None = None
        self._pipeline: CodePipeline | None = None
        self._llm_lock: asyncio.Lock | None = None
        """One LLM call of this session at a time (see :class:`weaver.llm.service.ChatClient`)."""
        interval = app.config.table("session").delta_interval_s
        self._deltas = DeltaBuffer(lambda event: self.app.publish(event, self), interval)

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

    def files(self) -> FileListing:
        """The files code can open in this session's working directory, at most 50 of them."""
        from weaver.execution.boundary import files_for_code

        return files_for_code(self.app.config, self.paths.root)

    def pending_approvals(self) -> tuple[ApprovalRequest, ...]:
        """What the session is waiting for a person to approve, oldest first."""
        with self._approvals_lock:
            return tuple(request for request, _ in self._approvals.values())

    def answer(self, request_id: str, decision: Decision | str, *, content: str | None = None, reason: str = "") -> bool:
        """Answer an approval request, from any thread; ``False`` when none is waiting with that id.

        ``decision`` is ``approved``, ``edited`` (``content`` is then used instead of what was
        asked) or ``rejected`` (``reason`` is shown to the model).
        """
        decision = Decision(decision)
        with self._approvals_lock:
            waiting = self._approvals.get(request_id)
        if waiting is None:
            return False
        request, future = waiting
        if decision is Decision.edited and content is None:
            raise ValueError("an edited answer needs the edited content")
        answer = ApprovalAnswer(request_id, decision, request.content if content is None else content, reason)
        self.app.call_soon(_settle_future, future, answer)
        return True

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
        self._deltas.flush()
        if self._execution is not None:
            await self._execution.close()
        if self._store is not None:
            self._store.close()
        self.app.forget(self)

    # ---- ports: what roles and hooks are given --------------------------------------------

    def emit(self, event: Event) -> None:
        """Publish an event; durable ones are appended to the session's log first.

        Deltas of streamed text are joined into fewer events, at most one per part every
        ``[session] delta_interval_s``, and always published before the session's next
        event of any other kind (:mod:`weaver.engine.deltas`).
        """
        if event.type in DELTAS:
            self._deltas.add(event)
            return
        self._deltas.flush()
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
            approve=lambda request: self._approve(request),
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

        async def approve(kind: str, content: str) -> ApprovalAnswer | None:
            ctx = self.hook_context(alias, round_id, step)
            reasons = self.app.hooks.approval_reasons(kind, content, ctx)
            if not reasons:
                return None
            return await self._approve(ApprovalRequest(kind, content, tuple(reasons), alias, round_id, step))

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
            files=lambda: self.files(),
            memory=memory,
            approve=approve,
        )

    def _chat(self, alias: str | None, role: str, round_id: str | None, step: str | None = None) -> ChatPort:
        # As App.llm: the LLM layer's imports only when a role or hook is about to call a model.
        from weaver.llm.config import DEFAULT_ALIAS
        from weaver.llm.service import ChatClient

        if self._llm_lock is None:
            self._llm_lock = asyncio.Lock()
        return ChatClient(
            self.app.llm, alias or DEFAULT_ALIAS, lambda: self.hook_context(role, round_id, step), self._llm_lock
        )

    async def _approve(self, request: ApprovalRequest) -> ApprovalAnswer:
        """Publish the request, wait for :meth:`answer` (or the timeout), record the answer."""
        future: asyncio.Future[ApprovalAnswer] = asyncio.get_running_loop().create_future()
        with self._approvals_lock:
            self._approvals[request.id] = (request, future)
        limit = self.app.config.table(ApprovalConfig).timeout_s
        try:
            self.emit(Event(EventType.approval_request, self.id, request.round_id, data={"request": to_data(request)}))
            try:
                answer = await asyncio.wait_for(future, limit)
            except TimeoutError:
                reason = f"nobody answered within {limit:g} s ([approval] timeout_s)"
                answer = ApprovalAnswer(request.id, Decision.rejected, request.content, reason, by="timeout")
        finally:
            with self._approvals_lock:
                self._approvals.pop(request.id, None)
        self.emit(Event(EventType.approval, self.id, request.round_id, data={"answer": to_data(answer)}))
        return answer

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
            # The execution layer's imports only in sessions that run code.
            from weaver.execution.pipeline import CodePipeline

            self._pipeline = CodePipeline(
                self.app.hooks,
                lambda code, budget, on_output, host: self._execute(code, budget, on_output, host),
                variables=lambda: self.variables(),
                host_calls=self.host_calls,
            )
        return await self._pipeline.run(code, mode, ctx)

    def prestart(self) -> None:
        """Start the kernel in the background when a role of this session runs code (``[execution] prestart``)."""
        if self._execution is not None or not self.app.config.table("execution").prestart:
            return
        if any(spec.runs_code for spec in self._role_specs.values()):
            self._spawn(self._session_execution().start())

    def host_calls(self, ctx: HookContext) -> HostCalls | None:
        """The answerer of one execution's host plugin calls on behalf of ``ctx``'s role
        (``None`` when the App has no host plugins)."""
        runner = self.app.host_runner
        if not runner.plugins:
            return None
        from weaver.plugins.host import HostCalls, HostPlace  # only in sessions with host plugins

        place = HostPlace(self.id, self.paths.cwd, self.paths.artifacts)
        return HostCalls(ctx, self.app.hooks, runner, place, self.app.host_replay())

    async def _execute(
        self,
        code: str,
        plugin_budget: dict[str, Any] | None = None,
        on_output: OutputCallback | None = None,
        host: HostCalls | None = None,
    ) -> ExecutionResult:
        from weaver.execution.executor import ExecutionCancelled

        if host is None:  # the host program's own code: its host plugin calls are the user's
            host = self.host_calls(self.hook_context(USER))
        round_id = self._current.round.id if self._current is not None else None
        try:
            result = await self._session_execution().execute(code, plugin_budget, on_output, host)
        except ExecutionCancelled as cancelled:
            # The round goes on being cancelled; what the code printed until then is kept.
            self.emit(Event(EventType.execution, self.id, round_id, data={"result": to_data(cancelled.result)}))
            raise
        if host is not None:
            result = attrs.evolve(result, plugin_calls=host.reported(result.plugin_calls))
        self.emit(Event(EventType.execution, self.id, round_id, data={"result": to_data(result)}))
        return result

    def _session_execution(self) -> SessionExecution:
        if self._closed:
            raise WeaverError(f"session {self.id} is closed")
        if self._execution is None:
            from weaver.execution.service import SessionExecution  # as for the pipeline

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
        return self._execution

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
        round = Round(user_query="", state=RoundState.running)
        current = RoundInProgress(attrs.evolve(round, user_query=self._bound(text, f"{round.id}-request.txt")))
        self._current = current
        current.task = asyncio.current_task()
        limit = self.app.config.table("session").round_timeout_s
        deadline = asyncio.get_running_loop().call_later(limit, self._expire, current) if limit else None
        try:
            self._scratch = {}
            self._accounts.start_round(current.round.id)
            finished = await drive(self, current, text, files)
            if deadline is not None:
                deadline.cancel()
            return self._record_round(finished)
        finally:
            self._accounts.end_round()
            self._current = None

    @staticmethod
    def _expire(current: RoundInProgress) -> None:
        current.expired = True
        if current.task is not None:
            current.task.cancel()

    def _record_round(self, finished: Round) -> Round:
        """Log the finished round, then keep it; a round the log could not take is not kept."""
        try:
            ended = {"round": to_data(attrs.evolve(finished, posts=())), "post_ids": [p.id for p in finished.posts]}
            self.emit(Event(EventType.round_end, self.id, finished.id, data=ended))
        except Exception as exc:
            log.exception("session %s: round %s could not be recorded", self.id, finished.id)
            return attrs.evolve(finished, state=RoundState.failed, reason=f"the round could not be recorded: {exc}")
        self.rounds = (*self.rounds, finished)
        self.app.hooks.round_end(finished, self.rounds, self.hook_context("", finished.id))
        return finished

    def bounded(self, post: Post) -> Post:
        """``post`` with any text longer than ``[session] max_message_chars`` kept whole beside the log."""
        return bounded_post(post, self.app.config.table("session").max_message_chars, self._keep)

    def _bound(self, text: str, name: str) -> str:
        return bounded(text, self.app.config.table("session").max_message_chars, name, self._keep)

    def _keep(self, name: str, text: str) -> str:
        return str(self._ensure_store().keep(name, text))

    def round_usage(self) -> Usage:
        """What the running round has spent so far."""
        return self._accounts.round


def _settle_future(future: asyncio.Future[ApprovalAnswer], answer: ApprovalAnswer) -> None:
    """The first answer to a request counts; a later one (two front ends at once) is ignored."""
    if not future.done():
        future.set_result(answer)
