"""Where a name is evaluated, and whether the cell's own binding is certain to be there.

A rule about a builtin (``eval``, ``open``, ``getattr``, ``get_ipython``, ...) must judge
each *use* of the name in the scope that evaluates it. ``eval = eval`` evaluates its right
side before the binding exists, so that ``eval`` is the builtin; ``def f(open=open)``
evaluates the default in the enclosing scope; ``class A: vars = vars`` reads the builtin in
the class body. :class:`ScopedVisitor` walks a cell in evaluation order, with Python's
scoping rules, and answers :meth:`ScopedVisitor.bound_by_cell` for the current point:

* in a function, lambda or comprehension, a name the scope binds anywhere is local to it
  (Python decides that at compile time: using it before the binding raises, it never falls
  through to the builtin); free names are looked up in the enclosing functions, skipping
  class bodies, and then in the module;
* at module level and in class bodies, which run top to bottom, a name counts as the
  cell's own only where a binding has certainly run: an earlier statement of the same
  block, or of enclosing blocks, or both branches of an ``if``. A binding inside a loop,
  a ``try`` body that a handler may cut short, a ``with`` body an exit may suppress, or a
  ``match`` case does not count after that statement;
* a function reads module names when it is called, always after its ``def`` ran, so it
  sees the module bindings that were certain where it was defined. That holds because no
  binding of a watched name can be undone: the rules refuse ``del`` of such a name and
  ``except ... as`` such a name (which deletes it when the handler ends).

It judges names, not values: which object a name holds is beyond a static check.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator
from typing import cast

FUNCTION, CLASS, MODULE = "function", "class", "module"

_NESTED_SCOPES = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.Lambda,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


class Scope:
    """One scope of the walk: what it binds, what it declares, and what is certain so far."""

    def __init__(
        self,
        kind: str,
        node: ast.AST,
        parent: Scope | None,
        local: frozenset[str] = frozenset(),
        declared_global: frozenset[str] = frozenset(),
        declared_nonlocal: frozenset[str] = frozenset(),
        module_certain: frozenset[str] = frozenset(),
    ) -> None:
        self.kind = kind
        self.node = node
        self.parent = parent
        self.local = local
        """Every name the scope binds anywhere (for a class body: its static set)."""
        self.declared_global = declared_global
        self.declared_nonlocal = declared_nonlocal
        self.module_certain = module_certain
        """For a function: the module names certainly bound where it was defined."""
        self.certain: set[str] = set()
        """For the module and class bodies: names certainly bound at the current point."""


def target_names(target: ast.AST) -> Iterator[str]:
    """The plain names an assignment target binds (``a``, ``a, *b``); none for ``x.y`` or ``x[0]``."""
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            yield from target_names(element)
    elif isinstance(target, ast.Starred):
        yield from target_names(target.value)


def statement_bindings(stmt: ast.stmt) -> Iterator[str]:
    """Names a simple statement certainly binds once it has run."""
    if isinstance(stmt, ast.Assign):
        for target in stmt.targets:
            yield from target_names(target)
    elif isinstance(stmt, (ast.AugAssign, ast.AnnAssign)):
        if not (isinstance(stmt, ast.AnnAssign) and stmt.value is None):
            yield from target_names(stmt.target)
    elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
        for alias in stmt.names:
            if alias.name != "*":
                yield alias.asname or alias.name.split(".")[0]
    elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        yield stmt.name


def _own_nodes(roots: Iterable[ast.AST]) -> Iterator[ast.AST]:
    """Every node under ``roots`` that belongs to their scope (not to a nested function or class).

    A nested scope's own node is yielded (its name is bound here) but not its inside, except
    what the enclosing scope evaluates: defaults, decorators, annotations, bases, and a
    comprehension's first iterable.
    """
    stack = list(roots)
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            stack.extend(node.decorator_list)
            stack.extend(_argument_extras(node.args))
            if node.returns is not None:
                stack.append(node.returns)
        elif isinstance(node, ast.Lambda):
            stack.extend(_argument_extras(node.args, annotations=False))
        elif isinstance(node, ast.ClassDef):
            stack.extend([*node.decorator_list, *node.bases, *node.keywords])
        elif isinstance(node, _COMPREHENSIONS):
            stack.append(node.generators[0].iter)
            # A walrus inside a comprehension binds in the enclosing scope.
            stack.extend(n for n in ast.walk(node) if isinstance(n, ast.NamedExpr))
        else:
            stack.extend(ast.iter_child_nodes(node))


def _argument_extras(args: ast.arguments, annotations: bool = True) -> list[ast.AST]:
    """What a function's enclosing scope evaluates of its arguments: defaults and annotations."""
    extras: list[ast.AST] = [*args.defaults, *(d for d in args.kw_defaults if d is not None)]
    if annotations:
        every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
        extras += [a.annotation for a in every if a is not None and a.annotation is not None]
    return extras


