"""Finding and registering extensions: one path for entry points, a given plugin manager and tests.

Extensions are entry points of the ``weaver`` group. Each loads in its own ``try``: a broken
one is reported (name, distribution, version, the error) and skipped, or is fatal in strict
mode. The core's defaults (:mod:`weaver.defaults`) register through the same call,
:func:`register`, which refuses an implementation of a hook that does not exist (with a
"did you mean"), and :func:`check` runs the same check, plus ``pm.check_pending()``, over a
plugin manager that was filled some other way.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import logging
import os
import warnings
from collections.abc import Collection, Iterable, Mapping
from types import ModuleType
from typing import Any

import attrs
import pluggy

from weaver import __version__, defaults, hookspecs
from weaver.errors import ExtensionLoadError

ENTRY_POINT_GROUP = "weaver"
DEFAULTS_NAME = "weaver.defaults"
LOAD_ENV = "WEAVER_LOAD_EXTENSIONS"
OLD_LOAD_ENV = "WEAVER_LOAD_PLUGINS"
"""The variable's name before extensions and plugins were told apart; deprecated."""

log = logging.getLogger("weaver.extensions")


@attrs.frozen
class ExtensionInfo:
    """One extension as ``weaver extensions`` shows it."""

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
    """``WEAVER_LOAD_EXTENSIONS=a,b`` selects those extensions; empty selects none; unset, all.

    ``WEAVER_LOAD_PLUGINS``, the old name, still works, with a deprecation warning.
    """
    value = environ.get(LOAD_ENV)
    if value is None and OLD_LOAD_ENV in environ:
        warnings.warn(f"{OLD_LOAD_ENV} is deprecated: use {LOAD_ENV}", DeprecationWarning, stacklevel=2)
        log.warning("%s is deprecated: use %s", OLD_LOAD_ENV, LOAD_ENV)
        value = environ[OLD_LOAD_ENV]
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
    infos = [register(pm, defaults, name=DEFAULTS_NAME, distribution="weaver-core", version=__version__, builtin=True)]
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
            info = register(pm, module, name=ep.name, distribution=dist_name, version=dist_version)
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


def register(
    pm: pluggy.PluginManager,
    module: ModuleType | object,
    *,
    name: str | None = None,
    distribution: str = "",
    version: str = "",
    builtin: bool = False,
) -> ExtensionInfo:
    """Register one extension object; the returned info's ``error`` says why it was refused.

    Refused: an implementation of a hook that does not exist (a misspelt hook, named with
    the likely intended one), a name already registered, or an implementation whose
    arguments the hook does not have.
    """
    name = name or getattr(module, "__name__", None) or f"{type(module).__name__}-{id(module):x}"

    def info(**kw: Any) -> ExtensionInfo:
        return ExtensionInfo(
            name=name,
            module=getattr(module, "__name__", type(module).__name__),
            distribution=distribution,
            version=version,
            builtin=builtin,
            **kw,
        )

    unknown = unknown_hooks(pm, module)
    if unknown:
        return info(error=f"implements unknown hook(s) {', '.join(unknown)}; 'weaver extensions --all' lists the hooks")
    holder = pm.get_plugin(name)
    if holder is not None:
        return info(error=f"an extension named {name!r} is already registered ({pm.get_name(holder) or name})")
    try:
        pm.register(module, name=name)
    except pluggy.PluginValidationError as exc:
        return info(error=str(exc))
    hooks = tuple(sorted(caller.name for caller in pm.get_hookcallers(module) or ()))
    return info(hooks=hooks)


def unknown_hooks(pm: pluggy.PluginManager, module: object) -> list[str]:
    """Hook implementations whose names no spec has (a misspelt hook), with the likely intended name."""
    names = []
    for attr in dir(module):
        if pm.parse_hookimpl_opts(module, attr) is not None and attr not in hookspecs.HOOK_NAMES:
            close = difflib.get_close_matches(attr, hookspecs.HOOK_NAMES, n=1)
            names.append(f"{attr} (did you mean {close[0]}?)" if close else attr)
    return names


def check(pm: pluggy.PluginManager) -> None:
    """Refuse a plugin manager holding an implementation of a hook that does not exist.

    For a plugin manager filled by ``pm.register`` directly (an embedder's, a test's): the
    same check :func:`register` makes, then ``pm.check_pending()``. Raises
    :class:`ExtensionLoadError` naming the extension and the hook.
    """
    for name, plugin in pm.list_name_plugin():
        unknown = unknown_hooks(pm, plugin) if plugin is not None else []
        if unknown:
            raise ExtensionLoadError(f"implements unknown hook(s) {', '.join(unknown)}", name=name)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        name = next((n for n, plugin in pm.list_name_plugin() if plugin is exc.plugin), repr(exc.plugin))
        raise ExtensionLoadError(str(exc), name=name) from None
