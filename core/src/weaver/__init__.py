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
    "RoundStopped": "weaver.errors",
    "Round": "weaver.model",
    "RoundState": "weaver.model",
    "Post": "weaver.model",
    "Attachment": "weaver.model",
    "AttachmentType": "weaver.model",
    "Usage": "weaver.model",
    "CompressedMemory": "weaver.memory",
    "MemoryBudget": "weaver.memory",
    "USER": "weaver.model",
    "Event": "weaver.events",
    "EventType": "weaver.events",
    "RoleSpec": "weaver.specs",
    "PluginSpec": "weaver.specs",
    "PluginSourceSpec": "weaver.specs",
    "ConfigTable": "weaver.specs",
    "LLMBackendSpec": "weaver.specs",
    "ExecutorSpec": "weaver.specs",
    "Verdict": "weaver.specs",
    "Violation": "weaver.specs",
    "VerifyMode": "weaver.specs",
    "RoleContext": "weaver.roles",
    "HookContext": "weaver.context",
    "GuardContext": "weaver.context",
    "CodeRun": "weaver.execution.pipeline",
    "structured_reply": "weaver.replies",
    "InvalidReply": "weaver.replies",
    "WeaverError": "weaver.errors",
    "ConfigError": "weaver.errors",
    "plugin": "weaver.plugins.decorator",
}

__all__ = [
    "USER",
    "App",
    "Attachment",
    "AttachmentType",
    "CodeRun",
    "CompressedMemory",
    "ConfigError",
    "ConfigTable",
    "Event",
    "EventType",
    "ExecutorSpec",
    "GuardContext",
    "HookContext",
    "InvalidReply",
    "LLMBackendSpec",
    "MemoryBudget",
    "PluginSourceSpec",
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
    "structured_reply",
]

if TYPE_CHECKING:
    from weaver.context import GuardContext, HookContext
    from weaver.engine import App, Session
    from weaver.errors import ConfigError, RoundStopped, WeaverError
    from weaver.events import Event, EventType
    from weaver.execution.pipeline import CodeRun
    from weaver.memory import CompressedMemory, MemoryBudget
    from weaver.model import USER, Attachment, AttachmentType, Post, Round, RoundState, Usage
    from weaver.plugins.decorator import plugin
    from weaver.replies import InvalidReply, structured_reply
    from weaver.roles import RoleContext
    from weaver.specs import (
        ConfigTable,
        ExecutorSpec,
        LLMBackendSpec,
        PluginSourceSpec,
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