def _parameters(args: ast.arguments) -> Iterator[str]:
    for arg in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg):
        if arg is not None:
            yield arg.arg


def bindings(roots: Iterable[ast.AST]) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """``(bound, declared global, declared nonlocal)`` for the scope whose body is ``roots``."""
    bound: set[str] = set()
    declared_global: set[str] = set()
    declared_nonlocal: set[str] = set()
    for node in _own_nodes(roots):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.alias):
            bound.add(node.asname or node.name.split(".")[0])
        elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and node.name:
            bound.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            bound.add(node.rest)
        elif isinstance(node, ast.Global):
            declared_global.update(node.names)
        elif isinstance(node, ast.Nonlocal):
            declared_nonlocal.update(node.names)
    return frozenset(bound - declared_global - declared_nonlocal), frozenset(declared_global), frozenset(declared_nonlocal)


class ScopedVisitor(ast.NodeVisitor):
    """An :class:`ast.NodeVisitor` that visits in evaluation order and tracks scopes.

    Subclasses add rules with ``visit_Name``, ``visit_Call``, ... as usual (calling
    ``generic_visit``); this class owns the nodes that open scopes or branch the flow.
    """

    def __init__(self) -> None:
        self.scope = Scope(MODULE, ast.Module(body=[], type_ignores=[]), None)

    # ---- questions ---------------------------------------------------------------------

    def bound_by_cell(self, name: str) -> bool:
        """Whether ``name``, evaluated here, is certainly a binding the cell made itself
        (``False``: it may be a builtin, or a variable of the kernel the cell cannot see)."""
        return self.binding_scope(name) is not None

    def binding_scope(self, name: str) -> Scope | None:
        """The scope whose binding ``name`` refers to here, when the cell certainly made it."""
        scope = self.scope
        if scope.kind == CLASS:
            if name in scope.certain:
                return scope
            if name not in scope.local:
                found = self._enclosing_function(scope.parent, name)
                if found is not None:
                    return found
            return self._module(scope, name)
        if scope.kind == MODULE:
            return scope if name in scope.certain else None
        if name in scope.declared_global:
            return self._module(scope, name)
        if name in scope.local:
            return scope
        found = self._enclosing_function(scope.parent, name)
        return found if found is not None else self._module(scope, name)

    def _enclosing_function(self, scope: Scope | None, name: str) -> Scope | None:
        while scope is not None and scope.kind != MODULE:
            if scope.kind == FUNCTION:
                if name in scope.declared_global:
                    return None
                if name in scope.local:
                    return scope
            scope = scope.parent
        return None

    def _module(self, scope: Scope, name: str) -> Scope | None:
        """The module scope if ``name`` is certainly bound there for code running in ``scope``."""
        module = scope
        while module.parent is not None:
            module = module.parent
        # A function reads what was certain where it was defined; a class body runs now.
        nearest_function = scope
        while nearest_function.kind == CLASS and nearest_function.parent is not None:
            nearest_function = nearest_function.parent
        certain = module.certain if nearest_function.kind == MODULE else nearest_function.module_certain
        return module if name in certain else None

    def _module_certain_now(self) -> frozenset[str]:
        scope = self.scope
        while scope.kind == CLASS and scope.parent is not None:
            scope = scope.parent
        return frozenset(scope.certain) if scope.kind == MODULE else scope.module_certain

    # ---- scopes ------------------------------------------------------------------------

    def visit_Module(self, node: ast.Module) -> None:
        local, _, _ = bindings(node.body)
        self.scope = Scope(MODULE, node, None, local)
        self.visit_block(node.body)

    def _open_function(self, node: ast.AST, roots: list[ast.AST], parameters: Iterable[str]) -> Scope:
        local, declared_global, declared_nonlocal = bindings(roots)
        return Scope(
            FUNCTION,
            node,
            self.scope,
            local | frozenset(parameters),
            declared_global,
            declared_nonlocal,
            self._module_certain_now(),
        )

    def _run_in(self, scope: Scope, body: Iterable[ast.AST | list[ast.stmt]]) -> None:
        outer, self.scope = self.scope, scope
        try:
            for item in body:
                if isinstance(item, list):
                    self.visit_block(item)
                else:
                    self.visit(item)
        finally:
            self.scope = outer

    def visit_annotation(self, node: ast.expr) -> None:
        """Visit an annotation (of a parameter, a return or a variable); a hook for subclasses."""
        self.visit(node)

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        args = node.args
        for item in (*node.decorator_list, *args.defaults, *(d for d in args.kw_defaults if d is not None)):
            self.visit(item)
        for arg in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg):
            if arg is not None and arg.annotation is not None:
                self.visit_annotation(arg.annotation)
        if node.returns is not None:
            self.visit_annotation(node.returns)
        scope = self._open_function(node, list(node.body), _parameters(node.args))
        self._run_in(scope, [node.body])

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._visit_function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._visit_function(node)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for item in _argument_extras(node.args, annotations=False):
            self.visit(item)
        scope = self._open_function(node, [node.body], _parameters(node.args))
        self._run_in(scope, [node.body])

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for item in (*node.decorator_list, *node.bases, *node.keywords):
            self.visit(item)
        local, _, _ = bindings(node.body)
        self._run_in(Scope(CLASS, node, self.scope, local), [node.body])

    def _visit_comprehension(self, node: ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp) -> None:
        first, *rest = node.generators
        self.visit(first.iter)
        local = frozenset(n for g in node.generators for n in target_names(g.target))
        scope = Scope(FUNCTION, node, self.scope, local, module_certain=self._module_certain_now())
        elements = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        self._run_in(scope, [first.target, *first.ifs, *rest, *elements])

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _visit_comprehension

    # ---- flow --------------------------------------------------------------------------

    def visit_block(self, body: list[ast.stmt]) -> None:
        """Visit statements in order; each simple binding is certain for what follows."""
        certain = self.scope.certain
        for stmt in body:
            self.visit(stmt)
            certain.update(statement_bindings(stmt))
            if isinstance(stmt, ast.Delete):
                for target in stmt.targets:
                    certain.difference_update(target_names(target))

    def _branch(self, start: set[str], body: list[ast.stmt]) -> set[str]:
        """Visit ``body`` from the names certain at ``start``; the names certain after it."""
        saved, self.scope.certain = self.scope.certain, set(start)
        try:
            self.visit_block(body)
            return self.scope.certain
        finally:
            self.scope.certain = saved

    def generic_visit(self, node: ast.AST) -> None:
        for _, value in ast.iter_fields(node):
            if isinstance(value, list):
                if value and isinstance(value[0], ast.stmt):
                    self._branch(self.scope.certain, value)  # an unknown block: nothing certain after it
                else:
                    for item in value:
                        if isinstance(item, ast.AST):
                            self.visit(item)
            elif isinstance(value, ast.AST):
                self.visit(value)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
        self.visit(node.target)
        self.visit_annotation(node.annotation)

    def visit_If(self, node: ast.If) -> None:
        self.visit(node.test)
        before = self.scope.certain
        both = self._branch(before, node.body) & self._branch(before, node.orelse)
        before.update(both)

    def _visit_loop(self, node: ast.For | ast.AsyncFor | ast.While) -> None:
        before = self.scope.certain
        if isinstance(node, ast.While):
            self.visit(node.test)
            inside = set(before)
        else:
            self.visit(node.iter)
            self.visit(node.target)
            inside = before | set(target_names(node.target))
        self._branch(inside, node.body)
        self._branch(before, node.orelse)

    visit_For = visit_AsyncFor = visit_While = _visit_loop

    def _visit_with(self, node: ast.With | ast.AsyncWith) -> None:
        before = self.scope.certain
        for item in node.items:
            self.visit(item.context_expr)
            if item.optional_vars is not None:
                self.visit(item.optional_vars)
                before.update(target_names(item.optional_vars))
        # An __exit__ may suppress an exception half-way: the body's bindings are not certain after.
        self._branch(before, node.body)

    visit_With = visit_AsyncWith = _visit_with

    def _visit_try(self, node: ast.Try) -> None:
        before = self.scope.certain
        after_body = self._branch(before, [*node.body, *node.orelse])
        after = after_body
        for handler in node.handlers:
            saved, self.scope.certain = self.scope.certain, set(before)
            try:
                self.visit(handler)
                handled = self.scope.certain
            finally:
                self.scope.certain = saved
            after = after & handled
        after |= self._branch(before, node.finalbody)
        before.update(after)

    def visit_Try(self, node: ast.Try) -> None:
        self._visit_try(node)

    if sys.version_info >= (3, 11):

        def visit_TryStar(self, node: ast.TryStar) -> None:
            self._visit_try(cast(ast.Try, node))  # the same fields as a plain try

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.visit(node.type)
        self.visit_block(node.body)
        if node.name:
            self.scope.certain.discard(node.name)  # Python deletes it when the handler ends

    def visit_Match(self, node: ast.Match) -> None:
        self.visit(node.subject)
        for case in node.cases:
            saved, self.scope.certain = self.scope.certain, set(self.scope.certain)
            try:
                self.visit(case.pattern)
                if case.guard is not None:
                    self.visit(case.guard)
                self.visit_block(case.body)
            finally:
                self.scope.certain = saved
