"""Rules for plugin-only mode (``VerifyMode.plugin_only``).

Code may contain only these statements, top level, one after another:

* ``name(args)`` or ``result = name(args)`` or ``a, b = name(args)`` where ``name`` is an
  enabled plugin;
* a bare name on its own line, to show a value.

Arguments (positional or keyword) are Python literals (numbers, strings, ``True``,
``False``, ``None``, and lists, tuples, sets and dicts of them) or names. A name must be
bound by an earlier statement of the same code, or be a result kept in the kernel from an
earlier execution (a plain identifier that is neither a plugin nor a builtin). JSON's
``true``/``false``/``null`` are rejected with the Python spelling.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Sequence

from weaver.specs import Violation
from weaver_code_verifier.normal import JSON_LITERALS, violation_at

_BUILTIN_NAMES = frozenset(dir(builtins))


class PluginOnlyChecker:
    """Checks a parsed cell statement by statement, tracking the names bound so far."""

    def __init__(self, plugins: Sequence[str], tree: ast.Module) -> None:
        self.plugins = frozenset(plugins)
        self.violations: list[Violation] = []
        self.bound: set[str] = set()
        self.bound_later = {
            node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
        }

    @property
    def _plugin_list(self) -> str:
        return ", ".join(sorted(self.plugins)) or "none are enabled"

    def report(self, node: ast.AST, message: str, rule: str = "plugin-only") -> None:
        self.violations.append(violation_at(node, rule, message))

    def check(self, tree: ast.Module) -> list[Violation]:
        for stmt in tree.body:
            self._statement(stmt)
        return self.violations

    def _statement(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            self._call(stmt.value)
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Name):
            self._argument(stmt.value)
        elif isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call):
            self._call(stmt.value)
            for target in stmt.targets:
                self._bind(target)
        else:
            self.report(
                stmt,
                f"plugin-only mode allows only calls to the enabled plugins ({self._plugin_list}) and binding their "
                f"results to names, e.g. `result = {next(iter(sorted(self.plugins)), 'plugin')}(arg=1)`; "
                f"this {type(stmt).__name__} statement is not allowed.",
            )

    def _bind(self, target: ast.expr) -> None:
        if isinstance(target, ast.Name):
            self.bound.add(target.id)
        elif isinstance(target, ast.Tuple) and all(isinstance(t, ast.Name) for t in target.elts):
            self.bound.update(t.id for t in target.elts)  # type: ignore[attr-defined]
        else:
            self.report(target, "bind plugin results to plain names (`df = ...` or `df, text = ...`).")

    def _call(self, call: ast.Call) -> None:
        func = call.func
        if not (isinstance(func, ast.Name) and func.id in self.plugins):
            shown = ast.unparse(func)
            self.report(
                call, f"{shown}(...) is not an enabled plugin; plugin-only mode may call only: {self._plugin_list}."
            )
            return
        for arg in call.args:
            self._argument(arg)
        for keyword in call.keywords:
            if keyword.arg is None:
                self.report(keyword.value, "pass keyword arguments one by one (name=value), not **mapping.")
            else:
                self._argument(keyword.value)

    def _argument(self, node: ast.expr) -> None:
        if isinstance(node, ast.Constant):
            return
        if (
            isinstance(node, ast.UnaryOp)
            and isinstance(node.op, (ast.USub, ast.UAdd))
            and isinstance(node.operand, ast.Constant)
        ):
            return
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            for item in node.elts:
                self._argument(item)
            return
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if key is None:
                    self.report(value, "write dict arguments as literals, without ** unpacking.")
                else:
                    self._argument(key)
                self._argument(value)
            return
        if isinstance(node, ast.Name):
            self._name(node)
            return
        self.report(
            node,
            f"`{ast.unparse(node)}` is not allowed as an argument: pass Python literals "
            "(numbers, strings, True, False, None, lists, dicts) or names bound earlier.",
        )

    def _name(self, node: ast.Name) -> None:
        name = node.id
        if name in JSON_LITERALS:
            self.report(
                node,
                f"{name!r} is JSON, not Python: write {JSON_LITERALS[name]} (Python's True, False and None).",
                rule="json-literal",
            )
        elif name in self.bound:
            return
        elif name in self.bound_later:
            self.report(
                node, f"{name!r} is used before the statement that binds it; call the plugin that produces it first."
            )
        elif name in self.plugins or name in _BUILTIN_NAMES or name.startswith("_"):
            self.report(
                node, f"{name!r} cannot be passed as a value; pass a literal or a name bound to a plugin's result."
            )


def check(tree: ast.Module, plugins: Sequence[str]) -> list[Violation]:
    """Every violation of plugin-only mode in a parsed cell."""
    return PluginOnlyChecker(plugins, tree).check(tree)
