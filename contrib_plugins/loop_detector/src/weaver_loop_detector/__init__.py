"""weaver-loop-detector: plugin calls repeated per item, reported before they run.

**Before execution** the code's syntax tree is searched for plugin calls that run once per
item: in ``for``/``while`` loops, comprehensions, ``map``/``filter``, pandas
``.apply``/``.map``/``.transform``, ``sorted(key=...)``, recursion, or through an alias, a
``functools.partial``, a container of plugins or a local function called in a loop
(:mod:`weaver_loop_detector.detect`). What happens to each depends on ``mode``:

- ``refuse`` (the default): the code is refused before it runs (``weaver_verify_code``),
  naming the plugin's batch form, when the loop is known to make more calls than the
  plugin's budget has left (``[plugins] call_budget`` and its scope), or when the code does
  not say how many items there are and the plugin has a batch form. A loop known to fit the
  budget, or one over a plugin with no batch form, runs with a warning;
- ``warn``: every such loop runs with a warning, published as an event before it runs and
  sent to the model with the result;
- ``block``: every such loop is refused (what ``block = true`` did).

**Inside the kernel** the core counts each plugin's calls against ``[plugins] call_budget``
over a step or a round (``call_budget_scope``), so a loop run again after a budget stop gets
no new calls. (That budget was ``[loop_detector] plugin_call_budget`` before; a value set
there still works, with a deprecation warning.)

.. code-block:: toml

    [loop_detector]
    mode = "refuse"            # or "warn", or "block"
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from weaver.config import one_of
from weaver.hookspecs import hookimpl
from weaver.specs import ConfigTable, Verdict, Violation

if TYPE_CHECKING:
    from weaver.context import HookContext

NAME = "loop_detector"
RULE = "plugin-call-in-loop"


@attrs.frozen
class LoopDetectorConfig:
    """``[loop_detector]``: refuse or warn about per-item plugin calls, before they run."""

    mode: str = attrs.field(default="refuse", validator=one_of("refuse", "warn", "block"))
    """``refuse`` a loop that would exceed the budget or has a batch form, else warn; ``warn``
    every loop; ``block`` (refuse) every loop."""
    block: bool = False
    """Deprecated: ``block = true`` is ``mode = "block"``."""

    @property
    def effective_mode(self) -> str:
        return "block" if self.block else self.mode


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


def _findings(code: str, ctx: HookContext) -> list[tuple[int, int, str, bool]]:
    """``(line, col, message, refuse)`` for every per-item plugin call in ``code``."""
    from weaver.plugins.budget import remaining_calls
    from weaver_loop_detector.detect import describe, exceeds, find_loop_calls

    mode = ctx.config.table(LoopDetectorConfig).effective_mode
    found = []
    for call in find_loop_calls(code, tuple(ctx.plugins)):
        spec = ctx.plugins.get(call.plugin)
        batch = getattr(spec, "batch", None)
        remaining = remaining_calls(ctx, call.plugin) if ctx.plugins else None
        refuse = mode == "block" or (
            mode == "refuse" and (exceeds(call, remaining) or (call.times is None and batch is not None))
        )
        found.append((call.line, call.col, describe(call, batch, remaining), refuse))
    return found


@hookimpl
def weaver_verify_code(code: str, ctx: HookContext) -> list[Violation]:
    return [
        Violation(line=line, col=col, rule=RULE, message=message, source=NAME)
        for line, col, message, refuse in _findings(code, ctx)
        if refuse
    ]


@hookimpl
def weaver_before_execute(code: str, ctx: HookContext) -> Verdict | None:
    # Refused loops never get here; what is left runs, with the warning shown before it does.
    found = [message for _, _, message, refuse in _findings(code, ctx) if not refuse]
    if not found:
        return None
    return Verdict.warn("Plugin calls repeated per item: " + " ".join(found), source=NAME)
