"""Finding, loading and calling extensions.

Extensions are entry points of the ``weaver`` group. Each loads in its own ``try``: a broken
one is reported (name, distribution, version, the error) and skipped, or is fatal in strict
mode. The core's defaults (:mod:`weaver.defaults`) register through the same call.

The rest of Weaver reaches hooks through :class:`Hooks`, a typed facade, and reads what
extensions registered from a :class:`Registry`.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import logging
import os
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

import attrs
import pluggy

from weaver import hookspecs
from weaver.errors import DuplicateProviderError, ExtensionLoadError, UnknownNameError
from weaver.specs import (
    ConfigTable,
    ExecutorSpec,
    LLMBackendSpec,
    PluginSpec,
    RoleSpec,
    Verdict,
    VerifyMode,
    Violation,
)

if TYPE_CHECKING:
    import typer

    from weaver.config import Config
    from weaver.engine import Session
    from weaver.events import Event
    from weaver.execution import ExecutionResult
    from weaver.guards import GuardContext, Outcome
    from weaver.llm import LLMRequest, LLMResponse
    from weaver.memory import CompressedMemory, MemoryBudget
    from weaver.model import Round

ENTRY_POINT_GROUP = "weaver"
DEFAULTS_NAME = "weaver.defaults"
LOAD_ENV = "WEAVER_LOAD_PLUGINS"

log = logging.getLogger("weaver.extensions")


@attrs.frozen
class ExtensionInfo:
    """One extension as ``weaver plugins`` shows it."""

    name: str
    module: str
    distribution: str = ""
    version: str = ""
    hooks: tuple[str, ...] = ()
    error: str | None = None
    builtin: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None

    def load_error(self) -> ExtensionLoadError:
        """This extension's failure as the error strict mode raises."""
        return ExtensionLoadError(
            self.error or "", name=self.name, distribution=self.distribution, version=self.version
        )


@attrs.frozen
class LoadReport:
    """Every extension a loader tried, in load order, the core defaults first."""

    extensions: tuple[ExtensionInfo, ...] = ()

    @property
    def failed(self) -> tuple[ExtensionInfo, ...]:
        return tuple(e for e in self.extensions if not e.ok)

    def raise_first_failure(self) -> None:
        """Strict mode: raise :class:`ExtensionLoadError` for the first extension that failed."""
        for info in self.failed:
            raise info.load_error()


def make_plugin_manager() -> pluggy.PluginManager:
    """A plugin manager that knows Weaver's hook specs and has nothing registered."""
    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    return pm


def selected_from_env(environ: Mapping[str, str] = os.environ) -> frozenset[str] | None:
    """``WEAVER_LOAD_PLUGINS=a,b`` selects those extensions; empty selects none; unset, all."""
    value = environ.get(LOAD_ENV)
    if value is None:
        return None
    return frozenset(name.strip() for name in value.split(",") if name.strip())


def load_extensions(
    pm: pluggy.PluginManager,
    *,
    only: Collection[str] | None = None,
    strict: bool = False,
    entry_points: Iterable[importlib.metadata.EntryPoint] | None = None,
) -> LoadReport:
    """Register the core defaults, then every selected ``weaver`` entry point.

    ``only`` limits loading to those entry-point names (``None``: all). In ``strict`` mode
    the first failure raises :class:`ExtensionLoadError`; otherwise it is reported and the
    extension skipped.
    """
    from weaver import __version__, defaults

    infos = [
        _register(pm, defaults, name=DEFAULTS_NAME, distribution="weaver-core", version=__version__, builtin=True)
    ]
    if entry_points is None:
        entry_points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    for ep in sorted(entry_points, key=lambda e: e.name):
        if only is not None and ep.name not in only:
            continue
        dist = getattr(ep, "dist", None)
        dist_name = dist.metadata["Name"] if dist is not None else ""
        dist_version = dist.version if dist is not None else ""
        try:
            module = ep.load()
            info = _register(pm, module, name=ep.name, distribution=dist_name, version=dist_version)
        except Exception as exc:  # noqa: BLE001 - any failure of third-party code is reported
            info = ExtensionInfo(
                name=ep.name,
                module=ep.value,
                distribution=dist_name,
                version=dist_version,
                error=f"{type(exc).__name__}: {exc}",
            )
        if info.error is not None:
            if strict:
                raise info.load_error()
            log.warning("skipping extension %r from %s: %s", info.name, dist_name or "?", info.error)
        infos.append(info)
    return LoadReport(tuple(infos))


