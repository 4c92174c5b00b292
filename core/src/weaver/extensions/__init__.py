"""Extensions: distributions that implement Weaver's hooks, found through the ``weaver`` entry points.

Modules, one job each: :mod:`~weaver.extensions.loading` (finding entry points and the one
registration path with its checks), :mod:`~weaver.extensions.registry` (what the
registration hooks declared, by name) and :mod:`~weaver.extensions.hooks` (the typed facade
every hook call goes through).
"""

from __future__ import annotations

from weaver.extensions.hooks import Hooks
from weaver.extensions.loading import (
    DEFAULTS_NAME,
    ENTRY_POINT_GROUP,
    LOAD_ENV,
    ExtensionInfo,
    LoadReport,
    check,
    load_extensions,
    make_plugin_manager,
    register,
    selected_from_env,
)
from weaver.extensions.registry import Registry, build_registry, collect, collect_plugin_sources, collect_plugins

__all__ = [
    "DEFAULTS_NAME",
    "ENTRY_POINT_GROUP",
    "LOAD_ENV",
    "ExtensionInfo",
    "Hooks",
    "LoadReport",
    "Registry",
    "build_registry",
    "check",
    "collect",
    "collect_plugin_sources",
    "collect_plugins",
    "load_extensions",
    "make_plugin_manager",
    "register",
    "selected_from_env",
]
