"""Weaver's default code verifier, on the ``weaver_verify_code`` hook.

It is a linter for the model, not a sandbox: it turns the usual mistakes and the known
escape routes into precise errors (line, rule, what to write instead) that the model fixes
on its next try. The boundary is the process around the kernel (a scrubbed environment, the
session's own working directory, resource limits, timeouts and, where available, an OS
sandbox); every in-process Python sandbox has been escaped, so this one does not pretend.

It parses exactly the text the kernel will run, as IPython will run it. Text that does not
parse, and a crash of the verifier itself, block the code: nothing unjudged runs.
Configuration is the ``[code_verifier]`` table (:class:`CodeVerifierConfig`).
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from typing import TYPE_CHECKING

from weaver.hookspecs import hookimpl
from weaver.specs import ConfigTable, VerifyMode, Violation
from weaver_code_verifier.config import CodeVerifierConfig

if TYPE_CHECKING:
    from weaver.context import HookContext

__all__ = ["CodeVerifierConfig", "verify"]

TABLE = "code_verifier"


def parse(code: str) -> ast.Module | Violation:
    """The cell's syntax tree, or a ``syntax-error`` violation.

    Plain Python is parsed as is; text with IPython syntax (``!cmd``, ``%magic``) is parsed
    after IPython's own rewriting, which is what the kernel runs.
    """
    # The rule modules (regular expressions and tables: ~6 ms) load on first use, not on
    # every `weaver --help`, which imports this module to find the extension's hooks.
    from weaver_code_verifier import magics, normal

    try:
        return ast.parse(code)
    except (SyntaxError, ValueError) as plain:
        error: SyntaxError | ValueError = plain
    except (RecursionError, MemoryError):
        return too_deep()
    transformed = magics.transform(code)
    if transformed != code:
        try:
            return ast.parse(transformed)
        except (SyntaxError, ValueError) as rewritten:
            error = rewritten
        except (RecursionError, MemoryError):
            return too_deep()
    line = getattr(error, "lineno", None) or 1
    text = (getattr(error, "text", None) or "").strip()
    shown = f" in `{text}`" if text else ""
    message = getattr(error, "msg", None) or str(error)
    return Violation(
        line=line,
        rule="syntax-error",
        message=f"line {line}: the code does not parse ({message}){shown}; fix the syntax and send the whole cell again.",
        col=getattr(error, "offset", None) or 0,
        source=normal.SOURCE,
    )


def too_deep() -> Violation:
    """The ``too-deep`` violation: code nested beyond what Python's parser or the checker follows."""
    from weaver_code_verifier import normal

    return Violation(
        line=1,
        rule="too-deep",
        message="line 1: the code nests too deeply to be checked (hundreds of chained operators, brackets or "
        "calls in one expression); split it into several statements.",
        source=normal.SOURCE,
    )


def verify(
    code: str,
    mode: VerifyMode = VerifyMode.normal,
    plugins: Sequence[str] = (),
    config: CodeVerifierConfig | None = None,
) -> list[Violation]:
    """Every violation in ``code``, in line order; an empty list when it is clean."""
    from weaver_code_verifier import normal, plugin_only

    config = config or CodeVerifierConfig()
    tree = parse(code)
    if isinstance(tree, Violation):
        return [tree]
    try:
        if VerifyMode(mode) is VerifyMode.plugin_only:
            found = plugin_only.check(tree, plugins)
        else:
            found = normal.check(tree, config)
    except RecursionError:
        # The checks walk the tree recursively, as the ast module does; past Python's
        # recursion limit the code is refused with advice rather than judged halfway.
        return [too_deep()]
    return sorted(found, key=lambda v: (v.line, v.col))


@hookimpl
def weaver_config_tables() -> list[ConfigTable]:
    return [ConfigTable(TABLE, CodeVerifierConfig, "What generated code may import, call and reach")]


@hookimpl
def weaver_verify_code(code: str, mode: VerifyMode, plugins: Sequence[str], ctx: HookContext) -> list[Violation]:
    config = ctx.config.table(CodeVerifierConfig)
    if not config.enabled:
        return []
    try:
        return verify(code, mode, plugins, config)
    except Exception as exc:  # noqa: BLE001 - a verifier that cannot judge must block, not allow
        from weaver_code_verifier import normal

        return [
            Violation(
                line=1,
                rule="verifier-error",
                message=f"the code verifier failed ({type(exc).__name__}: {exc}), so the code is blocked; "
                "simplify the code and try again.",
                source=normal.SOURCE,
            )
        ]
