"""The CodeInterpreter role: turns a step into Python, verifies it, runs it, self-corrects.

This module is the extension's entry point and holds only hook implementations; the role
(:mod:`weaver_code_interpreter.role`) is imported when a session first needs it.
"""

from __future__ import annotations

from typing import Any

from weaver.hookspecs import hookimpl
from weaver.specs import ConfigTable, RoleSpec
from weaver_code_interpreter.config import CodeInterpreterConfig

DESCRIPTION = (
    "Writes and runs Python in a stateful Jupyter kernel to load, analyse and visualise data, "
    "and can call the enabled plugins; variables persist between its steps. Send it one concrete "
    "step at a time; it reports the code, the result and any files it made."
)


def _make_code_interpreter() -> Any:
    from weaver_code_interpreter.role import CodeInterpreter

    return CodeInterpreter()


@hookimpl
def weaver_roles() -> list[RoleSpec]:
    return [
        RoleSpec(
            name="code_interpreter",
            alias="CodeInterpreter",
            factory=_make_code_interpreter,
            description=DESCRIPTION,
            runs_code=True,
        )
    ]


@hookimpl
def weaver_config_tables() -> list[ConfigTable]:
    return [
        ConfigTable(
            "code_interpreter", CodeInterpreterConfig, "The CodeInterpreter's model, retries and plugin-only mode"
        )
    ]