def _register(
    pm: pluggy.PluginManager,
    module: ModuleType | object,
    *,
    name: str,
    distribution: str = "",
    version: str = "",
    builtin: bool = False,
) -> ExtensionInfo:
    def info(**kw: Any) -> ExtensionInfo:
        return ExtensionInfo(
            name=name,
            module=getattr(module, "__name__", type(module).__name__),
            distribution=distribution,
            version=version,
            builtin=builtin,
            **kw,
        )

    unknown = _unknown_hooks(pm, module)
    if unknown:
        return info(error=f"implements unknown hook(s) {', '.join(unknown)}; 'weaver plugins --all' lists the hooks")
    holder = pm.get_plugin(name)
    if holder is not None:
        return info(error=f"an extension named {name!r} is already registered ({pm.get_name(holder) or name})")
    pm.register(module, name=name)
    hooks = tuple(sorted(caller.name for caller in pm.get_hookcallers(module) or ()))
    return info(hooks=hooks)


def _unknown_hooks(pm: pluggy.PluginManager, module: object) -> list[str]:
    """Hook implementations whose names no spec has (a misspelt hook), with the likely intended name."""
    names = []
    for attr in dir(module):
        if pm.parse_hookimpl_opts(module, attr) is not None and attr not in hookspecs.HOOK_NAMES:
            close = difflib.get_close_matches(attr, hookspecs.HOOK_NAMES, n=1)
            names.append(f"{attr} (did you mean {close[0]}?)" if close else attr)
    return names


# --------------------------------------------------------------------------------------
# The registry: what extensions declared through the registration hooks
# --------------------------------------------------------------------------------------


@attrs.frozen
class Registry:
    """Roles, backends, executors and config tables by name, each with its provider."""

    roles: Mapping[str, RoleSpec] = attrs.field(factory=dict)
    llm_backends: Mapping[str, LLMBackendSpec] = attrs.field(factory=dict)
    executors: Mapping[str, ExecutorSpec] = attrs.field(factory=dict)
    config_tables: Mapping[str, ConfigTable] = attrs.field(factory=dict)
    providers: Mapping[tuple[str, str], str] = attrs.field(factory=dict)

    def role(self, name: str) -> RoleSpec:
        """The role called ``name`` (config name) or with that wire alias."""
        for spec in self.roles.values():
            if name in (spec.name, spec.alias):
                return spec
        raise UnknownNameError(
            "is it installed and enabled?", kind="role", name=name, known=tuple(sorted(self.roles))
        )


def collect(
    pm: pluggy.PluginManager, hook: str, kind: str, key: Callable[[Any], Iterable[str]], **kwargs: Any
) -> tuple[dict[str, Any], dict[tuple[str, str], str]]:
    """Call every implementation of a registration hook; reject a name two extensions provide.

    ``key(record)`` gives the names a record claims (a role claims its name and its alias).
    """
    records: dict[str, Any] = {}
    owners: dict[tuple[str, str], list[str]] = defaultdict(list)
    for impl in reversed(getattr(pm.hook, hook).get_hookimpls()):
        args = {name: kwargs[name] for name in impl.argnames}
        for record in impl.function(**args) or ():
            # dict.fromkeys: a role whose name equals its alias claims that name once.
            for claimed in dict.fromkeys(key(record)):
                owners[(kind, claimed)].append(impl.plugin_name)
            records[next(iter(key(record)))] = record
    for (_, claimed), names in owners.items():
        if len(names) > 1:
            raise DuplicateProviderError("", kind=kind, name=claimed, providers=tuple(names))
    return records, {k: v[0] for k, v in owners.items()}


def build_registry(pm: pluggy.PluginManager) -> Registry:
    roles, p1 = collect(pm, "weaver_roles", "role", lambda r: (r.name, r.alias))
    backends, p2 = collect(pm, "weaver_llm_backends", "LLM backend", lambda r: (r.name,))
    executors, p3 = collect(pm, "weaver_executors", "executor", lambda r: (r.name,))
    tables, p4 = collect(pm, "weaver_config_tables", "config table", lambda r: (r.name,))
    return Registry(
        roles=roles,
        llm_backends=backends,
        executors=executors,
        config_tables=tables,
        providers={**p1, **p2, **p3, **p4},
    )


