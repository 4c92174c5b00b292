"""Weaver: a code-first agent framework.

>>> import weaver
>>> app = weaver.App("my_project")                      # doctest: +SKIP
>>> round = app.session().send_message("mean of col x in data.csv")  # doctest: +SKIP

Names are imported on first use so that ``import weaver`` stays fast and loads no LLM
client, kernel or extension code.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from weaver.hookspecs import hookimpl

__version__ = "0.1.0"

_LAZY = {
    "App": "weaver.engine",
    "Session": "weaver.engine",
    "RoundStopped": "weaver.engine",
    "Round": "weaver.model",
    "RoundState": "weaver.model",
    "Post": "weaver.model",
    "Attachment": "weaver.model",
    "AttachmentType": "weaver.model",
    "Usage": "weaver.model",
    "USER": "weaver.model",
    "Event": "weaver.events",
    "EventType": "weaver.events",
    "RoleSpec": "weaver.specs",
    "PluginSpec": "weaver.specs",
    "ConfigTable": "weaver.specs",
    "LLMBackendSpec": "weaver.specs",
    "ExecutorSpec": "weaver.specs",
    "Verdict": "weaver.specs",
    "Violation": "weaver.specs",
    "VerifyMode": "weaver.specs",
    "RoleContext": "weaver.roles",
    "GuardContext": "weaver.guards",
    "WeaverError": "weaver.errors",
    "ConfigError": "weaver.errors",
    "plugin": "weaver.plugins.decorator",
}

__all__ = [
    "USER",
    "App",
    "Attachment",
    "AttachmentType",
    "ConfigError",
    "ConfigTable",
    "Event",
    "EventType",
    "ExecutorSpec",
    "GuardContext",
    "LLMBackendSpec",
    "PluginSpec",
    "Post",
    "RoleContext",
    "RoleSpec",
    "Round",
    "RoundState",
    "RoundStopped",
    "Session",
    "Usage",
    "Verdict",
    "VerifyMode",
    "Violation",
    "WeaverError",
    "__version__",
    "hookimpl",
    "plugin",
]

if TYPE_CHECKING:
    from weaver.engine import App, RoundStopped, Session
    from weaver.errors import ConfigError, WeaverError
    from weaver.events import Event, EventType
    from weaver.guards import GuardContext
    from weaver.model import USER, Attachment, AttachmentType, Post, Round, RoundState, Usage
    from weaver.plugins.decorator import plugin
    from weaver.roles import RoleContext
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


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'weaver' has no attribute {name!r}")
