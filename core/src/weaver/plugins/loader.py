"""Gathering plugins from their sources, validating them, and resolving their config.

Sources, in order (a name two sources claim is an error naming both; the first is kept):

1. extensions, through the ``weaver_plugins`` hook (a :class:`weaver.specs.PluginSpec`
   whose target is a decorated or plainly typed function, or a callable class);
2. the project's plugins folder (``[plugins] dir``, default ``plugins/``): every ``*.py``
   file's ``@weaver.plugin`` functions, and every TaskWeaver ``name.yaml`` + ``name.py``
   pair. Files starting with ``_`` or ``test_`` are not plugins (helpers and tests).

Each plugin is checked when it loads: its target imports, its schema is complete (typed
parameters and return, a description), its config keys are set. A plugin that fails is
left out of the prompt *and* of the kernel, and the failure is kept in
:attr:`PluginSet.errors` (logged as a warning, shown by ``weaver plugins test``), so the
model is never told about a name the kernel does not have.

Config: a plugin's declared defaults (the extension's ``PluginSpec.config``, a TaskWeaver
YAML's ``configurations``) overlaid with ``[plugins.config.<name>]`` from the config files
or the environment (``WEAVER_PLUGINS__CONFIG__<NAME>__<KEY>``). Values, secrets included,
travel only to the plugin inside the kernel; prompts show config key names, and
``weaver config show`` masks keys that look secret.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from weaver.config import at_least, one_of
from weaver.errors import PluginLoadError, UnknownNameError
from weaver.execution.runtime.plugins import load_target
from weaver.extensions import collect_plugins
from weaver.plugins.decorator import SCHEMA_ATTR, schema_of
from weaver.plugins.schema import PluginSchema
from weaver.specs import PluginSpec

if TYPE_CHECKING:
    import pluggy

    from weaver.config import Config

log = logging.getLogger("weaver.plugins")
TABLE = "plugins"


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


@attrs.frozen
class LoadedPlugin:
    """A plugin ready to bind: its spec (config resolved), its schema and where it came from."""

    spec: PluginSpec
    schema: PluginSchema
    source: str
    test_file: str | None = None
    """``test_<name>.py`` beside a project plugin, run by ``weaver plugins test``."""

    @property
    def name(self) -> str:
        return self.spec.name


@attrs.frozen
class PluginSet:
    """The plugins of an app, and the ones that failed to load."""

    plugins: tuple[LoadedPlugin, ...] = ()
    errors: tuple[PluginLoadError, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.plugins)

    @property
    def specs(self) -> tuple[PluginSpec, ...]:
        """What the kernel binds."""
        return tuple(p.spec for p in self.plugins)

    def get(self, name: str) -> LoadedPlugin:
        for item in self.plugins:
            if item.name == name:
                return item
        failed = next((e for e in self.errors if e.name == name), None)
        if failed is not None:
            raise failed
        raise UnknownNameError(
            "is it installed, in the plugins folder and enabled?", kind="plugin", name=name, known=self.names
        )

    def render(self, names: Iterable[str] | None = None) -> str:
        """The plugins as typed Python signatures with docs, for the CodeInterpreter's prompt."""
        wanted = None if names is None else set(names)
        return "\n\n".join(p.schema.render() for p in self.plugins if wanted is None or p.name in wanted)


def load_plugins(pm: pluggy.PluginManager, config: Config) -> PluginSet:
    """Every plugin of the app: validated, config resolved, enabled ones only."""
    settings = config.table(PluginsConfig)
    loaded: dict[str, LoadedPlugin] = {}
    errors: list[PluginLoadError] = []

    def keep(item: LoadedPlugin) -> None:
        if item.name in loaded:
            errors.append(
                PluginLoadError(
                    f"the name is also used by {loaded[item.name].source}; rename one",
                    name=item.name,
                    source=item.source,
                )
            )
        else:
            loaded[item.name] = item

    specs, providers = collect_plugins(pm, config)
    for name, spec in specs.items():
        source = f"extension {providers.get(('plugin', name), '?')}"
        try:
            keep(_from_extension(spec, source))
        except PluginLoadError as exc:
            errors.append(exc)
    folder = (config.project_dir / settings.dir).resolve()
    if folder.is_dir():
        for item_or_error in _from_folder(folder):
            if isinstance(item_or_error, PluginLoadError):
                errors.append(item_or_error)
            else:
                keep(item_or_error)
    chosen = []
    for item in loaded.values():
        if (settings.enabled and item.name not in settings.enabled) or item.name in settings.disabled:
            continue
        try:
            chosen.append(_with_config(item, settings.config.get(item.name, {})))
        except PluginLoadError as exc:
            errors.append(exc)
    for error in errors:
        log.warning("plugin left out: %s", error)
    return PluginSet(tuple(sorted(chosen, key=lambda p: p.name)), tuple(errors))


