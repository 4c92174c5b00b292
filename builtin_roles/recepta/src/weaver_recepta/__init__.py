"""Recepta: a listener that lets the Planner reason through simple steps itself.

The Planner must address every post to some role. When it solves a step by its own
reasoning (extracting values from text, checking a value against a list, filling a
template), it sends the result to Recepta, which only acknowledges, and the Planner moves
on to its next step without a CodeInterpreter round trip. Enable it with
``[session] roles = ["planner", "code_interpreter", "recepta"]``.

This module is the extension's entry point and holds only the hook implementation.
"""

from __future__ import annotations

from typing import Any

from weaver.hookspecs import hookimpl
from weaver.specs import RoleSpec

ALIAS = "Recepta"
RECEPTA_DESCRIPTION = (
    "Listens to the results you work out yourself and only acknowledges them, so you can go on "
    "to your next step. It does no work of its own."
)
PLANNER_HINT = f"""\
# Steps you solve yourself, with {ALIAS}
Not every step needs a worker. When a step is simple reading and reasoning you can do
reliably in your head (extracting values from text you were given, comparing a value with
a short list, checking a condition, putting results into a format or a template), do it
yourself: work it out in the message as "Thought: …" lines followed by "Result: …" with
the actual result, send that message to {ALIAS} with stop InProcess, and move
current_plan_step to the step you solved. {ALIAS} only acknowledges; then go on with the
next step. Use a worker that runs code for anything that needs files, data, computation
beyond a few numbers, or exact processing of long text."""
"""How the Planner is told to use Recepta (the Planner does not know Recepta by name)."""


def _make_recepta() -> Any:
    from weaver_recepta.role import Recepta

    return Recepta()


@hookimpl
def weaver_roles() -> list[RoleSpec]:
    return [
        RoleSpec(
            name="recepta",
            alias=ALIAS,
            factory=_make_recepta,
            description=RECEPTA_DESCRIPTION,
            planner_hint=PLANNER_HINT,
            calls_llm=False,
        )
    ]
