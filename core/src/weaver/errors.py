"""Weaver's exceptions: one base class, subclasses that carry the facts as fields.

The CLI prints any :class:`WeaverError` as one line (``str(error)``); ``-v`` adds the
traceback. Library code raises these and never prints.
"""

from __future__ import annotations

import attrs

from weaver.model import RoundState


@attrs.define(eq=False)
class WeaverError(Exception):
    """Base of every error Weaver raises on purpose."""

    message: str

    def __str__(self) -> str:
        return self.message


@attrs.define(eq=False)
class ConfigError(WeaverError):
    """A configuration value is missing, unknown or of the wrong type.

    ``source`` names where the offending value came from: a file path, an environment
    variable, ``--set`` or ``defaults``.
    """

    source: str = ""
    table: str = ""
    key: str = ""

    def __str__(self) -> str:
        where = ".".join(part for part in (self.table, self.key) if part)
        parts = [p for p in (self.source, f"[{where}]" if where else "") if p]
        return f"{': '.join(parts)}: {self.message}" if parts else self.message


@attrs.define(eq=False)
class ExtensionLoadError(WeaverError):
    """An extension (an entry point of the ``weaver`` group) failed to load."""

    name: str = ""
    distribution: str = ""
    version: str = ""

    def __str__(self) -> str:
        dist = f" from {self.distribution} {self.version}".rstrip() if self.distribution else ""
        return f"extension {self.name!r}{dist} failed to load: {self.message}"


@attrs.define(eq=False)
class DuplicateProviderError(WeaverError):
    """Two extensions register the same role, plugin, backend, executor or config table."""

    kind: str = ""
    name: str = ""
    providers: tuple[str, ...] = ()

    def __str__(self) -> str:
        return (
            f"{self.kind} {self.name!r} is provided by more than one extension: "
            f"{', '.join(self.providers)}; uninstall one or disable it with WEAVER_LOAD_EXTENSIONS"
        )


@attrs.define(eq=False)
class UnknownNameError(WeaverError):
    """A role, plugin, backend or executor was asked for by a name nobody provides."""

    kind: str = ""
    name: str = ""
    known: tuple[str, ...] = ()

    def __str__(self) -> str:
        import difflib  # only once an error is shown

        known = ", ".join(self.known) or "none"
        close = difflib.get_close_matches(self.name, list(self.known), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"unknown {self.kind} {self.name!r} ({self.message}){hint}; known: {known}"


@attrs.define(eq=False)
class SessionNotFoundError(WeaverError):
    """``App.resume`` was asked for a session that has no event log in the workspace."""

    session_id: str = ""


@attrs.define(eq=False)
class PluginLoadError(WeaverError):
    """A plugin (a function generated code calls) is malformed or failed to load.

    ``name`` is the plugin's name (or the file's stem when the name is not known yet);
    ``source`` is where it came from: a file path, or the extension that declared it.
    """

    name: str = ""
    source: str = ""

    def __str__(self) -> str:
        where = f" ({self.source})" if self.source else ""
        return f"plugin {self.name!r}{where}: {self.message}"


@attrs.define(eq=False)
class RoundStopped(WeaverError):
    """Raised inside a round (by a role, or by the LLM client on a guard's ``stop``) to end it.

    The round ends in ``state`` (``failed`` unless said otherwise) with the message as its
    reason; everything the round did so far is kept.
    """

    state: RoundState = RoundState.failed
