"""Rules for ordinary generated code (``VerifyMode.normal``).

Each rule reports the line, a rule id and what to write instead. The rules, by id:

``import-not-allowed``  an import outside ``allowed_imports`` (checked per alias, per
                        submodule, and for every name of ``from x import a, b``)
``relative-import``     ``from . import x``: code runs in a kernel cell, not a package
``star-import``         ``from x import *`` hides which names the code binds
``blocked-builtin``     eval, exec, compile, open, input, breakpoint, __import__,
                        globals/locals/vars, exit/quit: called or merely referenced
``dynamic-attribute``   getattr/setattr/delattr with a non-literal or underscore name
``dunder-attribute``    ``x.__class__`` and every dunder but the safe list
``dunder-name``         ``__builtins__`` and other dunder names
``subscript-call``      calling the result of a subscript: ``__builtins__["eval"](...)``,
                        ``handlers[0](x)``; bind the function to a name or call it directly
``dangerous-attribute`` a module such as os or subprocess reached as an attribute of an
                        allowed object (``pd.io.common.os``, ``np._os``)
``frame-introspection`` generator/frame/traceback internals (``gen.gi_frame.f_globals``)
``blocked-member``      a blocked builtin under another name (``io.open``)
``format-dunder``       ``"{0.__class__}".format(x)``: format strings read attributes too
``shell-command``, ``magic-not-allowed``, ``ipython-api``  IPython syntax (see :mod:`.magics`)
``json-literal``        ``true``/``false``/``null`` where Python needs True/False/None
"""

from __future__ import annotations

import ast
import re

from weaver.specs import Violation
from weaver_code_verifier import magics
from weaver_code_verifier.settings import CodeVerifierConfig

SOURCE = "code_verifier"


def violation_at(node: ast.AST, rule: str, message: str) -> Violation:
    """A violation at ``node``'s position, its message led by the line number the model sees."""
    line = getattr(node, "lineno", 1)
    return Violation(
        line=line, rule=rule, message=f"line {line}: {message}", col=getattr(node, "col_offset", 0), source=SOURCE
    )
ATTRIBUTE_FUNCTIONS = frozenset({"getattr", "setattr", "delattr"})
JSON_LITERALS = {"true": "True", "false": "False", "null": "None"}
_FORMAT_PRIVATE = re.compile(r"\{[^{}]*(?:\._|__)")

ADVICE = {
    "eval": "compute the value directly instead of evaluating a string",
    "exec": "write the statements directly instead of executing a string",
    "compile": "write the code directly instead of compiling a string",
    "open": "read and write files with pandas (pd.read_csv, df.to_csv) or pathlib (Path(p).read_text(), write_text())",
    "input": "nobody is at a keyboard: use the values you were given, or ask the Planner for what is missing",
    "breakpoint": "remove it: no debugger is attached",
    "__import__": "use an import statement of an allowed module",
    "globals": "refer to variables by their names",
    "locals": "refer to variables by their names",
    "vars": "refer to attributes by their names",
    "exit": "end the code normally; exiting would stop the kernel",
    "quit": "end the code normally; quitting would stop the kernel",
}


def is_dunder(name: str) -> bool:
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


