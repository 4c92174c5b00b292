"""A :class:`weaver.context.HookContext` for unit tests of a hook, without an App or a session."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from weaver.config import Config, build_config, overrides_layer
from weaver.context import HookContext
from weaver.specs import ConfigTable


def hook_context(
    *, tables: Iterable[ConfigTable] = (), settings: Mapping[str, Any] | None = None, config: Config | None = None, **fields: Any
) -> HookContext:
    """A context whose configuration has ``tables``, validated with ``settings`` as overrides.

    ``hook_context(tables=[ConfigTable("my_guard", MyGuardConfig)], settings={"my_guard.limit": 2},
    role="CodeInterpreter", step="1. load")``; the other fields default as in
    :class:`HookContext` (``session_id`` is ``"test-session"``). Its ``emit`` discards events,
    and it has no ``spawn`` or ``llm``: a hook that needs those is tested in a session
    (the ``make_app`` fixture).
    """
    if config is None:
        layers = [overrides_layer(settings or {}, "test")]
        config = build_config(Path.cwd(), layers, {table.name: table for table in tables})
    fields.setdefault("session_id", "test-session")
    return HookContext(config=config, **fields)
