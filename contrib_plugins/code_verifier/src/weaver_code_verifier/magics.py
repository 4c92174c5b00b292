"""IPython syntax: shell escapes (``!cmd``) and magics (``%name args``).

The kernel runs code through IPython, which rewrites ``!ls`` to
``get_ipython().system('ls')`` and ``%pip install x`` to
``get_ipython().run_line_magic('pip', 'install x')`` before Python sees it. The verifier
parses that same rewritten text, so it judges these calls, whichever way they were written.
"""

from __future__ import annotations

import ast
import re

from weaver_code_verifier.config import CodeVerifierConfig

SHELL_METHODS = frozenset({"system", "getoutput"})
_REQUIREMENT = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9,._-]+\])?((==|>=|<=|~=|!=|<|>)[A-Za-z0-9.*+!_-]+)*(,(==|>=|<=|~=|!=|<|>)[A-Za-z0-9.*+!_-]+)*$"
)


def transform(code: str) -> str:
    """The Python text IPython runs for ``code`` (magics and shell escapes made into calls)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(code)


def ipython_method(node: ast.Call) -> tuple[str, ast.Name] | None:
    """``("system", <the get_ipython name>)`` for ``get_ipython().system(...)``; ``None`` for
    any other call."""
    func = node.func
    if (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Call)
        and isinstance(func.value.func, ast.Name)
        and func.value.func.id == "get_ipython"
        and not func.value.args
    ):
        return func.attr, func.value.func
    return None


def judge(node: ast.Call, method: str, config: CodeVerifierConfig) -> tuple[str, str] | None:
    """``(rule, message)`` when this ``get_ipython()`` call is not allowed, else ``None``."""
    if method in SHELL_METHODS:
        command = _literal(node, 0)
        return (
            "shell-command",
            (
                f"runs the shell command {command!r}: shell escapes (!cmd) are not allowed. "
                "Do it in Python instead (pandas and pathlib for files, the installed packages for the rest)."
            ),
        )
    if method == "run_cell_magic":
        return (
            "magic-not-allowed",
            f"uses the cell magic %%{_literal(node, 0)}: cell magics are not allowed; write plain Python.",
        )
    if method != "run_line_magic":
        return ("ipython-api", "uses get_ipython(), which controls the kernel itself; write plain Python instead.")
    name, args = _literal(node, 0), _literal(node, 1).strip()
    shown = f"%{name} {args}".rstrip()
    allowed = ", ".join(f"%{entry}" for entry in config.allowed_magics) or "none"
    for entry in config.allowed_magics:
        magic, _, prefix = entry.partition(" ")
        if name != magic or not (not prefix or args == prefix or args.startswith(prefix + " ")):
            continue
        if prefix == "install":
            bad = [req for req in args[len(prefix) :].split() if not _REQUIREMENT.match(req)]
            if bad:
                return (
                    "magic-not-allowed",
                    (
                        f"{shown}: only plain package names with optional versions may be installed "
                        f"(not {', '.join(repr(b) for b in bad)}); options, files and URLs are not allowed."
                    ),
                )
        return None
    if name in ("pip", "conda", "mamba"):
        return (
            "magic-not-allowed",
            (
                f"{shown}: installing packages is not allowed here (allowed magics: {allowed}). "
                "Use the packages already installed, or tell the Planner which package is missing."
            ),
        )
    return (
        "magic-not-allowed",
        f"{shown}: this IPython magic is not allowed (allowed: {allowed}); write plain Python.",
    )


def _literal(node: ast.Call, index: int) -> str:
    arg = node.args[index] if len(node.args) > index else None
    return str(arg.value) if isinstance(arg, ast.Constant) else "?"