def bound_names(tree: ast.AST) -> frozenset[str]:
    """Every name the code itself binds anywhere (assignments, defs, parameters, imports)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.alias):
            names.add(node.asname or node.name.split(".")[0])
        elif (
            isinstance(node, ast.ExceptHandler)
            and node.name
            or isinstance(node, (ast.MatchAs, ast.MatchStar))
            and node.name
        ):
            names.add(node.name)
    return frozenset(names)


def module_allowed(path: str, config: CodeVerifierConfig) -> bool:
    """``pandas.io.json`` is allowed when ``pandas`` is listed and no blocked entry covers it."""
    if any(part.lstrip("_") in config.dangerous_attributes for part in path.split(".")[1:]):
        return False
    if any(path == b or path.startswith(b + ".") for b in config.blocked_modules):
        return False
    return any(path == a or path.startswith(a + ".") for a in config.imports)


class NormalChecker(ast.NodeVisitor):
    """Walks a parsed cell once and collects every violation."""

    def __init__(self, config: CodeVerifierConfig, tree: ast.Module) -> None:
        self.config = config
        self.violations: list[Violation] = []
        self.bound = bound_names(tree)
        self.aliases: dict[str, str] = {}
        """Local name -> dotted module or member it was imported as."""
        self._judged: set[int] = set()
        """Name nodes a parent call already judged (getattr(...), get_ipython().x(...))."""

    def check(self, tree: ast.Module) -> list[Violation]:
        self.visit(tree)
        return self.violations

    def report(self, node: ast.AST, rule: str, message: str) -> None:
        self.violations.append(violation_at(node, rule, message))

    # ---- imports ------------------------------------------------------------------------

    def _allowed_list(self) -> str:
        return ", ".join(self.config.imports)

    def _deny_import(self, node: ast.AST, what: str) -> None:
        self.report(
            node,
            "import-not-allowed",
            f"importing {what!r} is not allowed. Allowed modules: {self._allowed_list()} "
            "(a project can add more with [code_verifier] extra_allowed_imports).",
        )

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if not module_allowed(alias.name, self.config):
                self._deny_import(node, alias.name)
            if alias.asname:
                self.aliases[alias.asname] = alias.name
            else:
                root = alias.name.split(".")[0]
                self.aliases[root] = root

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            self.report(
                node,
                "relative-import",
                "relative imports do not work in a kernel cell; import an allowed module by its full name.",
            )
            return
        module = node.module or ""
        for alias in node.names:
            if alias.name == "*":
                self.report(
                    node,
                    "star-import",
                    f"'from {module} import *' hides which names it binds; import the names you use explicitly.",
                )
                continue
            member = f"{module}.{alias.name}"
            if member in self.config.blocked_members:
                self._blocked_member(node, member)
            elif alias.name.lstrip("_") in self.config.dangerous_attributes:
                self._dangerous_attribute(node, alias.name)
            elif not (module_allowed(module, self.config) or module_allowed(member, self.config)):
                self._deny_import(node, member)
            elif is_dunder(alias.name) and alias.name not in self.config.safe_dunders:
                self.report(
                    node,
                    "dunder-name",
                    f"importing {alias.name!r} reaches interpreter internals; import public names only.",
                )
            self.aliases[alias.asname or alias.name] = member

    # ---- names and attributes -----------------------------------------------------------

    def visit_Name(self, node: ast.Name) -> None:
        if id(node) in self._judged:
            return
        name, shadowed = node.id, node.id in self.bound
        if name in self.config.blocked_builtins and not shadowed:
            self.report(
                node, "blocked-builtin", f"{name}() is not allowed: {ADVICE.get(name, 'write the code directly')}."
            )
        elif is_dunder(name) and name not in self.config.safe_dunders:
            self.report(
                node, "dunder-name", f"{name} reaches interpreter internals; use the public names of allowed modules."
            )
        elif name in ATTRIBUTE_FUNCTIONS and not shadowed:
            self.report(
                node,
                "dynamic-attribute",
                f'call {name}(obj, "name") directly with a literal attribute name, or use obj.name.',
            )
        elif name in JSON_LITERALS and isinstance(node.ctx, ast.Load) and not shadowed:
            self.report(node, "json-literal", f"{name!r} is JSON, not Python: write {JSON_LITERALS[name]}.")
        elif name == "get_ipython" and not shadowed:
            self.report(node, "ipython-api", "get_ipython() controls the kernel itself; write plain Python instead.")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        attr = node.attr
        if is_dunder(attr):
            if attr not in self.config.safe_dunders and not _is_super_init(node):
                self.report(
                    node,
                    "dunder-attribute",
                    f".{attr} reaches interpreter internals and is not allowed "
                    f"(allowed: {', '.join(self.config.safe_dunders)}); use the object's public API.",
                )
        elif attr in self.config.frame_attributes:
            self.report(
                node, "frame-introspection", f".{attr} reaches interpreter frames; compute with the values themselves."
            )
        elif attr.lstrip("_") in self.config.dangerous_attributes:
            self._dangerous_attribute(node, attr)
        qualified = self._qualified(node)
        if qualified in self.config.blocked_members:
            self._blocked_member(node, qualified)
        self.generic_visit(node)

    def _dangerous_attribute(self, node: ast.AST, attr: str) -> None:
        self.report(
            node,
            "dangerous-attribute",
            f"{attr!r} reaches the module {attr.lstrip('_')!r} through another module or object; that module is "
            f"not allowed. If this is a column, write df[{attr!r}].",
        )

    def _blocked_member(self, node: ast.AST, qualified: str) -> None:
        advice = ADVICE["open"] if qualified.startswith("io.") else "format values with f-strings"
        self.report(node, "blocked-member", f"{qualified} is not allowed: {advice}.")

    def _qualified(self, node: ast.Attribute) -> str | None:
        parts: list[str] = []
        current: ast.expr = node
        while isinstance(current, ast.Attribute):
            parts.append(current.attr)
            current = current.value
        if isinstance(current, ast.Name) and current.id in self.aliases:
            return ".".join([self.aliases[current.id], *reversed(parts)])
        return None

    # ---- calls ----------------------------------------------------------------------

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Subscript):
            self.report(
                node,
                "subscript-call",
                "calls the result of a subscript (x[...](...)), which hides what is called; "
                "call the function by its name (or bind it to a name first).",
            )
        elif isinstance(func, ast.Name) and func.id in ATTRIBUTE_FUNCTIONS and func.id not in self.bound:
            self._judged.add(id(func))
            self._check_attribute_function(node, func.id)
        elif isinstance(func, ast.Attribute) and func.attr in ("format", "format_map"):
            self._check_format(node, func)
        ipython = magics.ipython_method(node)
        if ipython is not None and "get_ipython" not in self.bound:
            method, name = ipython
            self._judged.add(id(name))
            verdict = magics.judge(node, method, self.config)
            if verdict is not None:
                self.report(node, *verdict)
        self.generic_visit(node)

    def _check_attribute_function(self, node: ast.Call, name: str) -> None:
        target = node.args[1] if len(node.args) > 1 else None
        if not (isinstance(target, ast.Constant) and isinstance(target.value, str)):
            self.report(
                node,
                "dynamic-attribute",
                f'{name}() needs a literal attribute name here; write obj.name, or {name}(obj, "name").',
            )
        elif target.value.startswith("_"):
            self.report(
                node,
                "dynamic-attribute",
                f"{name}() of the private name {target.value!r} is not allowed; use the public API.",
            )

    def _check_format(self, node: ast.Call, func: ast.Attribute) -> None:
        receiver = func.value
        if (
            isinstance(receiver, ast.Constant)
            and isinstance(receiver.value, str)
            and _FORMAT_PRIVATE.search(receiver.value)
        ):
            self.report(
                node,
                "format-dunder",
                "the format string reads private or dunder attributes ({0.__class__}); format the values you need with f-strings.",
            )


def _is_super_init(node: ast.Attribute) -> bool:
    value = node.value
    return (
        node.attr == "__init__"
        and isinstance(value, ast.Call)
        and isinstance(value.func, ast.Name)
        and value.func.id == "super"
    )


def check(tree: ast.Module, config: CodeVerifierConfig) -> list[Violation]:
    """Every violation of the normal-mode rules in a parsed cell."""
    return NormalChecker(config, tree).check(tree)
