"""The core's own hook implementations, registered like any extension's.

They declare the core's config tables and give ``trylast`` fallbacks for the
"first result wins" hooks, so an installed extension always takes precedence.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from weaver.hookspecs import hookimpl
from weaver.memory import CompressedMemory, MemoryBudget
from weaver.model import Round
from weaver.specs import ConfigTable


@attrs.frozen
class SessionConfig:
    """``[session]``: which roles take part and how long a round may go on."""

    roles: tuple[str, ...] = ("planner", "code_interpreter")
    entry: str = ""
    """The role that receives the user's message; empty means the first of ``roles``."""
    max_hops: int = 30
    """Posts a round may route before it is stopped."""


@attrs.frozen
class WorkspaceConfig:
    """``[workspace]``: where sessions keep their logs, working directories and artifacts."""

    dir: str = ".weaver"


@attrs.frozen
class ExtensionsConfig:
    """``[extensions]``: ``strict = true`` makes a broken extension fatal."""

    strict: bool = False


@hookimpl
def weaver_config_tables() -> list[ConfigTable]:
    return [
        ConfigTable("session", SessionConfig, "Roles and round limits"),
        ConfigTable("workspace", WorkspaceConfig, "Where session state lives"),
        ConfigTable("extensions", ExtensionsConfig, "How extensions load"),
    ]


@hookimpl(trylast=True)
def weaver_compress_memory(rounds: Sequence[Round], budget: MemoryBudget, role: str) -> CompressedMemory:
    return CompressedMemory(rounds=tuple(rounds))
