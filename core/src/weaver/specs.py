"""The small typed records that hooks return.

Registration hooks yield these records and the core validates them in one place
(:mod:`weaver.extensions`); guard and verifier hooks return :class:`Verdict` and
:class:`Violation` values. All are frozen.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from weaver.model import as_tuple


@attrs.frozen
class RoleSpec:
    """A role an extension provides.

    ``name`` is the config name (``[session] roles = ["planner", ...]`` and the role's own
    config table); ``alias`` is the wire name used in ``send_to`` (``Planner``).
    ``factory()`` is called once per session and returns an object with
    ``async def reply(self, ctx: weaver.roles.RoleContext) -> weaver.model.Post``.
    ``description`` is how other roles (the Planner) introduce this one to the model, and
    ``planner_hint`` is further guidance a planning role shows about when and how to use it
    (Recepta's explains how the Planner solves a step by itself).
    ``attachment_types`` names the attachment types the role writes beyond the core's
    :class:`weaver.model.AttachmentType`; two extensions declaring one name is an error.
    ``calls_llm`` says the role calls a model, so a front end checks that its model is
    configured before a round starts (a role that never does, such as Recepta, sets it
    ``False``); ``runs_code`` that it runs code, so the session starts the kernel early.
    """

    name: str
    alias: str
    factory: Callable[[], Any]
    description: str = ""
    attachment_types: tuple[str, ...] = attrs.field(default=(), converter=as_tuple)
    planner_hint: str = ""
    calls_llm: bool = True
    runs_code: bool = False
    """The role runs code (through ``ctx.run_code``): a session with such a role starts its
    kernel when its first round starts, while the model is still thinking."""


@attrs.frozen
class PluginSpec:
    """A plugin: a Python function generated code calls inside the kernel.

    ``target`` is ``"module:function"``, imported inside the kernel, never in the host's
    hot path. ``config`` holds the plugin's settings and secrets; they reach the plugin's
    context in the kernel and never a prompt or a log (so it is left out of ``repr``).
    ``path`` is a directory the kernel puts on ``sys.path`` before importing ``target``
    (a project's plugins folder); ``None`` for installed modules.

    ``host`` makes it a *host plugin*: ``target`` runs on the host, with ``config``, and
    the kernel holds a typed stub whose calls the host answers (see
    :mod:`weaver.plugins.host`), so its secrets never enter the kernel and its calls pass
    the host's guards.
    """

    name: str
    target: str
    description: str = ""
    config: Mapping[str, Any] = attrs.field(factory=dict, repr=False)
    batch: str | None = None
    path: str | None = None
    cost: float = 0.0
    """What one call costs, in the currency of the ``[llm]`` prices, when the plugin knows
    (a paid API); ``[approval] code = "risky"`` asks before code calls a plugin over
    ``[approval] plugin_cost_over``."""
    host: bool = False
    kernel_view: Mapping[str, Any] = attrs.field(factory=dict, eq=False, repr=False)
    """What the kernel shows of the plugin, as JSON values: its signature, docstring and
    parameters (:meth:`weaver.plugins.schema.PluginSchema.kernel_payload`), which the loader
    fills; a host plugin's stub is made from it."""


@attrs.frozen
class LLMBackendSpec:
    """An LLM backend: ``factory(model_config)`` returns the client for one model alias."""

    name: str
    factory: Callable[..., Any]
    description: str = ""


@attrs.frozen
class ExecutorSpec:
    """A code executor: ``factory(session_dir, config, setup)`` returns one session's executor.

    ``setup`` is a :class:`weaver.execution.ExecutorSetup` (session id, plugins to bind,
    plugin call budget); the executor follows :class:`weaver.execution.Executor`.

    Two optional callables, used when this is the configured executor: ``warm_up(config,
    wait)``, a coroutine that starts kernels ahead of time (``App.warm_up()``), and
    ``check(config, plugins)``, a coroutine returning ``weaver doctor``'s rows for it as
    ``(name, status, detail)`` with status ``ok``, ``info``, ``warn`` or ``fail`` (the local
    executor's own check runs otherwise).
    """

    name: str
    factory: Callable[..., Any]
    description: str = ""
    warm_up: Callable[..., Any] | None = None
    check: Callable[..., Any] | None = None


@attrs.frozen
class PluginSourceSpec:
    """A source of host plugins found at run time, such as one MCP server's tools.

    ``factory()`` returns a :class:`weaver.plugins.sources.PluginSource`; an App calls it
    once, when its plugins are first needed, and closes the source when it closes. Each of
    the source's tools becomes the host plugin ``<name>.<tool>``.
    """

    name: str
    factory: Callable[[], Any]
    description: str = ""


@attrs.frozen
class ConfigTable:
    """A config table an extension owns: ``[name]`` validated against the attrs class ``schema``.

    ``schema`` is an attrs class whose fields all have defaults (range checks are attrs
    validators on its fields, see :mod:`weaver.config`); ``secret_keys`` names the keys
    ``weaver config show`` masks (keys ending in ``key``, ``secret``, ``token`` or
    ``password``, such as ``api_key``, are masked anyway). ``moved`` maps keys this table
    no longer has to where they went (``"table.key"``): a value set at the old place is
    used at the new one, with a deprecation warning.
    """

    name: str
    schema: type
    description: str = ""
    secret_keys: frozenset[str] = frozenset()
    moved: Mapping[str, str] = attrs.field(factory=dict)


class VerifyMode(str, enum.Enum):
    """How strictly code is checked: ordinary code, or plugin calls only."""

    normal = "normal"
    plugin_only = "plugin_only"


@attrs.frozen
class Violation:
    """A rule the code breaks, at a line, with what to do instead."""

    line: int
    rule: str
    message: str
    col: int = 0
    source: str = ""


class VerdictAction(str, enum.Enum):
    warn = "warn"
    stop = "stop"
    inject = "inject"


@attrs.frozen
class Verdict:
    """What a guard says about an LLM call or an execution (``None`` from a guard means allow).

    ``warn`` lets it proceed and records the message; ``inject`` lets it proceed and adds
    the message to what the model sees next; ``stop`` ends the work with the message.
    """

    action: VerdictAction = attrs.field(converter=VerdictAction)
    message: str
    source: str = ""

    @classmethod
    def warn(cls, message: str, source: str = "") -> Verdict:
        return cls(VerdictAction.warn, message, source)

    @classmethod
    def stop(cls, message: str, source: str = "") -> Verdict:
        return cls(VerdictAction.stop, message, source)

    @classmethod
    def inject(cls, message: str, source: str = "") -> Verdict:
        return cls(VerdictAction.inject, message, source)
