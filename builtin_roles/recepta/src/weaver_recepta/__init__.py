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

RECEPTA_DESCRIPTION = (
    "Listens to the results you work out yourself and only acknowledges them, so you can go on "
    "to your next step. It does no work of its own."
)


def _make_recepta() -> Any:
    from weaver_recepta.role import Recepta

    return Recepta()


@hookimpl
def weaver_roles() -> list[RoleSpec]:
    return [RoleSpec(name="recepta", alias="Recepta", factory=_make_recepta, description=RECEPTA_DESCRIPTION)]
