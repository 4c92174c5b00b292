"""The plugin call budget of a step or a round, kept by the host across executions.

``[plugins] call_budget`` is how many times each plugin may be called in one *scope*
(``[plugins] call_budget_scope``):

- ``step`` (the default): every attempt and re-plan of one piece of work, whatever the
  Planner calls it. A step's executions share the budget until one of them succeeds without
  running out of it; only then does the next execution start a fresh step. So a model that
  re-runs a loop after the budget stopped it, or a Planner that rewords the step, gets no
  new calls, while the batch form the stop message names still has its own.
- ``round``: every execution of the round (one user request) shares it.
- ``execution``: each execution afresh (what a kernel alone can count).

The pipeline asks :func:`allowance` before each execution and sends it with the code; the
kernel refuses a call past it (``PluginBudgetExceeded``). After the execution
:func:`charge` adds the calls the result reports. What is still trusted to the kernel, for
plugins that run in it: the count it reports and its enforcement inside one execution (code
that reached a plugin's unwrapped function would not be counted; the verifier refuses the
dunder access that needs). Host plugins (:mod:`weaver.plugins.host`) are counted and
refused on the host, call by call, so kernel code cannot reset or skip their count. An execution that lost the kernel reports nothing, so each plugin its code names
is charged the whole allowance it was given. The counts live in the round's scratch space.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from weaver.context import HookContext
    from weaver.execution.result import ExecutionResult

SCRATCH_KEY = "weaver.plugin_budget"
SCOPES = ("step", "round", "execution")
_NO_REPORT = ("kernel_died", "timeout_restarted")
"""Outcomes after which the kernel sent no report of its calls."""


@attrs.frozen
class Spent:
    """Calls made to each plugin in the current scope."""

    calls: Mapping[str, int] = attrs.field(factory=dict)


def _settings(ctx: HookContext) -> tuple[int, str]:
    table = ctx.config.table("plugins")
    return table.call_budget, table.call_budget_scope


def _spent(ctx: HookContext) -> Spent:
    found = ctx.scratch.get(SCRATCH_KEY)
    return found if isinstance(found, Spent) else Spent()


def remaining_calls(ctx: HookContext, plugin: str) -> int | None:
    """How many more times ``plugin`` may be called in the current scope; ``None``: no limit."""
    budget, scope = _settings(ctx)
    if not budget:
        return None
    used = 0 if scope == "execution" else _spent(ctx).calls.get(plugin, 0)
    return max(0, budget - used)


def allowance(ctx: HookContext) -> dict[str, Any] | None:
    """What the kernel is given for the next execution (``None``: no budget)."""
    budget, scope = _settings(ctx)
    if not budget:
        return None
    calls = {} if scope == "execution" else _spent(ctx).calls
    return {"budget": budget, "scope": scope, "left": {name: max(0, budget - n) for name, n in calls.items()}}


def charge(
    ctx: HookContext,
    code: str,
    given: Mapping[str, Any] | None,
    result: ExecutionResult,
    counted: Mapping[str, int] | None = None,
) -> None:
    """Count the calls ``result`` reports against the scope; a successful step starts the next afresh.

    ``counted`` are calls the host counted itself (host plugins): exact even when the kernel
    died and reported nothing.
    """
    if given is None or given["scope"] == "execution":
        return
    budget, left = given["budget"], given["left"]
    reported = dict(result.plugin_calls)
    if result.outcome in _NO_REPORT:
        # Each plugin the code names may have used all it had: charge that rather than nothing.
        named = (name for name in ctx.plugins if re.search(rf"\b{re.escape(name)}\b", code))
        reported = {name: left.get(name, budget) for name in named}
    reported.update({name: n for name, n in (counted or {}).items() if n})
    calls = dict(_spent(ctx).calls)
    for name, count in reported.items():
        calls[name] = calls.get(name, 0) + count
    exhausted = any(calls.get(name, 0) >= budget for name in reported)
    if given["scope"] == "step" and result.ok and not exhausted:
        calls = {}
    ctx.scratch[SCRATCH_KEY] = Spent(calls)