def _from_extension(spec: PluginSpec, source: str) -> LoadedPlugin:
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
    return LoadedPlugin(attrs.evolve(spec, batch=schema.batch), schema, source)


def _from_folder(folder: Path) -> Iterable[LoadedPlugin | PluginLoadError]:
    from weaver.plugins import taskweaver_format

    yaml_stems = set()
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        yaml_stems.add(path.stem)
        try:
            _check_importable_name(path.with_suffix(".py"))
            plugin = taskweaver_format.read(path)
        except PluginLoadError as exc:
            yield exc
            continue
        if plugin.enabled:
            spec = PluginSpec(
                plugin.schema.name, plugin.target, plugin.schema.description, plugin.config, path=str(folder)
            )
            yield LoadedPlugin(spec, plugin.schema, str(path), _test_file(folder, plugin.schema.name))
    for path in sorted(folder.glob("*.py")):
        if path.stem in yaml_stems or path.name.startswith(("_", "test_")):
            continue
        try:
            _check_importable_name(path)
            module = taskweaver_format.import_file(path, _failer(path), path.stem)
        except PluginLoadError as exc:
            yield exc
            continue
        for attr, value in vars(module).items():
            schema = getattr(value, SCHEMA_ATTR, None)
            if isinstance(schema, PluginSchema) and getattr(value, "__module__", None) == module.__name__:
                spec = PluginSpec(
                    schema.name, f"{path.stem}:{attr}", schema.description, batch=schema.batch, path=str(folder)
                )
                yield LoadedPlugin(spec, schema, str(path), _test_file(folder, schema.name))


def _failer(path: Path) -> Any:
    return lambda message, name=path.stem: PluginLoadError(message, name=name, source=str(path))


def _check_importable_name(py_path: Path) -> None:
    """The kernel imports the file by its stem: it must be an identifier that no installed
    module already uses, or the kernel would import that module instead."""
    stem = py_path.stem
    if not stem.isidentifier():
        raise PluginLoadError(
            f"the file name {py_path.name!r} is not importable; use letters, digits and _",
            name=stem,
            source=str(py_path),
        )
    try:
        found = importlib.util.find_spec(stem)
    except (ImportError, ValueError):
        found = None
    origin = Path(found.origin).resolve().parent if found is not None and found.origin else None
    if found is not None and origin != py_path.parent.resolve():
        raise PluginLoadError(
            f"the file name {py_path.name!r} is the name of the installed module {stem!r} ({found.origin}); rename the file",
            name=stem,
            source=str(py_path),
        )


def _test_file(folder: Path, name: str) -> str | None:
    path = folder / f"test_{name}.py"
    return str(path) if path.is_file() else None


def _with_config(item: LoadedPlugin, overrides: Mapping[str, Any]) -> LoadedPlugin:
    merged = {**item.spec.config, **overrides}
    missing = [key for key in item.schema.config_keys if merged.get(key) in (None, "")]
    if missing:
        keys = ", ".join(missing)
        raise PluginLoadError(
            f"config {keys} not set: set it in [plugins.config.{item.name}] or with "
            + ", ".join(f"WEAVER_PLUGINS__CONFIG__{item.name.upper()}__{key.upper()}" for key in missing),
            name=item.name,
            source=item.source,
        )
    return attrs.evolve(item, spec=attrs.evolve(item.spec, config=merged))
