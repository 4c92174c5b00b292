"""Finding plugin calls that run once per item: inside loops, comprehensions and ``map``.

A plugin is often a billable call to something outside (an API, a database, a model). Code
that calls it per item makes N calls in one execution, which no per-step counter sees. This
module reads the code's syntax tree before it runs and reports each such call with the line
it is on and what repeats it.

Besides direct calls it follows two common indirections: a plugin passed by name to
``map``/``filter`` or to a pandas ``.apply``/``.map``/``.transform``, and a function defined
in the same code that calls a plugin (to any depth) and is itself called in a loop.
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterator

import attrs

_MAPPING_BUILTINS = frozenset({"map", "filter"})
"""Builtins that call their first argument once per item."""
_KEY_BUILTINS = frozenset({"sorted", "min", "max"})
"""Builtins that call their ``key=`` argument once per item."""
_ITERATING_METHODS = frozenset({"apply", "map", "applymap", "transform", "agg", "aggregate"})
"""pandas methods that call their first argument (or ``func=``) once per row, element or group."""
_COMPREHENSIONS = {
    ast.ListComp: "list comprehension",
    ast.SetComp: "set comprehension",
    ast.DictComp: "dict comprehension",
    ast.GeneratorExp: "generator expression",
}


@attrs.frozen
class LoopCall:
    """A plugin reached once per item: ``plugin`` at ``line``, repeated by ``repeated_by``.

    ``via`` names the local function the call goes through, when it is indirect.
    """

    plugin: str
    line: int
    col: int
    repeated_by: str
    via: str | None = None


def find_loop_calls(code: str, plugins: Collection[str]) -> list[LoopCall]:
    """Plugin calls in ``code`` that repeat per item; empty for code that does not parse."""
    if not plugins:
        return []
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    callers = _plugin_callers(tree, frozenset(plugins))
    finder = _Finder(frozenset(plugins), callers)
    finder.visit(tree)
    # A call inside nested loops is reported once, for its innermost loop (found first).
    unique: dict[tuple[int, int, str], LoopCall] = {}
    for call in finder.found:
        unique.setdefault((call.line, call.col, call.plugin), call)
    return sorted(unique.values(), key=lambda c: (c.line, c.col, c.plugin))


def _called_name(node: ast.Call) -> str | None:
    """``f`` for ``f(...)``, ``obj`` for ``obj.method(...)``: the name a plugin would have."""
    func = node.func
    while isinstance(func, ast.Attribute):
        func = func.value
    return func.id if isinstance(func, ast.Name) else None


def _direct_plugin_calls(body: ast.AST, plugins: frozenset[str]) -> Iterator[str]:
    for node in ast.walk(body):
        if isinstance(node, ast.Call):
            name = _called_name(node)
            if name in plugins:
                yield name


def _plugin_callers(tree: ast.Module, plugins: frozenset[str]) -> dict[str, str]:
    """Local functions that call a plugin, directly or through each other: ``{function: plugin}``."""
    functions = {
        node.name: node for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    }
    callers: dict[str, str] = {}
    for name, node in functions.items():
        found = next(_direct_plugin_calls(node, plugins), None)
        if found is not None:
            callers[name] = found
    changed = True
    while changed:
        changed = False
        for name, node in functions.items():
            if name in callers:
                continue
            called = next((n for n in _direct_plugin_calls(node, frozenset(callers)) if n != name), None)
            if called is not None:
                callers[name] = callers[called]
                changed = True
    return callers


class _Finder(ast.NodeVisitor):
    """Walks the tree knowing which loop (if any) encloses the current node."""

    def __init__(self, plugins: frozenset[str], callers: dict[str, str]) -> None:
        self.plugins = plugins
        self.callers = callers
        self.loops: list[str] = []
        self.found: list[LoopCall] = []
        self._mapped_lambdas: set[int] = set()

    def _inside(self, label: str, nodes: list[ast.AST]) -> None:
        self.loops.append(label)
        for node in nodes:
            self.visit(node)
        self.loops.pop()

    def _report(self, name: str | None, node: ast.expr, repeated_by: str) -> None:
        if name in self.plugins:
            self.found.append(LoopCall(name, node.lineno, node.col_offset, repeated_by))
        elif name in self.callers:
            self.found.append(LoopCall(self.callers[name], node.lineno, node.col_offset, repeated_by, via=name))

    # A function body runs when called, not where it is defined; calls to it are judged instead.
    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        saved, self.loops = self.loops, []
        self.generic_visit(node)
        self.loops = saved

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        # The iterable is evaluated once; the body and the else clause per item.
        self.visit(node.target)
        self.visit(node.iter)
        self._inside(f"the for loop on line {node.lineno}", [*node.body])
        for child in node.orelse:
            self.visit(child)

    visit_AsyncFor = visit_For

    def visit_While(self, node: ast.While) -> None:
        self._inside(f"the while loop on line {node.lineno}", [node.test, *node.body])
        for child in node.orelse:
            self.visit(child)

    def _comprehension(self, node: ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp) -> None:
        first, *rest = node.generators
        self.visit(first.iter)
        label = f"the {_COMPREHENSIONS[type(node)]} on line {node.lineno}"
        inner: list[ast.AST] = [first.target, *first.ifs]
        for gen in rest:
            inner += [gen.target, gen.iter, *gen.ifs]
        inner += [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        self._inside(label, inner)

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension

    def visit_Call(self, node: ast.Call) -> None:
        if self.loops:
            self._report(_called_name(node), node, self.loops[-1])
        self._function_arguments(node)
        self.generic_visit(node)

    def _function_arguments(self, node: ast.Call) -> None:
        """A plugin handed by name (or in a lambda) to ``map`` or ``.apply`` is called per item."""
        func = node.func
        keywords = {kw.arg: kw.value for kw in node.keywords if kw.arg}
        if isinstance(func, ast.Name) and func.id in _MAPPING_BUILTINS:
            label, arg = f"{func.id}() on line {node.lineno}", node.args[0] if node.args else None
        elif isinstance(func, ast.Name) and func.id in _KEY_BUILTINS:
            label, arg = f"{func.id}() on line {node.lineno}", keywords.get("key")
        elif isinstance(func, ast.Attribute) and func.attr in _ITERATING_METHODS:
            label, arg = f".{func.attr}() on line {node.lineno}", node.args[0] if node.args else keywords.get("func")
        else:
            return
        if isinstance(arg, ast.Name):
            self._report(arg.id, arg, label)
        elif isinstance(arg, ast.Lambda):
            self._mapped_lambdas.add(id(arg))
            self._inside(label, [arg.body])

    def visit_Lambda(self, node: ast.Lambda) -> None:
        # A lambda given to map/.apply was already walked as the per-item body it is.
        if id(node) not in self._mapped_lambdas:
            self.generic_visit(node)


def describe(call: LoopCall, batch: str | None) -> str:
    """One sentence about ``call`` for the model: where, what repeats it, what to use instead."""
    via = f" (through `{call.via}`)" if call.via else ""
    instead = (
        f"call its batch form `{batch}` once with all the items instead"
        if batch
        else "call it once with all the items if it accepts them, or on fewer items"
    )
    return (
        f"line {call.line}: plugin `{call.plugin}` is called{via} once per item by {call.repeated_by}; "
        f"each call may be a billable request and one execution may make only a limited number; {instead}."
    )
