"""weaver-loop-detector: plugin calls repeated per item, flagged before they run and capped inside.

**Before execution**: the code's syntax tree is searched for plugin calls that run once per
item: in ``for``/``while`` loops, comprehensions, ``map``/``filter``, pandas
``.apply``/``.map``/``.transform``, ``sorted(key=...)``, or through a local function that
is called in a loop. By default each is reported as a warning (``weaver_before_execute``)
that travels with the execution result to the model and names the plugin's batch form when
its :class:`weaver.specs.PluginSpec` declares one. With ``block = true`` the code is refused
instead (``weaver_verify_code``), so the model rewrites it before anything runs.

**Inside the kernel** (``weaver_plugin_call_budget``): one execution may call plugins
``plugin_call_budget`` times (default 25). The kernel runtime warns at 60 % and raises
``PluginBudgetExceeded`` at the limit, keeping the results computed so far in
``_plugin_results`` and every variable assigned before.

.. code-block:: toml

    [loop_detector]
    block = false              # true: refuse code that calls a plugin per item
    plugin_call_budget = 25    # 0: count plugin calls but do not limit them
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import attrs

from weaver.errors import ConfigError
from weaver.hookspecs import hookimpl
from weaver.specs import ConfigTable, Verdict, VerifyMode, Violation

if TYPE_CHECKING:
    from weaver.config import Config
    from weaver.guards import GuardContext
    from weaver.specs import PluginSpec

NAME = "loop_detector"
RULE = "plugin-call-in-loop"


@attrs.frozen
class LoopDetectorConfig:
    """``[loop_detector]``: warn about or refuse per-item plugin calls; the per-execution budget."""

    block: bool = False
    """Refuse code that calls a plugin once per item, instead of warning about it."""
    plugin_call_budget: int = 25
    """Plugin calls one execution may make; 0 counts them without a limit."""


_settings = LoopDetectorConfig()
"""The configuration last seen: ``weaver_verify_code`` has no config argument."""


@hookimpl
def weaver_config_tables() -> list[ConfigTable]:
    return [ConfigTable(NAME, LoopDetectorConfig, "Plugin calls in loops, and the per-execution plugin call budget")]


@hookimpl
def weaver_configure(config: Config) -> None:
    global _settings
    if NAME not in config.tables:
        # The hook is historic: registered late, this extension also gets configurations
        # built before it was, which have no table of its own.
        return
    settings: LoopDetectorConfig = config.table(NAME)
    if settings.plugin_call_budget < 0:
        raise ConfigError(
            "must be 0 (no limit) or positive",
            source=config.sources.get(f"{NAME}.plugin_call_budget", ""),
            table=NAME,
            key="plugin_call_budget",
        )
    _settings = settings


@hookimpl
def weaver_plugin_call_budget(config: Config) -> int | None:
    return config.table(NAME).plugin_call_budget or None


def _findings(code: str, plugins: Mapping[str, PluginSpec | None]) -> list[tuple[int, int, str]]:
    from weaver_loop_detector.detect import describe, find_loop_calls

    return [
        (call.line, call.col, describe(call, getattr(plugins.get(call.plugin), "batch", None)))
        for call in find_loop_calls(code, tuple(plugins))
    ]


@hookimpl
def weaver_verify_code(code: str, mode: VerifyMode, plugins: Sequence[str]) -> list[Violation]:
    if not _settings.block:
        return []
    # The verifier hook names the plugins but carries no specs; batch forms are named by the
    # kernel's budget error and by the plugin descriptions in the prompt.
    return [
        Violation(line=line, col=col, rule=RULE, message=message, source=NAME)
        for line, col, message in _findings(code, dict.fromkeys(plugins))
    ]


@hookimpl
def weaver_before_execute(code: str, ctx: GuardContext) -> Verdict | None:
    if ctx.config.table(NAME).block:
        return None
    found = _findings(code, ctx.plugins)
    if not found:
        return None
    return Verdict.warn("Plugin calls repeated per item: " + " ".join(message for _, _, message in found), source=NAME)
