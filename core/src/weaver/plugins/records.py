"""What the plugin loader found: the plugins ready to bind, and the status of every plugin.

Every plugin the loader meets gets one :class:`PluginStatus`, whether it loaded or not, so
``weaver plugins`` and ``weaver doctor`` only render what the loader decided. A status's
:attr:`PluginStatus.severity` is that decision for a reader: ``fail`` is something to fix
(a broken plugin file, a plugin the project asked for by name that is not there), ``warn``
something to know (an extension's plugin the project's own plugin of that name shadows),
``info`` a choice (disabled, or an optional plugin nobody configured). A plugin named in
``[plugins] enabled`` that is disabled all the same (``enabled: false`` in its YAML, or also
in ``[plugins] disabled``) is a ``warn``: two settings disagree.
"""

from __future__ import annotations

import enum

import attrs

from weaver.errors import PluginLoadError
from weaver.plugins.schema import PluginSchema
from weaver.specs import PluginSpec


class PluginState(str, enum.Enum):
    """What became of a plugin."""

    loaded = "loaded"
    """Bound in every session's kernel and shown to the model."""
    disabled = "disabled"
    """Switched off (``enabled: false`` in its YAML, ``[plugins] disabled``, or left out of
    ``[plugins] enabled``); its code was not imported."""
    not_configured = "not_configured"
    """A config key it needs has no value."""
    failed = "failed"
    """It could not be loaded; :attr:`PluginStatus.detail` says why."""
    shadowed = "shadowed"
    """An extension's plugin with the name of one of the project's own: the project's wins,
    and this one is not imported."""

    @property
    def label(self) -> str:
        """The state as the listing words it (``not configured``)."""
        return self.value.replace("_", " ")


class PluginOrigin(str, enum.Enum):
    """Where a plugin comes from."""

    project = "project"
    """A ``@weaver.plugin`` function in a file of the project's plugins folder."""
    taskweaver = "taskweaver"
    """A TaskWeaver ``name.yaml`` + ``name.py`` pair in the project's plugins folder."""
    extension = "extension"
    """An installed extension's ``weaver_plugins`` hook."""
    config = "config"
    """Only a name in ``[plugins] enabled`` that no source provides."""
    source = "source"
    """A tool of a plugin source (an MCP server), run on the host."""

    @property
    def label(self) -> str:
        return {"project": "project file", "taskweaver": "TaskWeaver YAML", "source": "plugin source"}.get(
            self.value, self.value
        )


class Severity(str, enum.Enum):
    """How much a status matters to the user, in ``weaver doctor``'s words."""

    ok = "ok"
    info = "info"
    warn = "warn"
    fail = "fail"


@attrs.frozen
class LoadedPlugin:
    """A plugin ready to bind: its spec (config resolved), its schema and where it came from."""

    spec: PluginSpec
    schema: PluginSchema
    source: str
    test_file: str | None = None
    """``test_<name>.py`` beside a project plugin, run by ``weaver plugins test``."""
    origin: PluginOrigin = PluginOrigin.extension
    distribution: str = ""
    """The distribution and version of the extension that declared it, when known."""

    @property
    def name(self) -> str:
        return self.spec.name


@attrs.frozen
class PluginStatus:
    """One plugin as the listing shows it: its name, state, where it comes from and why.

    ``source`` is the file (project and TaskWeaver plugins) or ``extension <name>``;
    ``distribution`` the installed distribution and version of an extension's plugin, when
    known; ``detail`` why it is not loaded (the error, the missing config keys, what
    disabled it, the plugin that shadows it); ``requested`` whether ``[plugins] enabled``
    names it.
    """

    name: str
    state: PluginState
    origin: PluginOrigin
    source: str
    detail: str = ""
    description: str = ""
    distribution: str = ""
    requested: bool = False
    host: bool = False
    """It runs on the host (a loaded host plugin); the kernel has its stub."""

    @property
    def optional(self) -> bool:
        """An extension's plugin the project did not ask for: its absence is nobody's problem."""
        return self.origin is PluginOrigin.extension and not self.requested

    @property
    def severity(self) -> Severity:
        if self.state is PluginState.loaded:
            return Severity.ok
        if self.state is PluginState.shadowed:
            return Severity.warn
        if self.state is PluginState.disabled:
            # named in [plugins] enabled and switched off elsewhere: two settings disagree
            return Severity.warn if self.requested else Severity.info
        if self.state is PluginState.not_configured and self.optional:
            return Severity.info
        return Severity.fail

    def error(self) -> PluginLoadError:
        """Why this plugin cannot be used, as the error :meth:`PluginSet.get` raises."""
        return PluginLoadError(f"{self.state.label}: {self.detail}", name=self.name, source=self.source)

    def __str__(self) -> str:
        where = f" ({self.source})" if self.source else ""
        return f"plugin {self.name!r}{where}: {self.state.label}" + (f": {self.detail}" if self.detail else "")
