"""Finding plugin calls that run once per item: inside loops, comprehensions, ``map`` and recursion.

A plugin is often a billable call to something outside (an API, a database, a model). Code
that calls it per item makes N calls in one execution, which no per-step counter sees. This
module reads the code's syntax tree before it runs and reports each such call with the line
it is on, what repeats it and, when the code says, how many times.

Besides direct calls it follows what stands for a plugin: an alias (``gp = get_price``), a
``functools.partial`` of one, a lambda or a local function that calls one (to any depth), a
dict, list or tuple holding plugins (``fns["price"](t)``, ``for f in [a, b]: f(t)``), a
plugin handed by name to ``map``/``filter``, ``sorted(key=...)`` or a pandas
``.apply``/``.map``/``.transform``, and a local function that calls itself (recursion repeats
its plugin calls as a loop does).

The number of repetitions is known when every enclosing loop runs over something whose size
the code fixes: a literal, ``range`` of literal numbers, a comprehension over one, a name
bound once to one of those, or ``enumerate``/``zip``/``sorted``/``list`` of them.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Collection, Iterator

import attrs

_MAPPING_BUILTINS = frozenset({"map", "filter"})
"""Builtins that call their first argument once per item."""
_KEY_BUILTINS = frozenset({"sorted", "min", "max"})
"""Builtins that call their ``key=`` argument once per item."""
_ITERATING_METHODS = frozenset({"apply", "map", "applymap", "transform", "agg", "aggregate"})
"""pandas methods that call their first argument (or ``func=``) once per row, element or group."""
_SIZE_KEEPING = frozenset({"enumerate", "sorted", "list", "tuple", "set", "reversed", "iter"})
"""Builtins whose result has as many items as their first argument."""
_PARTIALS = frozenset({"partial", "functools.partial"})
_COMPREHENSIONS = {
    ast.ListComp: "list comprehension",
    ast.SetComp: "set comprehension",
    ast.DictComp: "dict comprehension",
    ast.GeneratorExp: "generator expression",
}


@attrs.frozen
class LoopCall:
    """A plugin reached once per item: ``plugin`` at ``line``, repeated by ``repeated_by``.

    ``via`` names the local function or alias the call goes through, when it is indirect;
    ``times`` is how many calls the code makes there, when the code fixes it.
    """

    plugin: str
    line: int
    col: int
    repeated_by: str
    via: str | None = None
    times: int | None = None


def find_loop_calls(code: str, plugins: Collection[str]) -> list[LoopCall]:
    """Plugin calls in ``code`` that repeat per item; empty for code that does not parse."""
    if not plugins:
        return []
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    names = _Names(tree, frozenset(plugins))
    finder = _Finder(names)
    finder.visit(tree)
    # A call inside nested loops is reported once, for its innermost loop (found first).
    unique: dict[tuple[int, int, str], LoopCall] = {}
    for call in finder.found:
        unique.setdefault((call.line, call.col, call.plugin), call)
    return sorted(unique.values(), key=lambda c: (c.line, c.col, c.plugin))


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


class _Names:
    """What the names of one piece of code stand for: plugins, sizes, local functions."""

    def __init__(self, tree: ast.Module, plugins: frozenset[str]) -> None:
        self.plugins = plugins
        self.aliases: dict[str, frozenset[str]] = {}
        """Names bound to a plugin, a partial of one, or a container of them."""
        self.bound: dict[str, ast.expr | None] = {}
        """Names assigned exactly once at the top level, with their value (``None``: more than once)."""
        self.functions = {
            node.name: node for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        }
        for statement in tree.body:
            if isinstance(statement, ast.Assign) and len(statement.targets) == 1 and isinstance(statement.targets[0], ast.Name):
                name = statement.targets[0].id
                self.bound[name] = None if name in self.bound else statement.value
        # Aliases may chain (a = get_price; b = a): resolve until nothing new is found.
        changed = True
        while changed:
            changed = False
            for node in ast.walk(tree):
                for name, value in _bindings(node):
                    found = self.resolve(value)
                    if found and self.aliases.get(name) != found | self.aliases.get(name, frozenset()):
                        self.aliases[name] = found | self.aliases.get(name, frozenset())
                        changed = True
        self.callers = self._callers()
        self.recursive = self._recursive()

    def resolve(self, node: ast.expr | None) -> frozenset[str]:
        """The plugins an expression may evaluate to (as a callable, or inside a container)."""
        if node is None:
            return frozenset()
        if isinstance(node, ast.Name):
            if node.id in self.plugins:
                return frozenset({node.id})
            return self.aliases.get(node.id, frozenset())
        if isinstance(node, ast.Call) and _dotted(node.func) in _PARTIALS and node.args:
            return self.resolve(node.args[0])
        if isinstance(node, ast.Lambda):
            return frozenset(name for call in ast.walk(node.body) if isinstance(call, ast.Call) for name in self.called(call))
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            return frozenset().union(*(self.resolve(e) for e in node.elts))
        if isinstance(node, ast.Dict):
            return frozenset().union(*(self.resolve(v) for v in node.values))
        if isinstance(node, ast.Subscript):
            return self.resolve(node.value)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("values", "items"):
            return self.resolve(node.func.value)
        return frozenset()

    def called(self, node: ast.Call) -> frozenset[str]:
        """The plugins a call may call directly: ``f(...)``, ``fns[k](...)``, ``plugin.method(...)``."""
        func = node.func
        if isinstance(func, ast.Attribute):
            root = (_dotted(func) or "").split(".")[0]
            return frozenset({root}) if root in self.plugins else frozenset()
        return self.resolve(func)

    def via(self, node: ast.Call) -> str | None:
        """The local function a call goes to, when that function calls a plugin."""
        func = node.func
        return func.id if isinstance(func, ast.Name) and func.id in self.callers else None

    def _calls_in(self, body: ast.AST) -> Iterator[ast.Call]:
        return (node for node in ast.walk(body) if isinstance(node, ast.Call))

    def _callers(self) -> dict[str, str]:
        """Local functions that call a plugin, directly or through each other: ``{function: plugin}``."""
        callers: dict[str, str] = {}
        for name, node in self.functions.items():
            found = next((p for call in self._calls_in(node) for p in sorted(self.called(call))), None)
            if found is not None:
                callers[name] = found
        changed = True
        while changed:
            changed = False
            for name, node in self.functions.items():
                if name in callers:
                    continue
                inner = (c.func.id for c in self._calls_in(node) if isinstance(c.func, ast.Name))
                called = next((n for n in inner if n in callers and n != name), None)
                if called is not None:
                    callers[name] = callers[called]
                    changed = True
        return callers

    def _recursive(self) -> frozenset[str]:
        """Local functions that call a plugin and can call themselves (directly or in a cycle)."""
        graph = {
            name: {c.func.id for c in self._calls_in(node) if isinstance(c.func, ast.Name) and c.func.id in self.functions}
            for name, node in self.functions.items()
        }
        found = set()
        for start in self.callers:
            seen, todo = set(), list(graph[start])
            while todo:
                current = todo.pop()
                if current == start:
                    found.add(start)
                    break
                if current not in seen:
                    seen.add(current)
                    todo.extend(graph.get(current, ()))
        return frozenset(found)

    def size(self, node: ast.expr | None, depth: int = 0) -> int | None:
        """How many items iterating ``node`` yields, when the code fixes it."""
        if node is None or depth > 20:
            return None
        if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
            return len(node.value)
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            return None if any(isinstance(e, ast.Starred) for e in node.elts) else len(node.elts)
        if isinstance(node, ast.Dict):
            return None if None in node.keys else len(node.keys)
        if isinstance(node, ast.Name):
            return self.size(self.bound.get(node.id), depth + 1)
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            if any(gen.ifs for gen in node.generators):
                return None  # filtered: at most, not exactly, so no bound to refuse on
            sizes = [self.size(gen.iter, depth + 1) for gen in node.generators]
            return None if None in sizes else math.prod(s for s in sizes if s is not None)
        if isinstance(node, ast.Call):
            func = _dotted(node.func)
            if func == "range":
                numbers = [self.integer(arg, depth + 1) for arg in node.args]
                if not numbers or None in numbers or len(numbers) > 3 or (len(numbers) == 3 and numbers[2] == 0):
                    return None
                return len(range(*numbers))  # type: ignore[arg-type]
            if func in _SIZE_KEEPING and node.args:
                return self.size(node.args[0], depth + 1)
            if func == "zip" and node.args:
                sizes = [self.size(arg, depth + 1) for arg in node.args]
                known = [s for s in sizes if s is not None]
                return min(known) if known else None
            if isinstance(node.func, ast.Attribute) and node.func.attr in ("items", "keys", "values"):
                return self.size(node.func.value, depth + 1)
        return None

    def integer(self, node: ast.expr, depth: int) -> int | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            inner = self.integer(node.operand, depth + 1)
            return -inner if inner is not None else None
        if isinstance(node, ast.Name) and depth <= 20:
            value = self.bound.get(node.id)
            return self.integer(value, depth + 1) if value is not None else None
        return None


def _bindings(node: ast.AST) -> Iterator[tuple[str, ast.expr]]:
    """``(name, value)`` for what ``node`` binds a name to: assignments and loop targets."""
    if isinstance(node, ast.Assign):
        for target in node.targets:
            if isinstance(target, ast.Name):
                yield target.id, node.value
    elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)) and isinstance(node.target, ast.Name) and node.value:
        yield node.target.id, node.value
    elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
        target = node.target
        if isinstance(target, ast.Name):
            yield target.id, node.iter
        elif isinstance(target, ast.Tuple) and target.elts and isinstance(target.elts[-1], ast.Name):
            yield target.elts[-1].id, node.iter  # for key, function in plugins.items()


@attrs.frozen
class _Loop:
    label: str
    size: int | None


class _Finder(ast.NodeVisitor):
    """Walks the tree knowing which loops (if any) enclose the current node."""

    def __init__(self, names: _Names) -> None:
        self.names = names
        self.loops: list[_Loop] = []
        self.found: list[LoopCall] = []
        self.function: str | None = None
        self._mapped_lambdas: set[int] = set()

    def _inside(self, loop: _Loop, nodes: list[ast.AST]) -> None:
        self.loops.append(loop)
        for node in nodes:
            self.visit(node)
        self.loops.pop()

    def _times(self, extra: int | None = 1) -> int | None:
        sizes = [loop.size for loop in self.loops] + [extra]
        return None if None in sizes else math.prod(s for s in sizes if s is not None)

    def _report(self, node: ast.expr, plugins: Collection[str], via: str | None, loop: _Loop | None = None) -> None:
        if loop is not None:
            self.loops.append(loop)
        try:
            times = self._times()
            for plugin in sorted(plugins):
                self.found.append(LoopCall(plugin, node.lineno, node.col_offset, self.loops[-1].label, via, times))
        finally:
            if loop is not None:
                self.loops.pop()

    def _callable(self, node: ast.expr) -> tuple[frozenset[str], str | None]:
        """What calling ``node`` reaches: plugins, or the plugin of a local function that calls one."""
        if isinstance(node, ast.Name) and node.id in self.names.callers:
            return frozenset({self.names.callers[node.id]}), node.id
        found = self.names.resolve(node)
        alias = node.id if isinstance(node, ast.Name) and node.id not in self.names.plugins else None
        return found, alias

    # A function body runs when called, not where it is defined; calls to it are judged instead,
    # except that a recursive function repeats its own plugin calls.
    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        saved, self.loops, self.function = (self.loops, self.function), [], node.name
        if node.name in self.names.recursive:
            self._inside(_Loop(f"the recursive function `{node.name}` (line {node.lineno})", None), [*node.body])
        else:
            self.generic_visit(node)
        self.loops, self.function = saved

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        # The iterable is evaluated once; the body and the else clause per item.
        self.visit(node.target)
        self.visit(node.iter)
        self._inside(_Loop(f"the for loop on line {node.lineno}", self.names.size(node.iter)), [*node.body])
        for child in node.orelse:
            self.visit(child)

    visit_AsyncFor = visit_For

    def visit_While(self, node: ast.While) -> None:
        self._inside(_Loop(f"the while loop on line {node.lineno}", None), [node.test, *node.body])
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
        self._inside(_Loop(label, self.names.size(node)), inner)

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension

    def visit_Call(self, node: ast.Call) -> None:
        # Inside a recursive function, its calls along the cycle are the recursion itself.
        recursing = self.function in self.names.recursive and self.names.via(node) in self.names.recursive
        if self.loops and not recursing:
            via = self.names.via(node)
            plugins, alias = (
                (frozenset({self.names.callers[via]}), via) if via else (self.names.called(node), self._alias(node))
            )
            if plugins:
                self._report(node, plugins, alias)
        self._function_arguments(node)
        self.generic_visit(node)

    def _alias(self, node: ast.Call) -> str | None:
        func = node.func
        while isinstance(func, (ast.Attribute, ast.Subscript)):
            func = func.value
        return func.id if isinstance(func, ast.Name) and func.id not in self.names.plugins else None

    def _function_arguments(self, node: ast.Call) -> None:
        """A plugin handed by name (or in a lambda) to ``map`` or ``.apply`` is called per item."""
        func = node.func
        keywords = {kw.arg: kw.value for kw in node.keywords if kw.arg}
        size = None
        if isinstance(func, ast.Name) and func.id in _MAPPING_BUILTINS:
            label, arg = f"{func.id}() on line {node.lineno}", node.args[0] if node.args else None
            size = self.names.size(node.args[1]) if len(node.args) == 2 else None
        elif isinstance(func, ast.Name) and func.id in _KEY_BUILTINS:
            label, arg = f"{func.id}() on line {node.lineno}", keywords.get("key")
            size = self.names.size(node.args[0]) if len(node.args) == 1 else None
        elif isinstance(func, ast.Attribute) and func.attr in _ITERATING_METHODS:
            label, arg = f".{func.attr}() on line {node.lineno}", node.args[0] if node.args else keywords.get("func")
        else:
            return
        loop = _Loop(label, size)
        if isinstance(arg, ast.Lambda):
            self._mapped_lambdas.add(id(arg))
            self._inside(loop, [arg.body])
        elif arg is not None:
            plugins, alias = self._callable(arg)
            if plugins:
                self._report(arg, plugins, alias, loop)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        # A lambda given to map/.apply was already walked as the per-item body it is.
        if id(node) not in self._mapped_lambdas:
            self.generic_visit(node)


def describe(call: LoopCall, batch: str | None, remaining: int | None = None) -> str:
    """One sentence about ``call`` for the model: where, what repeats it, how often, what to use instead."""
    via = f" (through `{call.via}`)" if call.via else ""
    times = f" {call.times} times" if call.times is not None else ""
    left = f" and {remaining} more calls to it are allowed now" if remaining is not None else ""
    instead = (
        f"call its batch form `{batch}` once with all the items instead"
        if batch
        else "call it once with all the items if it accepts them, or on fewer items"
    )
    return (
        f"line {call.line}: plugin `{call.plugin}` is called{via}{times} once per item by {call.repeated_by}; "
        f"each call may be a billable request{left}; {instead}."
    )


def exceeds(call: LoopCall, remaining: int | None) -> bool:
    """Whether the loop is known to make more calls than ``remaining`` allows (``None``: no limit)."""
    return remaining is not None and call.times is not None and call.times > remaining


def fits(call: LoopCall, remaining: int | None) -> bool:
    """Whether the loop is known to stay within ``remaining``."""
    return call.times is not None and (remaining is None or call.times <= remaining)

