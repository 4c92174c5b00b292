"""Gathering plugins from their sources, validating them, and resolving their config.

Sources:

1. the project's plugins folder (``[plugins] dir``, default ``plugins/``): every ``*.py``
   file's ``@weaver.plugin`` functions, and every TaskWeaver ``name.yaml`` + ``name.py``
   pair (:mod:`weaver.plugins.folder`);
2. extensions, through the ``weaver_plugins`` hook (a :class:`weaver.specs.PluginSpec`
   whose target is a decorated or plainly typed function, or a callable class);
3. plugin sources, through the ``weaver_plugin_sources`` hook: each tool of a source (an
   MCP server) is the host plugin ``<source>.<tool>`` (:mod:`weaver.plugins.sources`).

**Host plugins** run on the host and are called from kernel code through a stub
(:mod:`weaver.plugins.host`): those declared so (``@weaver.plugin(host=True)``,
``PluginSpec(host=True)``, ``host: true`` in a TaskWeaver YAML), those ``[plugins] host``
names, and every source's tools. Their config, secrets included, never reaches the kernel.

**The project's own plugin wins.** When a project file defines a plugin with the name of an
extension's (a TaskWeaver project's ``anomaly_detection.yaml`` and the ``anomaly_detection``
of ``weaver-data-plugins``), the project's is used and the extension's is *shadowed*: not
imported, and listed by ``weaver plugins`` and ``weaver doctor`` (as a warning) with the
file that shadows it. This holds whatever the state of the project's plugin (disabled or
broken too), so a name means one thing in a project. Two project files defining one name
are an error for the second, naming the first.

**Disabled plugins are not imported**: ``enabled: false`` in a TaskWeaver YAML,
``[plugins] disabled``, or a name left out of a non-empty ``[plugins] enabled``.

Each other plugin is checked when it loads: its target imports, its schema is complete
(typed parameters and return, a description), its config keys are set. A plugin that fails
is left out of the prompt *and* of the kernel, so the model is never told about a name the
kernel does not have. Every plugin gets a :class:`weaver.plugins.records.PluginStatus` in
:attr:`PluginSet.statuses`; the ones whose severity is ``fail`` (a broken project or
extension plugin; a plugin ``[plugins] enabled`` names that is not there, not configured or
broken) are logged as warnings on every run. An optional plugin that nobody configured (an
extension's, not named in ``[plugins] enabled``) is only *listed* as not configured.

Config: a plugin's declared defaults (the extension's ``PluginSpec.config``, a TaskWeaver
YAML's ``configurations``) overlaid with ``[plugins.config.<name>]`` from the config files
or the environment (``WEAVER_PLUGINS__CONFIG__<NAME>__<KEY>``). A key a TaskWeaver YAML lists
is set even when left blank (the plugin receives ``None``); any other key needs a value that
is not blank. Values, secrets included, travel only to the
plugin inside the kernel; prompts show config key names, and ``weaver config show`` masks
keys that look secret.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from weaver.config import at_least, one_of
from weaver.errors import PluginLoadError, UnknownNameError
from weaver.execution.runtime.plugins import load_target
from weaver.extensions import collect_plugins
from weaver.plugins.decorator import schema_of
from weaver.plugins.folder import project_plugins
from weaver.plugins.records import LoadedPlugin, PluginOrigin, PluginState, PluginStatus, Severity
from weaver.plugins.sources import PluginSources
from weaver.specs import PluginSpec

if TYPE_CHECKING:
    import pluggy

    from weaver.config import Config
    from weaver.extensions import LoadReport

log = logging.getLogger("weaver.plugins")
TABLE = "plugins"
_LOG_LEVELS = {Severity.fail: logging.WARNING, Severity.warn: logging.INFO}


@attrs.frozen
class PluginsConfig:
    """``[plugins]``: where the project's plugins live, which are enabled, their config, and
    how many calls code may make.

    ``enabled`` empty means every plugin found; ``config`` holds one table per plugin,
    written ``[plugins.config.sql_pull_data]``.
    """

    dir: str = "plugins"
    enabled: tuple[str, ...] = ()
    disabled: tuple[str, ...] = ()
    config: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    call_budget: int = attrs.field(default=25, validator=at_least(0))
    """Calls each plugin may get in one ``call_budget_scope``; past it the kernel raises
    ``PluginBudgetExceeded`` and keeps the results so far. 0 counts calls without a limit."""
    call_budget_scope: str = attrs.field(default="step", validator=one_of("step", "round", "execution"))
    """What one budget covers: ``step`` (every attempt and re-plan of a step, until one of its
    executions succeeds), ``round`` or ``execution``; see :mod:`weaver.plugins.budget`."""
    host: tuple[str, ...] = ()
    """Plugins that run on the host rather than in the kernel, by name (besides those that
    declare it themselves): their config stays on the host, kernel code calls a stub."""
    prompt_tools: int = attrs.field(default=20, validator=at_least(0))
    """How many tools of plugin sources (MCP servers) the CodeInterpreter's prompt shows in
    full; the model finds the others with ``weaver_tools.search()`` in the kernel."""

    def unwanted(self, name: str) -> str | None:
        """Why this configuration switches the plugin ``name`` off (``None``: it does not)."""
        if name in self.disabled:
            return "in [plugins] disabled"
        if self.enabled and name not in self.enabled:
            return "not in [plugins] enabled"
        return None

    def unwanted_tool(self, source: str, name: str) -> str | None:
        """Why this configuration switches off the tool ``name`` of plugin source ``source``:
        either name may be given in ``[plugins] enabled`` or ``disabled``."""
        if name in self.disabled or source in self.disabled:
            return "in [plugins] disabled"
        if self.enabled and name not in self.enabled and source not in self.enabled:
            return "not in [plugins] enabled"
        return None


@attrs.frozen
class PluginSet:
    """The plugins of an app that loaded, and the status of every plugin found."""

    plugins: tuple[LoadedPlugin, ...] = ()
    statuses: tuple[PluginStatus, ...] = ()
    """One per plugin found (loaded ones included), by name, the one in use first."""
    prompt_tools: int = 20
    """How many plugin-source tools :meth:`render` shows in full (``[plugins] prompt_tools``)."""

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.plugins)

    @property
    def specs(self) -> tuple[PluginSpec, ...]:
        """What the kernel binds."""
        return tuple(p.spec for p in self.plugins)

    @property
    def errors(self) -> tuple[PluginLoadError, ...]:
        """Why each plugin that failed to load did (not the disabled, shadowed or unconfigured)."""
        return tuple(s.error() for s in self.statuses if s.state is PluginState.failed)

    def get(self, name: str) -> LoadedPlugin:
        """The loaded plugin ``name``; raises why it is not loaded, or :class:`UnknownNameError`."""
        for item in self.plugins:
            if item.name == name:
                return item
        status = next((s for s in self.statuses if s.name == name), None)
        if status is not None:
            raise status.error()
        raise UnknownNameError(
            "is it installed, in the plugins folder and enabled?", kind="plugin", name=name, known=self.names
        )

    def render(self, names: Iterable[str] | None = None) -> str:
        """The plugins as typed Python signatures with docs, for the CodeInterpreter's prompt.

        Tools of plugin sources come last: at most ``prompt_tools`` of them in full, then
        each source's name with how many more tools it has and how to find them.
        """
        wanted = None if names is None else set(names)
        chosen = [p for p in self.plugins if wanted is None or p.name in wanted]
        own = [p.schema.render() for p in chosen if p.origin is not PluginOrigin.source]
        tools = [p for p in chosen if p.origin is PluginOrigin.source]
        shown = [p.schema.render() for p in tools[: self.prompt_tools]]
        hidden: dict[str, int] = {}
        for item in tools[self.prompt_tools :]:
            server = item.name.partition(".")[0]
            hidden[server] = hidden.get(server, 0) + 1
        if tools:
            servers = sorted({p.name.partition(".")[0] for p in tools})
            lines = [f"# Tools of {', '.join(servers)}: call them as <source>.<tool>(...); they run on the host."]
            if hidden:
                more = ", ".join(f"{count} more of {server}" for server, count in sorted(hidden.items()))
                lines.append(
                    f"# Not shown here: {more}. Find them in the kernel with weaver_tools.search('words'); "
                    "weaver_tools.help('source.tool') prints one tool's docs."
                )
            shown.insert(0, "\n".join(lines))
        return "\n\n".join(own + shown)


def load_plugins(
    pm: pluggy.PluginManager, config: Config, report: LoadReport | None = None, sources: PluginSources | None = None
) -> PluginSet:
    """Every plugin of the app: the enabled ones validated with their config resolved, and a
    status for each. ``report`` (the extensions' load report) names each extension's
    distribution; ``sources`` (the App's) are listed for their tools."""
    settings = config.table(PluginsConfig)
    statuses: list[PluginStatus] = []
    ready: dict[str, LoadedPlugin] = {}
    project: dict[str, str] = {}
    """Names the project's folder claims, with the first file claiming each."""

    folder = (config.project_dir / settings.dir).resolve()
    found = project_plugins(folder, settings.unwanted) if folder.is_dir() else ()
    for item in found:
        if isinstance(item, LoadedPlugin) and item.name in ready:
            detail = f"the name is also defined by {ready[item.name].source}; rename one"
            statuses.append(PluginStatus(item.name, PluginState.failed, item.origin, item.source, detail))
        elif isinstance(item, LoadedPlugin):
            ready[item.name] = item
        else:
            statuses.append(item)
        project.setdefault(item.name, item.source)

    specs, providers = collect_plugins(pm, config)
    for name, spec in specs.items():
        extension = providers.get(("plugin", name), "?")
        source, distribution = f"extension {extension}", _distribution(report, extension)
        unwanted = settings.unwanted(name)
        if unwanted or name in project:
            state = PluginState.disabled if unwanted else PluginState.shadowed
            detail = unwanted or f"by {project[name]}: the project's own plugin of that name wins"
        else:
            try:
                ready[name] = _from_extension(spec, source, distribution)
                continue
            except PluginLoadError as exc:
                state, detail = PluginState.failed, exc.message
        statuses.append(
            PluginStatus(name, state, PluginOrigin.extension, source, detail, spec.description, distribution)
        )

    if sources is not None:
        for source in sources.names:
            statuses += _source_tools(source, sources, settings, project, ready)

    chosen = []
    for item in ready.values():
        try:
            item = _with_config(item, settings.config.get(item.name, {}))
        except PluginLoadError as exc:
            state, detail = PluginState.not_configured, exc.message
        else:
            item = _placed(item, settings)
            chosen.append(item)
            state, detail = PluginState.loaded, ""
        description = item.schema.description.strip()
        statuses.append(
            PluginStatus(
                item.name, state, item.origin, item.source, detail, description, item.distribution, host=item.spec.host
            )
        )

    seen = {status.name for status in statuses} | set(sources.names if sources is not None else ())
    for name in settings.enabled:
        if name not in seen:
            detail = "no plugin of that name: not in the plugins folder, and no installed extension provides it"
            statuses.append(PluginStatus(name, PluginState.failed, PluginOrigin.config, "[plugins] enabled", detail))
    ordered = sorted(
        (attrs.evolve(s, requested=s.name in settings.enabled) for s in statuses),
        key=lambda s: (s.name, s.state is not PluginState.loaded, s.origin is PluginOrigin.extension),
    )
    for status in ordered:
        level = _LOG_LEVELS.get(status.severity)
        if level is not None:
            log.log(level, "plugin left out: %s" if status.severity is Severity.fail else "%s", status)
    chosen.sort(key=lambda p: (p.origin is PluginOrigin.source, p.name))
    return PluginSet(tuple(chosen), tuple(ordered), prompt_tools=settings.prompt_tools)


def _placed(item: LoadedPlugin, settings: PluginsConfig) -> LoadedPlugin:
    """``item`` with its schema on its spec, and on the host if anything says so."""
    host = item.spec.host or item.schema.host or item.name in settings.host
    schema = attrs.evolve(item.schema, host=host)
    spec = attrs.evolve(item.spec, host=host, kernel_view=schema.kernel_payload())
    return attrs.evolve(item, schema=schema, spec=spec)


def _source_tools(
    source: str,
    sources: PluginSources,
    settings: PluginsConfig,
    project: Mapping[str, str],
    ready: dict[str, LoadedPlugin],
) -> list[PluginStatus]:
    """Each tool of ``source`` as a host plugin in ``ready``; the statuses of those left out
    (and one failed status for the source when it cannot be reached)."""
    where = f"plugin source {source}"
    description = sources.specs[source].description
    try:
        tools = sources.tools(source)
    except Exception as exc:  # noqa: BLE001 - an unreachable source is reported, never fatal
        detail = f"its tools could not be listed: {type(exc).__name__}: {exc}"
        return [PluginStatus(f"{source}.*", PluginState.failed, PluginOrigin.source, where, detail, description)]
    statuses = []
    for tool in tools:
        name = f"{source}.{tool.schema.name}"
        schema = attrs.evolve(tool.schema, name=name, host=True)
        unwanted = settings.unwanted_tool(source, name)
        if name in ready or name in project:
            detail = f"the name is also defined by {ready[name].source if name in ready else project[name]}"
            statuses.append(PluginStatus(name, PluginState.failed, PluginOrigin.source, where, detail, schema.description))
        elif unwanted is not None:
            statuses.append(PluginStatus(name, PluginState.disabled, PluginOrigin.source, where, unwanted, schema.description))
        else:
            spec = PluginSpec(name, f"{source}:{tool.remote_name}", schema.description, cost=tool.cost, host=True)
            ready[name] = LoadedPlugin(spec, schema, where, origin=PluginOrigin.source, distribution=source)
    return statuses


def _distribution(report: LoadReport | None, extension: str) -> str:
    info = next((e for e in report.extensions if e.name == extension), None) if report is not None else None
    return f"{info.distribution} {info.version}".strip() if info is not None else ""


def _from_extension(spec: PluginSpec, source: str, distribution: str) -> LoadedPlugin:
    try:
        function = load_target(spec.target, spec.path)
    except Exception as exc:  # noqa: BLE001 - any import failure is this plugin's load error
        raise PluginLoadError(
            f"target {spec.target!r} does not load: {type(exc).__name__}: {exc}", name=spec.name, source=source
        ) from None
    if not callable(function):
        raise PluginLoadError(f"target {spec.target!r} is not callable", name=spec.name, source=source)
    schema = schema_of(function, name=spec.name, description=spec.description or None, batch=spec.batch)
    if spec.batch is not None and schema.batch is None:
        schema = attrs.evolve(schema, batch=spec.batch)
    return LoadedPlugin(attrs.evolve(spec, batch=schema.batch), schema, source, distribution=distribution)


def _with_config(item: LoadedPlugin, overrides: Mapping[str, Any]) -> LoadedPlugin:
    merged = {**item.spec.config, **overrides}
    missing = [key for key in item.schema.config_keys if key not in merged or _unset(item, merged, key)]
    if missing:
        keys = ", ".join(missing)
        raise PluginLoadError(
            f"config {keys} not set: set it in [plugins.config.{item.name}] or with "
            + ", ".join(f"WEAVER_PLUGINS__CONFIG__{item.name.upper()}__{key.upper()}" for key in missing),
            name=item.name,
            source=item.source,
        )
    return attrs.evolve(item, spec=attrs.evolve(item.spec, config=merged))


def _unset(item: LoadedPlugin, merged: Mapping[str, Any], key: str) -> bool:
    """A blank value counts as set only where the plugin declares it blank itself (a TaskWeaver
    YAML's ``api_base:``); a ``@weaver.plugin`` config key needs a real value."""
    return item.origin is not PluginOrigin.taskweaver and merged[key] in (None, "")