def collect_plugins(pm: pluggy.PluginManager, config: Config) -> dict[str, PluginSpec]:
    """Plugins depend on configuration, so they are gathered once it is known."""
    plugins, _ = collect(pm, "weaver_plugins", "plugin", lambda r: (r.name,), config=config)
    return plugins


# --------------------------------------------------------------------------------------
# The typed facade the rest of Weaver calls hooks through
# --------------------------------------------------------------------------------------


def _combined(verdicts: Iterable[Verdict | None]) -> Outcome:
    # Imported on the first guard call: ``weaver --help`` has no use for weaver.guards and
    # weaver.model (about 7 ms of class creation).
    from weaver.guards import combine

    return combine(verdicts)


class Hooks:
    """Typed calls into the extensions. Guard calls return a combined :class:`Outcome`."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm

    def configure(self, config: Config) -> None:
        self.pm.hook.weaver_configure.call_historic(kwargs={"config": config})

    def cli(self, app: typer.Typer) -> dict[str, str]:
        """Let extensions add commands; returns ``{extension: error}`` for each whose hook raised.

        A failing extension must not take the whole CLI down, so each runs in its own ``try``.
        """
        failures: dict[str, str] = {}
        for impl in reversed(self.pm.hook.weaver_cli.get_hookimpls()):
            try:
                impl.function(app=app)
            except Exception as exc:  # noqa: BLE001 - third-party code; reported, not fatal
                failures[impl.plugin_name] = f"its weaver_cli hook raised {type(exc).__name__}: {exc}"
                log.warning("extension %r could not add its commands: %s", impl.plugin_name, failures[impl.plugin_name])
        return failures

    def has_verifiers(self) -> bool:
        """Whether any extension implements ``weaver_verify_code`` (without one, no code runs)."""
        return bool(self.pm.hook.weaver_verify_code.get_hookimpls())

    def verify_code(self, code: str, mode: VerifyMode, plugins: Sequence[str]) -> list[Violation]:
        results = self.pm.hook.weaver_verify_code(code=code, mode=mode, plugins=tuple(plugins))
        return sorted((v for found in results for v in (found or ())), key=lambda v: (v.line, v.col))

    def before_llm_call(self, request: LLMRequest, ctx: GuardContext) -> Outcome:
        return _combined(self.pm.hook.weaver_before_llm_call(request=request, ctx=ctx))

    def after_llm_call(self, request: LLMRequest, response: LLMResponse, ctx: GuardContext) -> Outcome:
        return _combined(self.pm.hook.weaver_after_llm_call(request=request, response=response, ctx=ctx))

    def before_execute(self, code: str, ctx: GuardContext) -> Outcome:
        return _combined(self.pm.hook.weaver_before_execute(code=code, ctx=ctx))

    def after_execute(self, code: str, result: ExecutionResult, ctx: GuardContext) -> Outcome:
        return _combined(self.pm.hook.weaver_after_execute(code=code, result=result, ctx=ctx))

    def plugin_call_budget(self, config: Config) -> int | None:
        return self.pm.hook.weaver_plugin_call_budget(config=config)

    def compress_memory(self, rounds: Sequence[Round], budget: MemoryBudget, role: str) -> CompressedMemory:
        return self.pm.hook.weaver_compress_memory(rounds=tuple(rounds), budget=budget, role=role)

    def format_feedback(self, result: ExecutionResult, code: str) -> str:
        return self.pm.hook.weaver_format_feedback(result=result, code=code)

    def event(self, event: Event, session: Session | None = None) -> None:
        """Deliver an event; a subscriber that raises is logged, never fatal to the session."""
        arguments = {"event": event, "session": session}
        for impl in reversed(self.pm.hook.weaver_event.get_hookimpls()):
            try:
                impl.function(**{name: arguments[name] for name in impl.argnames})
            except (Exception, SystemExit):  # observers must not break sessions (rich exits on a closed pipe)
                log.exception("event subscriber %s failed on %s", impl.plugin_name, event.type.value)
