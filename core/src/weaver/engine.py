"""The session engine: ``App`` → ``app.session()`` → ``session.send_message(text) -> Round``.

An :class:`App` loads configuration and extensions once and owns one event loop, run on
a background thread, on which every session's work happens; the synchronous API submits to
it and waits, the asynchronous API awaits it, so LLM streams and kernel channels always
live on one loop whatever the caller uses.

A round routes posts among roles by ``send_to`` and ends when a post goes to ``User``, a
guard stops it, a limit is hit, or it is cancelled. No exception escapes to the caller for a
failed round: the :class:`weaver.model.Round` records what happened and why.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import pluggy

from weaver.config import Config, build_config, extensions_strict, read_layers
from weaver.errors import SessionNotFoundError, WeaverError
from weaver.events import Event, EventType
from weaver.extensions import (
    Hooks,
    LoadReport,
    Registry,
    build_registry,
    load_extensions,
    make_plugin_manager,
    selected_from_env,
)
from weaver.guards import GuardContext
from weaver.model import USER, Attachment, AttachmentType, Post, Round, RoundState, Usage, new_id
from weaver.roles import Role, RoleContext
from weaver.serde import from_data, to_data
from weaver.specs import RoleSpec
from weaver.store import SessionPaths, SessionStore, read_log, rebuild_rounds, session_ids, sessions_dir

log = logging.getLogger("weaver.engine")
T = TypeVar("T")

if TYPE_CHECKING:
    from weaver.execution.result import ExecutionResult, VariableInfo
    from weaver.execution.service import SessionExecution
    from weaver.llm.service import LLMService
    from weaver.plugins.loader import PluginSet

Subscriber = Callable[[Event], None]


class RoundStopped(WeaverError):
    """Raised inside a round (by a role or a guard) to end it with a reason."""

    def __init__(self, message: str, state: RoundState = RoundState.failed) -> None:
        super().__init__(message)
        self.state = state


class _LoopThread:
    """One asyncio loop on a daemon thread; started on first use."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="weaver-loop", daemon=True)
                thread.start()
                self._loop = loop
            return self._loop

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._loop is not None and _running_loop() is self._loop:
            raise RuntimeError("use the async API (await ...) from inside Weaver's own event loop")
        return self.submit(coro).result()

    def stop(self) -> None:
        with self._lock:
            if self._loop is not None:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._loop = None


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class App:
    """A Weaver application: configuration, extensions and a workspace of sessions.

    ``App(project_dir, **overrides)``: ``project_dir`` holds ``weaver.toml`` (default: the
    current directory); overrides are the highest config layer, as dotted keys
    (``**{"session.max_hops": 5}``) or tables (``session={"max_hops": 5}``).

    ``plugin_manager`` replaces entry-point loading (tests, the CLI); ``load_report`` is then
    what its loader found, so strict mode (``[extensions] strict``) can refuse its failures.
    """

    def __init__(
        self,
        project_dir: str | os.PathLike[str] | None = None,
        *,
        plugin_manager: pluggy.PluginManager | None = None,
        load_report: LoadReport | None = None,
        environ: Mapping[str, str] | None = None,
        cli_sets: Iterable[str] = (),
        **overrides: Any,
    ) -> None:
        environ = os.environ if environ is None else environ
        self.project_dir = Path(project_dir or os.getcwd()).resolve()
        layers = read_layers(self.project_dir, overrides, environ, cli_sets)
        strict = extensions_strict(layers)
        if plugin_manager is None:
            plugin_manager = make_plugin_manager()
            load_report = load_extensions(plugin_manager, only=selected_from_env(environ), strict=strict)
        self.load_report: LoadReport = load_report or LoadReport()
        if strict:
            self.load_report.raise_first_failure()
        self.pm = plugin_manager
        self.hooks = Hooks(plugin_manager)
        self.registry: Registry = build_registry(plugin_manager)
        self.config: Config = build_config(self.project_dir, layers, self.registry.config_tables)
        self.hooks.configure(self.config)
        self.workspace = (self.project_dir / self.config.table("workspace").dir).resolve()
        self._loop = _LoopThread()
        self._subscribers: list[Subscriber] = []
        self._sessions: dict[str, Session] = {}
        self._environ = environ
        self._llm: LLMService | None = None
        self._kernels_used = False
        self._plugins: PluginSet | None = None

    @property
    def llm(self) -> LLMService:
        """The LLM service (model aliases, backends, cassette), created on first use."""
        if self._llm is None:
            from weaver.llm.service import LLMService

            self._llm = LLMService(self.config, self.registry, self._environ, self.project_dir)
        return self._llm

    @property
    def plugins(self) -> PluginSet:
        """The plugins generated code may call (extensions' and the project's), loaded on first use."""
        if self._plugins is None:
            from weaver.plugins.loader import load_plugins

            self._plugins = load_plugins(self.pm, self.config)
        return self._plugins

    # ---- sessions -------------------------------------------------------------------

    def session(self, session_id: str | None = None) -> Session:
        """A new session (with a fresh id unless one is given)."""
        session = Session(self, session_id or new_id("session"))
        self._sessions[session.id] = session
        return session

    def resume(self, session_id: str) -> Session:
        """Rebuild a session from its event log; problems in the log are in ``session.problems``."""
        paths = SessionPaths(sessions_dir(self.workspace) / session_id)
        if not paths.log.is_file():
            raise SessionNotFoundError(f"no session {session_id!r} in {self.workspace}", session_id=session_id)
        contents = read_log(paths.log)
        for problem in contents.problems:
            log.warning("%s", problem)
        session = Session(self, session_id, rounds=rebuild_rounds(contents.events), problems=contents.problems)
        self._sessions[session.id] = session
        return session

    def session_ids(self) -> list[str]:
        """Ids of every session stored in the workspace."""
        return session_ids(self.workspace)

    def warm_up(self, wait: bool = False) -> None:
        """Start the warm pool's kernels (``[execution] pool_size``) so that new sessions'
        first executions do not wait for a kernel; ``wait`` blocks until they are ready.

        Long-lived front ends call this once at start; the pool then refills itself.
        """
        from weaver.execution.service import warm_up

        self._kernels_used = True
        future = self._loop.submit(warm_up(self.config, wait))
        if wait:
            future.result()

    # ---- events ---------------------------------------------------------------------

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(event)`` for every event of every session; returns an unsubscribe function.

        Callbacks run on Weaver's event loop thread: return quickly.
        """
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    def _publish(self, event: Event, session: Session | None = None) -> None:
        for callback in list(self._subscribers):
            try:
                callback(event)
            except (Exception, SystemExit):  # observers must not break sessions (rich exits on a closed pipe)
                log.exception("event subscriber %r failed", callback)
        self.hooks.event(event, session)

    # ---- lifecycle ------------------------------------------------------------------

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the app's loop and wait for it (for sync wrappers)."""
        return self._loop.run(coro)

    async def arun(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` on the app's loop from any other loop."""
        if _running_loop() is self._loop.loop:
            return await coro
        return await asyncio.wrap_future(self._loop.submit(coro))

    def close(self) -> None:
        """Close every session and stop the loop."""
        for session in list(self._sessions.values()):
            session.close()
        if self._llm is not None:
            self.run(self._llm.aclose())
            self._llm = None
        if self._kernels_used:
            from weaver.execution.service import close_pools

            self.run(close_pools())
        self._loop.stop()

    def __enter__(self) -> App:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@attrs.define
class _RoundState:
    """The round being built: its posts so far and its usage."""

    round: Round
    usage: Usage = Usage()
    task: asyncio.Task[Round] | None = None


class Session:
    """One conversation: rounds in order, its own directory, roles and (lazily) its kernel."""

    def __init__(
        self,
        app: App,
        session_id: str,
        rounds: Sequence[Round] = (),
        problems: Sequence[str] = (),
    ) -> None:
        self.app = app
        self.id = session_id
        self.paths = SessionPaths(sessions_dir(app.workspace) / session_id)
        self.rounds: tuple[Round, ...] = tuple(rounds)
        self.problems: tuple[str, ...] = tuple(problems)
        self.usage: Usage = sum((r.usage for r in self.rounds), Usage())
        self.scratch: dict[str, Any] = {}
        session_config = app.config.table("session")
        self._role_specs: dict[str, RoleSpec] = {}
        for name in session_config.roles:
            spec = app.registry.role(name)
            self._role_specs[spec.alias] = spec
        entry = session_config.entry or (session_config.roles[0] if session_config.roles else "")
        self.entry: str = app.registry.role(entry).alias if entry else ""
        self._roles: dict[str, Role] = {}
        self._store: SessionStore | None = None
        self._current: _RoundState | None = None
        self._closed = False
        self._execution: SessionExecution | None = None

    # ---- public API -----------------------------------------------------------------

    @property
    def cwd(self) -> Path:
        return self.paths.cwd

    @property
    def artifacts_dir(self) -> Path:
        return self.paths.artifacts

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
        self.app._loop.loop.call_soon_threadsafe(current.task.cancel)
        return True

    async def execute(self, code: str) -> ExecutionResult:
        """Run ``code`` in this session's kernel (started on first use) and log the result
        as a durable ``execution`` event. Failures of the code, the time limit or the kernel
        are in the result; a plugin that fails to load raises before any code runs."""
        return await self.app.arun(self._execute(code))

    def variables(self) -> tuple[VariableInfo, ...]:
        """The kernel's variables after the latest execution (empty before the first)."""
        return self._execution.variables() if self._execution is not None else ()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._execution is not None:
            if _running_loop() is self.app._loop.loop:
                asyncio.ensure_future(self._execution.close())
            else:
                self.app.run(self._execution.close())
        if self._store is not None:
            self._store.close()
        self.app._sessions.pop(self.id, None)

    # ---- inside the loop --------------------------------------------------------------

    def emit(self, event: Event) -> None:
        """Publish an event; durable ones are appended to the session's log first."""
        current = self._current
        if event.type is EventType.llm_call:
            # The one converter ignores keys a newer LLM client adds, where Usage(**...) would fail the round.
            usage = from_data(event.data.get("usage", {}), Usage)
            self.usage = self.usage + usage
            # A call between rounds (an extension's background work) counts for the session only.
            if current is not None:
                current.usage = current.usage + usage
        if event.durable:
            self._ensure_store().append(event)
        self.app._publish(event, self)

    def guard_context(self, role: str, round: Round | None = None, step: str | None = None) -> GuardContext:
        current = self._current
        return GuardContext(
            session_id=self.id,
            round_id=round.id if round else None,
            role=role,
            config=self.app.config,
            session_usage=self.usage,
            round_usage=current.usage if current else Usage(),
            round_llm_calls=current.usage.llm_calls if current else 0,
            step=step,
            scratch=self.scratch,
            session_rounds=len(self.rounds),
            plugins={spec.name: spec for spec in self.app.plugins.specs},
        )

    async def _execute(self, code: str) -> ExecutionResult:
        if self._closed:
            raise WeaverError(f"session {self.id} is closed")
        if self._execution is None:
            from weaver.execution.service import SessionExecution

            self.app._kernels_used = True
            self._execution = SessionExecution(self)
        result = await self._execution.execute(code)
        round_id = self._current.round.id if self._current is not None else None
        self.emit(Event(EventType.execution, self.id, round_id, data={"result": to_data(result)}))
        return result

    def _ensure_store(self) -> SessionStore:
        if self._store is None:
            self._store = SessionStore(self.paths)
        return self._store

    def _role(self, alias: str) -> Role:
        if alias not in self._roles:
            self._roles[alias] = self._role_specs[alias].factory()
        return self._roles[alias]

    def _attach_files(self, files: Sequence[str | os.PathLike[str]]) -> tuple[Attachment, ...]:
        attachments = []
        self.paths.create()
        for item in files:
            source = Path(item)
            target = self.cwd / source.name
            shutil.copyfile(source, target)
            attachments.append(Attachment(AttachmentType.file, source.name, {"path": str(target)}))
        return tuple(attachments)

    async def _round(self, text: str, files: Sequence[str | os.PathLike[str]]) -> Round:
        if self._closed:
            raise WeaverError(f"session {self.id} is closed")
        if self._current is not None:
            raise WeaverError(f"session {self.id} is already running a round; cancel it or wait")
        state = _RoundState(Round(user_query=text, state=RoundState.running))
        self._current = state
        state.task = asyncio.current_task()  # type: ignore[assignment]
        try:
            return await self._drive(state, text, files)
        finally:
            self._current = None

    async def _drive(self, state: _RoundState, text: str, files: Sequence[str | os.PathLike[str]]) -> Round:
        round_id = state.round.id
        self.emit(Event(EventType.round_start, self.id, round_id, data={"user_query": text}))
        max_hops = self.app.config.table("session").max_hops
        final_state, reason, answer = RoundState.failed, "", None
        try:
            if not self.entry:
                raise RoundStopped("no roles are enabled: set [session] roles")
            post = Post(send_from=USER, send_to=self.entry, message=text, attachments=self._attach_files(files))
            hops = 0
            while True:
                self._record_post(state, post)
                if post.send_to == USER:
                    stop = post.attachment(AttachmentType.stop)
                    final_state, reason, answer = RoundState.finished, stop.content if stop else "Completed", post.message
                    break
                if post.send_to not in self._role_specs:
                    raise RoundStopped(
                        f"{post.send_from} sent a post to {post.send_to!r}, which is not an enabled role "
                        f"(enabled: {', '.join(self._role_specs)})"
                    )
                hops += 1
                if hops > max_hops:
                    raise RoundStopped(f"hop limit reached: {max_hops} posts in one round ([session] max_hops)")
                ctx = RoleContext(
                    spec=self._role_specs[post.send_to],
                    post=post,
                    round=state.round,
                    history=self.rounds,
                    roles=self._role_specs,
                    config=self.app.config,
                    hooks=self.app.hooks,
                    session=self,
                )
                post = await self._role(post.send_to).reply(ctx)
        except asyncio.CancelledError:
            final_state, reason = RoundState.cancelled, "cancelled"
        except RoundStopped as stop:
            final_state, reason = stop.state, str(stop)
        except Exception as exc:  # a failed round is recorded, never raised
            log.debug("round %s failed", round_id, exc_info=True)
            final_state, reason = RoundState.failed, f"{type(exc).__name__}: {exc}"
            self.emit(Event(EventType.error, self.id, round_id, data={"message": str(exc), "error_type": type(exc).__name__}))
        finished = attrs.evolve(
            state.round, state=final_state, reason=reason, answer=answer, usage=state.usage, ended_at=_now()
        )
        self.rounds = (*self.rounds, finished)
        self.emit(Event(EventType.round_end, self.id, round_id, data={"round": to_data(finished)}))
        return finished

    def _record_post(self, state: _RoundState, post: Post) -> None:
        state.round = attrs.evolve(state.round, posts=(*state.round.posts, post))
        self.emit(Event(EventType.post_end, self.id, state.round.id, post.id, {"post": to_data(post)}))


def _now() -> float:
    return round(time.time(), 6)
