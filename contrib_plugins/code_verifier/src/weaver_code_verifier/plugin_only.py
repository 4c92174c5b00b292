"""Rules for plugin-only mode (``VerifyMode.plugin_only``): TaskWeaver's code shape, exactly.

Code is a sequence of top-level statements, each one of:

* ``name = value`` (or ``a, b = value``, ``a = b = value``), where a value is a literal
  (``n = 5``, ``q = "SELECT ..."``), a name bound earlier, or a plugin call;
* ``plugin(...)`` on its own;
* a result expression: a name or a tuple of names and literals (``r0, r1``), usually the
  last line, whose value Jupyter shows.

A plugin call is ``plugin(arg, ..., key=arg, ..., **{"key": arg})`` where ``plugin`` is an
enabled plugin and each argument is a value: so plugin calls nest
(``anomaly_detection(df=sql_pull_data(query="..."))``). Literals are numbers (also
negative), strings, ``True``/``False``/``None`` and lists, tuples, sets and dicts of values.

A name must be bound by an earlier statement of the cell, or be a result kept in the
kernel from an earlier execution (a plain identifier that is neither a plugin nor a
builtin); a name bound only later in the cell is refused. Everything else (imports,
attribute access, subscripts, operators, loops, comprehensions, calls of anything but a
plugin, ``*args``/``**name`` unpacking, f-strings, JSON's ``true``/``false``/``null``) is
refused with a message that says what to write instead.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Sequence

from weaver.specs import Violation
from weaver_code_verifier.normal import JSON_LITERALS, is_dunder, violation_at

_BUILTIN_NAMES = frozenset(dir(builtins)) | {"get_ipython"}
_LITERALS = "numbers, strings, True, False, None, and lists, tuples or dicts of them"


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

    @property
    def _example(self) -> str:
        return f"r0 = {next(iter(sorted(self.plugins)), 'plugin')}(arg=1)"

    def report(self, node: ast.AST, message: str, rule: str = "plugin-only") -> None:
        self.violations.append(violation_at(node, rule, message))

    def check(self, tree: ast.Module) -> list[Violation]:
        for stmt in tree.body:
            self._statement(stmt)
        return self.violations

    def _statement(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.Expr):
            value = stmt.value
            if isinstance(value, ast.Call):
                self._call(value)
            elif isinstance(value, (ast.Name, ast.Tuple)):
                self._value(value)
            else:
                self.report(
                    stmt,
                    f"`{_shown(value)}` is not a plugin call or a result; end the code with the names of the "
                    "results to show (`r0` or `r0, r1`).",
                )
        elif isinstance(stmt, ast.Assign):
            self._value(stmt.value)
            for target in stmt.targets:
                self._bind(target)
        else:
            self.report(
                stmt,
                f"plugin-only mode allows only calls to the enabled plugins ({self._plugin_list}), assignments of "
                f"their results or of literals to names, and a last line naming the results, e.g. "
                f"`{self._example}`; this {type(stmt).__name__} statement is not allowed.",
            )

    def _bind(self, target: ast.expr) -> None:
        names = target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]
        if not all(isinstance(name, ast.Name) for name in names):
            self.report(target, "bind values to plain names (`r0 = ...` or `df, text = ...`), not to "
                        f"`{_shown(target)}`.")
            return
        for name in names:
            assert isinstance(name, ast.Name)
            if name.id in self.plugins or name.id in JSON_LITERALS or is_dunder(name.id):
                self.report(name, f"{name.id!r} cannot be rebound here; choose another name, such as r0.")
            else:
                self.bound.add(name.id)

    def _call(self, call: ast.Call) -> None:
        func = call.func
        # A plugin source's tool is called by its dotted name (``github.search_issues``).
        dotted = f"{func.value.id}.{func.attr}" if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) else None
        if not (isinstance(func, ast.Name) and func.id in self.plugins) and dotted not in self.plugins:
            self.report(
                call,
                f"{_shown(func)}(...) is not an enabled plugin; plugin-only mode may call only: {self._plugin_list}.",
            )
            return
        given: set[str] = set()
        for arg in call.args:
            if isinstance(arg, ast.Starred):
                self.report(arg, "pass arguments one by one, not unpacked with *.")
            else:
                self._value(arg)
        for keyword in call.keywords:
            if keyword.arg is not None:
                self._keyword(keyword.arg, keyword.value, given)
            elif isinstance(keyword.value, ast.Dict) and all(
                isinstance(k, ast.Constant) and isinstance(k.value, str) for k in keyword.value.keys
            ):
                for key, value in zip(keyword.value.keys, keyword.value.values):
                    assert isinstance(key, ast.Constant)
                    self._keyword(str(key.value), value, given)
            else:
                self.report(
                    keyword.value,
                    "unpack only a literal dict with string keys (`**{\"query\": \"...\"}`), or pass keyword "
                    "arguments one by one (name=value).",
                )

    def _keyword(self, name: str, value: ast.expr, given: set[str]) -> None:
        if name in given:
            self.report(value, f"the argument {name!r} is given twice; pass each argument once.")
        given.add(name)
        self._value(value)

    def _value(self, node: ast.expr) -> None:
        """A literal, a name bound earlier, a plugin call, or a container of those."""
        if isinstance(node, ast.Constant):
            return
        if (
            isinstance(node, ast.UnaryOp)
            and isinstance(node.op, (ast.USub, ast.UAdd))
            and isinstance(node.operand, ast.Constant)
            and isinstance(node.operand.value, (int, float, complex))
            and not isinstance(node.operand.value, bool)
        ):
            return
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            for item in node.elts:
                if isinstance(item, ast.Starred):
                    self.report(item, "write the items out; * unpacking is not allowed here.")
                else:
                    self._value(item)
            return
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if key is None:
                    self.report(value, "write dict values as literals, without ** unpacking.")
                else:
                    self._value(key)
                self._value(value)
            return
        if isinstance(node, ast.Name):
            self._name(node)
            return
        if isinstance(node, ast.Call):
            self._call(node)
            return
        self.report(
            node,
            f"`{_shown(node)}` is not allowed as a value: use Python literals ({_LITERALS}), names bound "
            "earlier, or plugin calls; compute anything else inside a plugin.",
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
                node, f"{name!r} is used before the statement that binds it; bind it (or call the plugin) first."
            )
        elif name in self.plugins:
            self.report(node, f"{name!r} is a plugin: call it (`{name}(...)`) rather than passing it as a value.")
        elif name in _BUILTIN_NAMES or name.startswith("_"):
            self.report(
                node, f"{name!r} cannot be used here; pass a literal or a name bound to a plugin's result."
            )


def _shown(node: ast.AST) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 60 else text[:57] + "..."


def check(tree: ast.Module, plugins: Sequence[str]) -> list[Violation]:
    """Every violation of plugin-only mode in a parsed cell."""
    return PluginOnlyChecker(plugins, tree).check(tree)
