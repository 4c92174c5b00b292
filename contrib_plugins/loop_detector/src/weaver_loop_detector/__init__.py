"""weaver-loop-detector: plugin calls repeated per item, flagged before they run and capped inside.

**Before execution**: the code's syntax tree is searched for plugin calls that run once per
item: in ``for``/``while`` loops, comprehensions, ``map``/``filter``, pandas
``.apply``/``.map``/``.transform``, ``sorted(key=...)``, or through a local function that
is called in a loop. By default each is reported as a warning (``weaver_before_execute``)
that travels with the execution result to the model and names the plugin's batch form when
its :class:`weaver.specs.PluginSpec` declares one. With ``block = true`` the code is refused
instead (``weaver_verify_code``), so the model rewrites it before anything runs.

**Inside the kernel** the core counts plugin calls against ``[plugins] call_budget``
(default 25): the kernel runtime warns at 60 % and raises ``PluginBudgetExceeded`` at the
limit, keeping the results computed so far in ``_plugin_results`` and every variable
assigned before. (That budget was ``[loop_detector] plugin_call_budget`` before; a value set
there still works, with a deprecation warning.)

.. code-block:: toml

    [loop_detector]
    block = false              # true: refuse code that calls a plugin per item
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import attrs

from weaver.hookspecs import hookimpl
from weaver.specs import ConfigTable, Verdict, Violation

if TYPE_CHECKING:
    from weaver.context import HookContext
    from weaver.specs import PluginSpec

NAME = "loop_detector"
RULE = "plugin-call-in-loop"


@attrs.frozen
class LoopDetectorConfig:
    """``[loop_detector]``: warn about or refuse per-item plugin calls."""

    block: bool = False
    """Refuse code that calls a plugin once per item, instead of warning about it."""


@hookimpl
def weaver_config_tables() -> list[ConfigTable]:
    return [
        ConfigTable(
            NAME,
            LoopDetectorConfig,
            "Plugin calls in loops",
            moved={"plugin_call_budget": "plugins.call_budget"},
        )
    ]


def _findings(code: str, plugins: Mapping[str, PluginSpec | None]) -> list[tuple[int, int, str]]:
    from weaver_loop_detector.detect import describe, find_loop_calls

    return [
        (call.line, call.col, describe(call, getattr(plugins.get(call.plugin), "batch", None)))
        for call in find_loop_calls(code, tuple(plugins))
    ]


@hookimpl
def weaver_verify_code(code: str, ctx: HookContext) -> list[Violation]:
    if not ctx.config.table(LoopDetectorConfig).block:
        return []
    return [
        Violation(line=line, col=col, rule=RULE, message=message, source=NAME)
        for line, col, message in _findings(code, ctx.plugins)
    ]


@hookimpl
def weaver_before_execute(code: str, ctx: HookContext) -> Verdict | None:
    if ctx.config.table(LoopDetectorConfig).block:
        return None
    found = _findings(code, ctx.plugins)
    if not found:
        return None
    return Verdict.warn("Plugin calls repeated per item: " + " ".join(message for _, _, message in found), source=NAME)
