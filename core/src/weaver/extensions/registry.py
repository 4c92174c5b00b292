"""What extensions declared through the registration hooks, by name, each with its provider."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs
import pluggy

from weaver.errors import DuplicateProviderError, ExtensionLoadError, UnknownNameError
from weaver.specs import ConfigTable, ExecutorSpec, LLMBackendSpec, PluginSourceSpec, PluginSpec, RoleSpec

if TYPE_CHECKING:
    from weaver.config import Config

CORE = "weaver-core"
"""The provider of the core's own attachment types."""


@attrs.frozen
class Registry:
    """Roles, backends, executors, config tables and attachment types by name, each with its provider."""

    roles: Mapping[str, RoleSpec] = attrs.field(factory=dict)
    llm_backends: Mapping[str, LLMBackendSpec] = attrs.field(factory=dict)
    executors: Mapping[str, ExecutorSpec] = attrs.field(factory=dict)
    config_tables: Mapping[str, ConfigTable] = attrs.field(factory=dict)
    attachment_types: Mapping[str, str] = attrs.field(factory=dict)
    """Every attachment type a role may write, with the extension that declared it."""
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
    _refuse_duplicates(owners)
    return records, {k: v[0] for k, v in owners.items()}


def _refuse_duplicates(owners: Mapping[tuple[str, str], list[str]]) -> None:
    for (kind, claimed), names in owners.items():
        if len(names) > 1:
            raise DuplicateProviderError("", kind=kind, name=claimed, providers=tuple(names))


def _attachment_types(roles: Mapping[str, RoleSpec], providers: Mapping[tuple[str, str], str]) -> dict[str, str]:
    """The core's attachment types and those roles declare; a name declared twice is refused."""
    from weaver.model import AttachmentType, attachment_type  # not on `weaver --help`'s path

    owners: dict[tuple[str, str], list[str]] = defaultdict(list)
    for member in AttachmentType:
        owners[("attachment type", member.value)].append(CORE)
    for spec in roles.values():
        provider = providers.get(("role", spec.name), spec.name)
        for name in spec.attachment_types:
            try:
                attachment_type(name)
            except ValueError as exc:
                raise ExtensionLoadError(f"its role {spec.name!r} declares {exc}", name=provider) from None
            owners[("attachment type", name)].append(provider)
    _refuse_duplicates(owners)
    return {claimed: names[0] for (_, claimed), names in owners.items()}


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
        attachment_types=_attachment_types(roles, p1),
        providers={**p1, **p2, **p3, **p4},
    )


def collect_plugin_sources(pm: pluggy.PluginManager, config: Config) -> dict[str, PluginSourceSpec]:
    """The sources of host plugins (MCP servers, ...), by name; like plugins, they depend on configuration."""
    return collect(pm, "weaver_plugin_sources", "plugin source", lambda r: (r.name,), config=config)[0]


def collect_plugins(pm: pluggy.PluginManager, config: Config) -> tuple[dict[str, PluginSpec], dict[tuple[str, str], str]]:
    """Plugins depend on configuration, so they are gathered once it is known."""
    return collect(pm, "weaver_plugins", "plugin", lambda r: (r.name,), config=config)
