"""The Planner role: plans the user's request, tracks the current step, routes work.

This module is the extension's entry point (``[project.entry-points.weaver] planner``) and
holds only hook implementations, so loading extensions stays cheap; the role itself
(:mod:`weaver_planner.role`) is imported when a session first needs it.
"""

from __future__ import annotations

from typing import Any

from weaver.hookspecs import hookimpl
from weaver.specs import ConfigTable, RoleSpec
from weaver_planner.config import PlannerConfig

PLANNER_DESCRIPTION = (
    "Plans the user's request step by step, sends each step to the worker that can do it, "
    "checks the results and reports to the user."
)


def _make_planner() -> Any:
    from weaver_planner.role import Planner

    return Planner()


@hookimpl
def weaver_roles() -> list[RoleSpec]:
    return [RoleSpec(name="planner", alias="Planner", factory=_make_planner, description=PLANNER_DESCRIPTION)]


@hookimpl
def weaver_config_tables() -> list[ConfigTable]:
    return [ConfigTable("planner", PlannerConfig, "The Planner's model, limits, examples and prompt additions")]
