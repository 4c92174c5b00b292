"""The core's own hook implementations, registered like any extension's.

They declare the core's config tables and give ``trylast`` fallbacks for the
"first result wins" hooks, so an installed extension always takes precedence.
The tables' schemas are imported when the hooks are called: every run of ``weaver``,
``--help`` included, imports this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from weaver.config import ApprovalConfig, ExtensionsConfig, SessionConfig, WorkspaceConfig
from weaver.hookspecs import hookimpl
from weaver.specs import ConfigTable, ExecutorSpec, LLMBackendSpec

if TYPE_CHECKING:
    from pathlib import Path

    from weaver.config import Config
    from weaver.context import HookContext
    from weaver.execution.executor import Executor, ExecutorSetup
    from weaver.execution.result import ExecutionResult, VariableInfo
    from weaver.llm.config import ModelConfig
    from weaver.memory import CompressedMemory, MemoryBudget
    from weaver.model import Round


@hookimpl
def weaver_config_tables() -> list[ConfigTable]:
    from weaver.execution.config import ExecutionConfig
    from weaver.llm.config import LLMConfig
    from weaver.plugins.loader import PluginsConfig

    return [
        ConfigTable("session", SessionConfig, "Roles and round limits"),
        ConfigTable("approval", ApprovalConfig, "When a person approves code or a plan before it is used"),
        ConfigTable("workspace", WorkspaceConfig, "Where session state lives"),
        ConfigTable("extensions", ExtensionsConfig, "How extensions load"),
        ConfigTable("llm", LLMConfig, "LLM models, prices, retries, recording and replay"),
        ConfigTable("execution", ExecutionConfig, "The executor, kernel limits, sandbox and warm pool"),
        ConfigTable("plugins", PluginsConfig, "The project's plugins folder, which plugins are enabled, their config"),
    ]


def _openai_backend(model: ModelConfig) -> object:
    from weaver.llm.client import OpenAIBackend

    return OpenAIBackend(model)


@hookimpl
def weaver_llm_backends() -> list[LLMBackendSpec]:
    return [LLMBackendSpec("openai", _openai_backend, "OpenAI, Azure OpenAI and any OpenAI-compatible endpoint")]


@hookimpl(trylast=True)
def weaver_compress_memory(rounds: Sequence[Round], budget: MemoryBudget) -> CompressedMemory:
    from weaver.memory import CompressedMemory

    return CompressedMemory(rounds=tuple(rounds))


@hookimpl
def weaver_approval_required(kind: str, content: str, ctx: HookContext) -> list[str]:
    """``[approval]``: ``code = "always"`` or ``"risky"``, ``plan = true``, ``plugin_calls``."""
    from weaver.approvals import risky_reasons

    settings = ctx.config.table(ApprovalConfig)
    if kind == "plan":
        return ["[approval] plan = true"] if settings.plan else []
    if kind == "plugin_call":
        if settings.plugin_calls == "always":
            return ['[approval] plugin_calls = "always"']
        name = content.partition("(")[0]
        spec = ctx.plugins.get(name)
        if settings.plugin_calls == "costly" and spec is not None and spec.cost > settings.plugin_cost_over:
            return [f"the plugin {name} costs {spec.cost:g} per call ([approval] plugin_calls = \"costly\")"]
        return []
    if kind != "code" or settings.code == "never":
        return []
    if settings.code == "always":
        return ['[approval] code = "always"']
    costly = frozenset(name for name, spec in ctx.plugins.items() if spec.cost > settings.plugin_cost_over)
    return risky_reasons(content, costly)


def _local_executor(session_dir: Path, config: Config, setup: ExecutorSetup) -> Executor:
    from weaver.execution.kernel import LocalExecutor

    return LocalExecutor.create(session_dir, config, setup)


@hookimpl
def weaver_executors() -> list[ExecutorSpec]:
    return [ExecutorSpec("local", _local_executor, "A local Jupyter kernel per session (ipykernel)")]


@hookimpl(trylast=True)
def weaver_format_feedback(result: ExecutionResult, variables_before: Sequence[VariableInfo]) -> str:
    from weaver.execution.feedback import format_result

    return format_result(result, variables_before)
