"""``App``: configuration, extensions, a workspace of sessions, and the loop they work on.

``App(project_dir)`` loads configuration and extensions once and owns one event loop, run on
a background thread, on which every session's work happens (:mod:`weaver.engine.loop`).
``app.session()`` starts a conversation, ``app.resume(id)`` rebuilds one from its log.
Sessions live in the App's workspace unless given another (``workspace=``): a service with
one App for many users keeps each user's sessions in that user's own workspace.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Coroutine, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pluggy

from weaver.config import Config, build_config, extensions_strict, read_layers
from weaver.engine.loop import LoopThread
from weaver.engine.session import Session
from weaver.errors import ConfigError, SessionNotFoundError, UnknownNameError
from weaver.events import Event
from weaver.extensions import (
    Hooks,
    LoadReport,
    Registry,
    build_registry,
    check,
    load_extensions,
    make_plugin_manager,
    selected_from_env,
)
from weaver.model import new_id
from weaver.specs import PluginSpec, RoleSpec
from weaver.store import read_log, rebuild_rounds, session_ids, session_paths

if TYPE_CHECKING:
    import asyncio

    from weaver.llm.service import LLMService
    from weaver.plugins.host import HostRunner
    from weaver.plugins.loader import PluginSet
    from weaver.plugins.sources import HostReplay, PluginSources

log = logging.getLogger("weaver.engine")
T = TypeVar("T")
Subscriber = Callable[[Event], None]


class App:
    """A Weaver application: configuration, extensions and a workspace of sessions.

    ``App(project_dir, **overrides)``: ``project_dir`` holds ``weaver.toml`` (default: the
    current directory); overrides are the highest config layer, as dotted keys
    (``**{"session.max_hops": 5}``) or tables (``session={"max_hops": 5}``).

    ``plugin_manager`` replaces entry-point loading (tests, the CLI, embedders that register
    their own extensions); it is checked like loaded extensions are (an implementation of a
    hook that does not exist is an :class:`weaver.errors.ExtensionLoadError`).
    ``load_report`` is then what its loader found, so strict mode (``[extensions] strict``)
    can refuse its failures.
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
        else:
            check(plugin_manager)
        self.load_report: LoadReport = load_report or LoadReport()
        if strict:
            self.load_report.raise_first_failure()
        self.pm = plugin_manager
        self.hooks = Hooks(plugin_manager)
        self.registry: Registry = build_registry(plugin_manager)
        self.config: Config = build_config(self.project_dir, layers, self.registry.config_tables)
        self.hooks.configure(self.config)
        self.workspace = (self.project_dir / self.config.table("workspace").dir).resolve()
        self._loop = LoopThread()
        self._subscribers: list[Subscriber] = []
        self._sessions: dict[Path, Session] = {}
        """Open sessions by directory: ids are unique within a workspace, not across them."""
        self._environ = environ
        self._llm: LLMService | None = None
        self._kernels_used = False
        self._plugins: PluginSet | None = None
        self._plugin_specs: Mapping[str, PluginSpec] | None = None
        self._sources: PluginSources | None = None
        self._host_runner: HostRunner | None = None
        self._roles: tuple[dict[str, RoleSpec], str] | None = None

    @property
    def roles(self) -> dict[str, RoleSpec]:
        """The enabled roles (``[session] roles``) by wire alias; a name nobody provides is a
        :class:`ConfigError` naming where it was set (raised when a session needs them, so
        commands that only inspect the project still work)."""
        return self._enabled_roles()[0]

    @property
    def entry(self) -> str:
        """The wire alias of the role that receives the user's message (``""``: no roles)."""
        return self._enabled_roles()[1]

    def _enabled_roles(self) -> tuple[dict[str, RoleSpec], str]:
        if self._roles is None:
            session = self.config.table("session")
            try:
                roles = {spec.alias: spec for spec in map(self.registry.role, session.roles)}
                entry = session.entry or (session.roles[0] if session.roles else "")
                self._roles = roles, self.registry.role(entry).alias if entry else ""
            except UnknownNameError as exc:
                key = "entry" if session.entry and exc.name == session.entry else "roles"
                source = self.config.sources.get(f"session.{key}", "defaults")
                raise ConfigError(str(exc), source=source, table="session", key=key) from None
        return self._roles

    def preflight(self) -> None:
        """Raise :class:`ConfigError` now if a round could not start: an enabled role that
        calls a model whose model, API key or cassette is not configured.

        Front ends call this before they create or resume a session, so a configuration
        problem stores nothing.
        """
        for spec in self.roles.values():
            if spec.calls_llm:
                self.llm.model(self.llm.alias_for(spec.name))
        if self.llm.settings.mode in ("replay", "replay_or_record") and any(s.calls_llm for s in self.roles.values()):
            _ = self.llm.cassette  # resolving it raises when none is set

    @property
    def llm(self) -> LLMService:
        """The LLM service (model aliases, backends, cassette), created on first use."""
        if self._llm is None:
            # The LLM layer is ~0.2 s of imports an App that never calls a model does not pay.
            from weaver.llm.service import LLMService

            self._llm = LLMService(self.config, self.registry, self.hooks, self._environ, self.project_dir)
        return self._llm

    @property
    def plugins(self) -> PluginSet:
        """The plugins generated code may call (extensions' and the project's), loaded on first use."""
        if self._plugins is None:
            # Loading plugins imports the project's plugin files: only when code can call them.
            from weaver.plugins.loader import load_plugins

            self._plugins = load_plugins(self.pm, self.config, self.load_report, self.plugin_sources)
        return self._plugins

    @property
    def plugin_sources(self) -> PluginSources:
        """The sources of host plugins (MCP servers): each started when its tools are first
        listed, once for this App, and closed with it."""
        if self._sources is None:
            from weaver.extensions import collect_plugin_sources
            from weaver.plugins.sources import PluginSources

            self._sources = PluginSources(collect_plugin_sources(self.pm, self.config), self.host_replay)
        return self._sources

    def host_replay(self) -> HostReplay:
        """How host plugin calls and source listings are recorded and replayed (``[llm] mode``)."""
        from weaver.plugins.sources import HostReplay

        return HostReplay.for_mode(self.config.table("llm").mode, lambda: self.llm.cassette)

    @property
    def host_runner(self) -> HostRunner:
        """What runs this App's host plugins."""
        if self._host_runner is None:
            from weaver.plugins.host import HostRunner

            plugins = {p.name: p for p in self.plugins.plugins}
            self._host_runner = HostRunner(plugins, self._sources)
        return self._host_runner

    @property
    def plugin_specs(self) -> Mapping[str, PluginSpec]:
        """The plugins by name, as hooks see them (``ctx.plugins``)."""
        if self._plugin_specs is None:
            self._plugin_specs = {spec.name: spec for spec in self.plugins.specs}
        return self._plugin_specs

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop every session of this App works on."""
        return self._loop.loop

    # ---- sessions -------------------------------------------------------------------

    def session(self, session_id: str | None = None, *, workspace: Path | None = None) -> Session:
        """A new session (with a fresh id unless one is given), in ``workspace`` (default: the App's)."""
        session = Session(self, new_id("session") if session_id is None else session_id, workspace=workspace)
        self._sessions[session.paths.root] = session
        return session

    def resume(self, session_id: str, *, workspace: Path | None = None) -> Session:
        """Rebuild a session from its event log; problems in the log are in ``session.problems``.

        Everything the log holds comes back: the rounds, the usage of every LLM call
        (background work included) and the state extensions persisted. ``workspace`` is where
        it is stored (default: the App's).
        """
        workspace = self.workspace if workspace is None else workspace
        paths = session_paths(workspace, session_id)
        if not paths.log.is_file():
            raise SessionNotFoundError(f"no session {session_id!r} in {workspace}", session_id=session_id)
        contents = read_log(paths.log)
        for problem in contents.problems:
            log.warning("%s", problem)
        session = Session(
            self,
            session_id,
            rounds=rebuild_rounds(contents.events),
            problems=contents.problems,
            events=contents.events,
            workspace=workspace,
        )
        self._sessions[session.paths.root] = session
        return session

    def session_ids(self, *, workspace: Path | None = None) -> list[str]:
        """Ids of every session stored in ``workspace`` (default: the App's)."""
        return session_ids(self.workspace if workspace is None else workspace)

    def forget(self, session: Session) -> None:
        """Drop a closed session from the App's open sessions."""
        if self._sessions.get(session.paths.root) is session:
            del self._sessions[session.paths.root]

    def warm_up(self, wait: bool = False) -> None:
        """Start the warm pool's kernels (``[execution] pool_size``) so that new sessions'
        first executions do not wait for a kernel; ``wait`` blocks until they are ready.

        Long-lived front ends call this once at start; the pool then refills itself.
        """
        from weaver.execution.service import warm_up  # kernels' code only where kernels are used

        self.used_kernels()
        future = self._loop.submit(warm_up(self.config, wait, self.registry.executors))
        if wait:
            future.result()

    def used_kernels(self) -> None:
        """Note that kernels were started, so closing the App shuts its pools down."""
        self._kernels_used = True

    # ---- events ---------------------------------------------------------------------

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(event)`` for every event of every session; returns an unsubscribe function.

        Callbacks run on Weaver's event loop thread: return quickly.
        """
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    def publish(self, event: Event, session: Session | None = None) -> None:
        """Hand an event to the subscribers and the ``weaver_event`` observers."""
        for callback in list(self._subscribers):
            try:
                callback(event)
            except (Exception, SystemExit):  # observers must not break sessions (rich exits on a closed pipe)
                log.exception("event subscriber %r failed", callback)
        if self.pm.hook.weaver_event.get_hookimpls():
            ctx = session.hook_context("", event.round_id) if session is not None else None
            self.hooks.event(event, ctx)

    # ---- lifecycle ------------------------------------------------------------------

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the app's loop and wait for it (for sync wrappers)."""
        return self._loop.run(coro)

    async def arun(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` on the app's loop from any other loop."""
        return await self._loop.arun(coro)

    def call_soon(self, callback: Callable[..., Any], *args: Any) -> None:
        """Schedule ``callback(*args)`` on the app's loop from any thread."""
        self._loop.call_soon(callback, *args)

    def close(self) -> None:
        """Close every session and stop the loop."""
        for session in list(self._sessions.values()):
            session.close()
        if self._sources is not None:
            self._sources.close()
        if self._llm is not None:
            self.run(self._llm.aclose())
            self._llm = None
        if self._kernels_used:
            from weaver.execution.service import close_pools  # as in warm_up

            self.run(close_pools())
        self._loop.stop()

    def __enter__(self) -> App:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
