"""Sources of host plugins found at run time (an MCP server's tools), owned by one App.

An extension declares a source with the ``weaver_plugin_sources`` hook
(:class:`weaver.specs.PluginSourceSpec`); its factory returns a :class:`PluginSource`. The
App keeps one :class:`PluginSources`: each source is created when its tools are first
listed (when the App's plugins load), once, and closed with the App. Every tool becomes the
host plugin ``<source>.<tool>``, a typed stub in the kernel whose calls the host runs
(:mod:`weaver.plugins.host`).

Recording and replay follow ``[llm] mode``: in ``record`` (and ``replay_or_record``) a
source's tool listing is written to the cassette beside the LLM calls, and in ``replay`` it
is read from there, so a recorded session replays with its servers stopped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import attrs

from weaver.plugins.schema import PluginSchema
from weaver.specs import PluginSourceSpec

log = logging.getLogger("weaver.plugins")


@attrs.frozen
class SourceTool:
    """One tool of a source: ``schema.name`` is the Python name generated code calls
    (after the source's name and a dot); ``remote_name`` the source's own name for it, and
    ``arguments`` maps each Python parameter name to the source's name where they differ
    (an MCP tool's ``from`` parameter is ``from_`` in Python)."""

    schema: PluginSchema
    remote_name: str
    arguments: Mapping[str, str] = attrs.field(factory=dict)
    cost: float = 0.0


class PluginSource(Protocol):
    """What a :class:`~weaver.specs.PluginSourceSpec`'s factory returns."""

    def tools(self) -> Sequence[SourceTool]:
        """The source's tools; may block while the source starts (the first call starts it).
        Raises (any exception) when the source cannot be reached: the message says why."""
        ...

    async def call(self, tool: str, arguments: Mapping[str, Any]) -> Any:
        """Run tool ``tool`` (its remote name) with ``arguments`` (remote names) and return
        its result as JSON-safe data (DataFrames allowed); raise with the tool's message
        when it fails. Cancelling the awaiting task cancels the call."""
        ...

    def close(self) -> None:
        """Stop the source (its server process, its connection); it is not used again."""
        ...


class HostRecordings(Protocol):
    """Where host-plugin calls and source listings are recorded (:class:`weaver.llm.cassette.Cassette`)."""

    def recorded_tools(self, source: str) -> list[dict[str, Any]] | None: ...

    def record_tools(self, source: str, tools: list[dict[str, Any]]) -> None: ...

    def recorded_call(self, plugin: str, arguments: str) -> dict[str, Any] | None: ...

    def record_call(self, plugin: str, arguments: str, answer: dict[str, Any]) -> None: ...


@attrs.frozen
class HostReplay:
    """Whether recorded answers are served first (``serve``) and new ones recorded (``record``)."""

    recordings: HostRecordings | None = None
    serve: bool = False
    record: bool = False

    @classmethod
    def for_mode(cls, mode: str, recordings: Callable[[], HostRecordings]) -> HostReplay:
        """The replay of ``[llm] mode``: ``live`` neither serves nor records."""
        if mode == "live":
            return cls()
        return cls(recordings(), serve=mode in ("replay", "replay_or_record"), record=mode in ("record", "replay_or_record"))


class PluginSources:
    """One App's plugin sources, each created on first use and closed with the App."""

    def __init__(self, specs: Mapping[str, PluginSourceSpec], replay: Callable[[], HostReplay]) -> None:
        self.specs = dict(specs)
        self._replay = replay
        self._live: dict[str, PluginSource] = {}
        self._listed: dict[str, tuple[SourceTool, ...]] = {}
        self._closed = False

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self.specs))

    def tools(self, name: str) -> tuple[SourceTool, ...]:
        """The tools of source ``name``: recorded ones when replaying, else the live source's;
        listed (and recorded) once for the App."""
        if name not in self._listed:
            self._listed[name] = self._list(name)
        return self._listed[name]

    def _list(self, name: str) -> tuple[SourceTool, ...]:
        from weaver.serde import from_data, to_data

        replay = self._replay()
        if replay.serve and replay.recordings is not None:
            recorded = replay.recordings.recorded_tools(name)
            if recorded is not None:
                return tuple(from_data(item, SourceTool) for item in recorded)
        found = self.check(name)
        if replay.record and replay.recordings is not None:
            replay.recordings.record_tools(name, [to_data(tool) for tool in found])
        return found

    def check(self, name: str) -> tuple[SourceTool, ...]:
        """The live source's tools (``weaver doctor``): starts it if needed; raises why it cannot."""
        return tuple(self.source(name).tools())

    async def call(self, name: str, tool: SourceTool, arguments: Mapping[str, Any]) -> Any:
        """Run ``tool`` of source ``name`` with ``arguments`` by their Python names."""
        remote = {tool.arguments.get(key, key): value for key, value in arguments.items()}
        return await self.source(name).call(tool.remote_name, remote)

    def source(self, name: str) -> PluginSource:
        """The live source ``name``, created on first use."""
        if self._closed:
            raise RuntimeError("this App's plugin sources are closed")
        if name not in self._live:
            self._live[name] = self.specs[name].factory()
        return self._live[name]

    def close(self) -> None:
        """Close every source that was started."""
        self._closed = True
        for name, source in list(self._live.items()):
            try:
                source.close()
            except Exception:  # one source failing to stop must not keep the others running
                log.exception("plugin source %s did not close cleanly", name)
        self._live.clear()
