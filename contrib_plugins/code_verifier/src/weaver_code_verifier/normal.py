"""Rules for ordinary generated code (``VerifyMode.normal``).

Each rule reports the line, a rule id and what to write instead. The rules, by id:

``import-not-allowed``  an import outside ``allowed_imports`` (checked per alias, per
                        submodule, and for every name of ``from x import a, b``)
``relative-import``     ``from . import x``: code runs in a kernel cell, not a package
``star-import``         ``from x import *`` hides which names the code binds
``blocked-builtin``     eval, exec, compile, open, input, breakpoint, __import__,
                        globals/locals/vars, exit/quit: called or merely referenced where
                        the name is the builtin (see :mod:`.scopes`); deleting such a name
                        or catching into it (``except E as open``)
``dynamic-attribute``   getattr/setattr/delattr with a non-literal or underscore name, or
                        passed around as values; attribute names in strings that
                        ``operator.attrgetter`` or pandas' ``agg``/``apply`` look up
``dunder-attribute``    ``x.__class__`` and every dunder but the safe list, also as a
                        keyword of a class pattern (``case object(__class__=c)``)
``private-attribute``   ``x._name``, ``x._Cls__name``, private modules and names in imports
``dunder-name``         ``__builtins__`` and other dunder names
``subscript-call``      calling the result of a subscript: ``__builtins__["eval"](...)``,
                        ``handlers[0](x)``; bind the function to a name or call it directly
``dangerous-attribute`` a module such as os, pickle or codecs reached as an attribute of an
                        allowed object (``pd.io.common.os``, ``np._os``)
``blocked-attribute``   functions of allowed packages that import by name, unpickle, start
                        processes or evaluate strings (``import_optional_dependency``,
                        ``read_pickle``, ``get_type_hints``, ``allow_pickle=True``)
``frame-introspection`` generator/frame/traceback internals (``gen.gi_frame.f_globals``)
``blocked-member``      a blocked builtin under another name (``io.open``)
``format-dunder``       ``"{0.__class__}"``: format templates read attributes too
``pandas-expression``   a ``query``/``eval`` expression pandas would evaluate that is
                        computed, reaches a module through ``@``, or changes its scope
``blocked-setting``     matplotlib settings that name a program (``animation.ffmpeg_path``)
                        and ``module://`` backends
``shell-command``, ``magic-not-allowed``, ``ipython-api``  IPython syntax (see :mod:`.magics`)
``json-literal``        ``true``/``false``/``null`` where Python needs True/False/None
"""

from __future__ import annotations

import ast
import re

from weaver.specs import Violation
from weaver_code_verifier import magics, strings
from weaver_code_verifier.config import CodeVerifierConfig
from weaver_code_verifier.scopes import CLASS, FUNCTION, ScopedVisitor

SOURCE = "code_verifier"


def violation_at(node: ast.AST, rule: str, message: str) -> Violation:
    """A violation at ``node``'s position, its message led by the line number the model sees."""
    line = getattr(node, "lineno", 1)
    return Violation(
        line=line, rule=rule, message=f"line {line}: {message}", col=getattr(node, "col_offset", 0), source=SOURCE
    )


ATTRIBUTE_FUNCTIONS = frozenset({"getattr", "setattr", "delattr"})
JSON_LITERALS = {"true": "True", "false": "False", "null": "None"}
_MANGLED = re.compile(r"^_[A-Za-z0-9]+__\w")

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

_IMPORTS_BY_NAME = "it imports any module by name; import allowed modules with an import statement"
_UNPICKLES = "loading a pickle runs code; read data from CSV, Parquet or JSON instead"
ATTRIBUTE_ADVICE = {
    "import_optional_dependency": _IMPORTS_BY_NAME,
    "import_module": _IMPORTS_BY_NAME,
    "resolve_name": _IMPORTS_BY_NAME,
    "read_pickle": _UNPICKLES,
    "load_pickle": _UNPICKLES,
    "Unpickler": _UNPICKLES,
    "patch_pickle": _UNPICKLES,
    "read_clipboard": "it starts a program to reach the clipboard; work with the data you have",
    "to_clipboard": "it starts a program to reach the clipboard; write a file with df.to_csv instead",
    "get_type_hints": "it evaluates string annotations; read the annotations you wrote directly",
    "build_and_import_extension": "it compiles and loads C code; write Python",
}

PRIVATE_ADVICE = {
    "_get_numeric_data": "df.select_dtypes('number')",
    "_repr_html_": "df.to_html() (or just show the DataFrame as the cell's last line)",
    "_values": ".to_numpy()",
    "_data": ".to_numpy()",
    "_get_lines": "the colors of plt.rcParams['axes.prop_cycle']",
}


def is_dunder(name: str) -> bool:
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


def module_allowed(path: str, config: CodeVerifierConfig) -> bool:
    """``pandas.io.json`` is allowed when ``pandas`` is listed and no blocked entry covers it."""
    if any(part.lstrip("_") in config.dangerous_attributes for part in path.split(".")[1:]):
        return False
    if any(path == b or path.startswith(b + ".") for b in config.blocked_modules):
        return False
    return any(path == a or path.startswith(a + ".") for a in config.imports)


def _class_private_names(node: ast.ClassDef) -> frozenset[str]:
    """Underscore names a class defines: in its body, or as ``self._x = ...`` in its methods."""
    names: set[str] = set()
    for stmt in node.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(stmt.name)
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            names.update(t.id for target in targets for t in ast.walk(target) if isinstance(t, ast.Name))
    for method in node.body:
        first = _first_parameter(method)
        if first is None:
            continue
        for inner in ast.walk(method):
            if (
                isinstance(inner, ast.Attribute)
                and isinstance(inner.ctx, ast.Store)
                and isinstance(inner.value, ast.Name)
                and inner.value.id == first
            ):
                names.add(inner.attr)
    return frozenset(name for name in names if name.startswith("_") and not is_dunder(name))


def _first_parameter(node: ast.AST) -> str | None:
    """The ``self``/``cls`` parameter of a method (``None`` for a static method or a non-method)."""
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    if any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in node.decorator_list):
        return None
    positional = [*node.args.posonlyargs, *node.args.args]
    return positional[0].arg if positional else None


class NormalChecker(ScopedVisitor):
    """Walks a parsed cell once, in evaluation order, and collects every violation."""

    def __init__(self, config: CodeVerifierConfig) -> None:
        super().__init__()
        self.config = config
        self.violations: list[Violation] = []
        self.watched = frozenset({*config.blocked_builtins, *ATTRIBUTE_FUNCTIONS, "get_ipython", *JSON_LITERALS})
        """Names whose every use is judged where it is evaluated."""
        self.aliases: dict[str, str] = {}
        """Local name -> dotted module or member it was imported as."""
        self._judged: set[int] = set()
        """Name nodes a parent call already judged (getattr(...), get_ipython().x(...))."""
        self._private_names: dict[int, frozenset[str]] = {}
        self._embedded: str | None = None
        """Inside a string a library evaluates: ``"columns"`` (bare names are columns),
        ``"python"`` (bare names are variables), or ``None`` in the cell itself."""
        self._context = ""

    def check(self, tree: ast.Module) -> list[Violation]:
        self.visit(tree)
        return self.violations

    def report(self, node: ast.AST, rule: str, message: str) -> None:
        self.violations.append(violation_at(node, rule, self._context + message))

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

    def _private_module(self, node: ast.AST, path: str) -> bool:
        private = next((part for part in path.split(".") if part.startswith("_") and not is_dunder(part)), None)
        if private is None:
            return False
        self.report(
            node,
            "private-attribute",
            f"{path!r} is private ({private!r} starts with an underscore) and may change or reach internals; "
            "import the public module or name instead.",
        )
        return True

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if not module_allowed(alias.name, self.config):
                self._deny_import(node, alias.name)
            else:
                self._private_module(node, alias.name)
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
            elif alias.name in self.config.blocked_attributes:
                self._blocked_attribute(node, alias.name)
            elif not (module_allowed(module, self.config) or module_allowed(member, self.config)):
                self._deny_import(node, member)
            elif is_dunder(alias.name) and alias.name not in self.config.safe_dunders:
                self.report(
                    node,
                    "dunder-name",
                    f"importing {alias.name!r} reaches interpreter internals; import public names only.",
                )
            else:
                self._private_module(node, member)
            self.aliases[alias.asname or alias.name] = member

    # ---- names ----------------------------------------------------------------------

    def visit_Name(self, node: ast.Name) -> None:
        if id(node) in self._judged:
            return
        name = node.id
        if self._embedded is not None and name.startswith(strings.AT_PREFIX):
            name = name[len(strings.AT_PREFIX) :]
            if name in self.aliases:
                self.report(
                    node,
                    "pandas-expression",
                    f"@{name} hands the imported {self.aliases[name]!r} to the expression; compute the value "
                    f"in Python first (limit = ...) and refer to it as @limit.",
                )
                return
        elif self._embedded == "columns":
            # A bare name in df.query()/df.eval() is a column, not a Python variable.
            if is_dunder(name):
                self._dunder_name(node, name)
            return
        if name in self.watched and (not is_dunder(name) or not isinstance(node.ctx, ast.Store)):
            self._watched_name(node, name)
        elif is_dunder(name) and name not in self.config.safe_dunders:
            self._dunder_name(node, name)

    def _dunder_name(self, node: ast.AST, name: str) -> None:
        self.report(
            node, "dunder-name", f"{name} reaches interpreter internals; use the public names of allowed modules."
        )

    def _watched_name(self, node: ast.Name, name: str) -> None:
        if isinstance(node.ctx, ast.Del):
            self.report(
                node,
                "blocked-builtin" if name not in JSON_LITERALS else "json-literal",
                f"do not delete {name!r}: that brings back the builtin of that name. Give your own variable "
                "another name instead.",
            )
        elif isinstance(node.ctx, ast.Load) and not self.bound_by_cell(name):
            self._builtin_use(node, name)

    def _builtin_use(self, node: ast.AST, name: str) -> None:
        """``name`` is used where it can only be the builtin (or a value the cell cannot see)."""
        own = (
            f" If {name!r} is a variable of your own, bind it earlier in this cell (not inside a loop, "
            "try or with) or give it another name."
        )
        if name in JSON_LITERALS:
            self.report(node, "json-literal", f"{name!r} is JSON, not Python: write {JSON_LITERALS[name]}.")
        elif name in ATTRIBUTE_FUNCTIONS:
            self.report(
                node,
                "dynamic-attribute",
                f'call {name}(obj, "name") directly with a literal attribute name, or use obj.name; '
                f"{name} itself may not be passed around or rebound.{own}",
            )
        elif name == "get_ipython":
            self.report(node, "ipython-api", "get_ipython() controls the kernel itself; write plain Python instead.")
        else:
            self.report(
                node, "blocked-builtin", f"{name}() is not allowed: {ADVICE.get(name, 'write the code directly')}.{own}"
            )

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        target = node.target
        if isinstance(target, ast.Name) and target.id in self.watched and not self.bound_by_cell(target.id):
            self._builtin_use(target, target.id)  # `open += x` reads `open` first
        self.generic_visit(node)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name and node.name in self.watched:
            self.report(
                node,
                "blocked-builtin",
                f"'except ... as {node.name}' deletes {node.name!r} when the handler ends, which brings back the "
                "builtin of that name; write 'except ... as error'.",
            )
        elif node.name and is_dunder(node.name):
            self._dunder_name(node, node.name)
        super().visit_ExceptHandler(node)

    def visit_annotation(self, node: ast.expr) -> None:
        self.visit(node)
        for constant in strings.annotation_strings(node):
            try:
                tree = ast.parse(str(constant.value).strip(), mode="eval")
            except (SyntaxError, ValueError):
                continue  # evaluating it would fail before it ran anything
            self._embed(tree, constant, "python", f"in the string annotation {constant.value!r}, which typing evaluates: ")

    # ---- attributes -----------------------------------------------------------------

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if self._embedded is not None and self._is_at_reference(node.value):
            self.report(
                node,
                "pandas-expression",
                f"attributes of @-variables are not allowed in a pandas expression (.{node.attr}); compute the "
                "value in Python first (limit = ...) and refer to it as @limit.",
            )
        self._attribute_name(node, node.attr, node.value)
        if node.attr in ("open", "open_code", "FileIO") and (
            isinstance(node.value, ast.Attribute) and node.value.attr in ("io", "_io")
        ):
            self._blocked_member(node, f"io.{node.attr}")
        qualified = self._qualified(node)
        if qualified in self.config.blocked_members:
            self._blocked_member(node, qualified)
        self.generic_visit(node)

    def _attribute_name(self, node: ast.AST, attr: str, receiver: ast.expr | None) -> None:
        """The rules every attribute read obeys, whether written ``x.attr`` or as a pattern keyword."""
        config = self.config
        if is_dunder(attr):
            if attr not in config.safe_dunders and not (isinstance(node, ast.Attribute) and _is_super_init(node)):
                self.report(
                    node,
                    "dunder-attribute",
                    f".{attr} reaches interpreter internals and is not allowed "
                    f"(allowed: {', '.join(config.safe_dunders)}); use the object's public API "
                    "(type(x).__name__ rather than x.__class__.__name__).",
                )
        elif attr in config.frame_attributes:
            self.report(
                node, "frame-introspection", f".{attr} reaches interpreter frames; compute with the values themselves."
            )
        elif attr.lstrip("_") in config.dangerous_attributes:
            self._dangerous_attribute(node, attr)
        elif attr in config.blocked_attributes:
            self._blocked_attribute(node, attr)
        elif attr.startswith("_") and not self._private_allowed(attr, receiver):
            self._private_attribute(node, attr)

    def _private_allowed(self, attr: str, receiver: ast.expr | None) -> bool:
        if attr in self.config.safe_private_attributes:
            return True
        if _MANGLED.match(attr) or not isinstance(receiver, ast.Name):
            return False
        scope = self.binding_scope(receiver.id)
        if scope is None or scope.kind != FUNCTION or scope.parent is None or scope.parent.kind != CLASS:
            return False
        if _first_parameter(scope.node) != receiver.id:
            return False
        owner = scope.parent.node
        assert isinstance(owner, ast.ClassDef)
        if id(owner) not in self._private_names:
            self._private_names[id(owner)] = _class_private_names(owner)
        return attr in self._private_names[id(owner)]

    def _private_attribute(self, node: ast.AST, attr: str) -> None:
        if _MANGLED.match(attr):
            what = f".{attr} is another class's name-mangled private attribute"
        else:
            what = f".{attr} is a private attribute (the leading underscore marks it as not public API)"
        instead = PRIVATE_ADVICE.get(attr, "the object's public API")
        self.report(
            node,
            "private-attribute",
            f"{what} and is not allowed; use {instead}. A class of your own may use its own "
            "underscore attributes through self inside its methods.",
        )

    def _dangerous_attribute(self, node: ast.AST, attr: str) -> None:
        self.report(
            node,
            "dangerous-attribute",
            f"{attr!r} reaches the module {attr.lstrip('_')!r} through another module or object; that module is "
            f"not allowed. If this is a column, write df[{attr!r}].",
        )

    def _blocked_attribute(self, node: ast.AST, attr: str) -> None:
        advice = ATTRIBUTE_ADVICE.get(attr, "use the documented public API")
        self.report(node, "blocked-attribute", f"{attr} is not allowed: {advice}.")

    def _blocked_member(self, node: ast.AST, qualified: str) -> None:
        if qualified.startswith("io."):
            advice = ADVICE["open"]
        elif qualified.startswith("statsmodels."):
            advice = "it unpickles a file, and loading a pickle runs code; refit the model from the data"
        else:
            advice = "format values with f-strings"
        self.report(node, "blocked-member", f"{qualified} is not allowed: {advice}.")

    def _qualified(self, node: ast.expr) -> str | None:
        """``pandas.io.json`` for ``pd.io.json`` when ``pd`` was imported as pandas."""
        parts: list[str] = []
        current: ast.expr = node
        while isinstance(current, ast.Attribute):
            parts.append(current.attr)
            current = current.value
        if isinstance(current, ast.Name) and current.id in self.aliases:
            return ".".join([self.aliases[current.id], *reversed(parts)])
        return None

    def visit_MatchClass(self, node: ast.MatchClass) -> None:
        # `case C(attr=p)` reads subject.attr: the same rules as writing it.
        for attr in node.kwd_attrs:
            self._attribute_name(node, attr, None)
        self.generic_visit(node)

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.name and is_dunder(node.name):
            self._dunder_name(node, node.name)
        self.generic_visit(node)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name and is_dunder(node.name):
            self._dunder_name(node, node.name)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        if node.rest and is_dunder(node.rest):
            self._dunder_name(node, node.rest)
        self.generic_visit(node)

    # ---- strings --------------------------------------------------------------------

    def visit_Constant(self, node: ast.Constant) -> None:
        value = node.value
        if not isinstance(value, str):
            return
        if strings.FORMAT_PRIVATE.search(value):
            self.report(
                node,
                "format-dunder",
                "the string is a format template that reads private or dunder attributes ({0.__class__}); "
                "format the values you need with f-strings.",
            )
        if value in self.config.blocked_settings or value.startswith("module://"):
            self._blocked_setting(node, value)

    def _blocked_setting(self, node: ast.AST, what: str) -> None:
        self.report(
            node,
            "blocked-setting",
            f"{what!r} makes matplotlib start a program or import a module named in a string; keep the defaults "
            "(save figures with plt.savefig).",
        )

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
        elif isinstance(func, ast.Name) and func.id in ATTRIBUTE_FUNCTIONS and not self.bound_by_cell(func.id):
            self._judged.add(id(func))
            self._check_attribute_function(node, func.id)
        if self._embedded is not None and self._is_at_reference(func):
            self.report(
                node,
                "pandas-expression",
                "calling an @-variable is not allowed in a pandas expression; call it in Python first "
                "(value = f(...)) and refer to the result as @value.",
            )
        if isinstance(func, ast.Attribute) and func.attr in ("format", "format_map"):
            self._check_format_receiver(node, func.value)
        self._check_keywords(node)
        qualified = self._callee(func)
        if qualified in strings.ATTRIBUTE_NAME_FUNCTIONS:
            self._check_attribute_strings(node, qualified, literal_required=True)
        elif isinstance(func, ast.Attribute) and func.attr in strings.ATTRIBUTE_NAME_METHODS:
            self._check_attribute_strings(node, f".{func.attr}()", literal_required=False)
        self._check_pandas_expression(node, qualified)
        ipython = magics.ipython_method(node)
        if ipython is not None and not self.bound_by_cell("get_ipython"):
            method, name = ipython
            self._judged.add(id(name))
            verdict = magics.judge(node, method, self.config)
            if verdict is not None:
                self.report(node, *verdict)
        self.generic_visit(node)

    def _callee(self, func: ast.expr) -> str | None:
        if isinstance(func, ast.Name):
            return self.aliases.get(func.id)
        return self._qualified(func)

    def _check_attribute_function(self, node: ast.Call, name: str) -> None:
        target = node.args[1] if len(node.args) > 1 else None
        if not (isinstance(target, ast.Constant) and isinstance(target.value, str)):
            self.report(
                node,
                "dynamic-attribute",
                f'{name}() needs a literal attribute name here; write obj.name, or {name}(obj, "name").',
            )
        elif target.value.startswith("_") and target.value not in self.config.safe_private_attributes:
            self.report(
                node,
                "dynamic-attribute",
                f"{name}() of the private name {target.value!r} is not allowed; use the public API.",
            )

    def _check_attribute_strings(self, node: ast.Call, what: str, *, literal_required: bool) -> None:
        """Strings a call looks up as attribute names must be public (and, where required, literal)."""
        if not literal_required:
            values = [*node.args, *(k.value for k in node.keywords)]
        else:  # attrgetter("a", "b.c") names attributes in every argument; methodcaller only in its first
            values = list(node.args if what == "operator.attrgetter" else node.args[:1])
        for value in values:
            found = list(strings.attribute_names(value))
            if literal_required and not found:
                self.report(
                    node,
                    "dynamic-attribute",
                    f"{what}() needs literal attribute names; write the names as strings, or use obj.name.",
                )
            for constant in found:
                name = str(constant.value)
                if strings.is_private_name(name) and name not in self.config.safe_private_attributes:
                    self.report(
                        constant,
                        "dynamic-attribute",
                        f"{what} looks up {constant.value!r} as an attribute, and private or dunder names are not "
                        "allowed; name a public method (\"sum\", \"mean\") or pass a function.",
                    )

    def _check_format_receiver(self, node: ast.Call, receiver: ast.expr) -> None:
        if isinstance(receiver, (ast.BinOp, ast.JoinedStr)) or (
            isinstance(receiver, ast.Call) and isinstance(receiver.func, ast.Attribute)
            and receiver.func.attr in ("join", "replace", "format")
        ):
            self.report(
                node,
                "format-dunder",
                "the format template is computed, so what it reads cannot be checked; format a string literal, "
                "or use an f-string.",
            )

    def _check_keywords(self, node: ast.Call) -> None:
        settings = {entry.rsplit(".", 1)[-1] for entry in self.config.blocked_settings}
        for keyword in node.keywords:
            if keyword.arg == "allow_pickle" and not (
                isinstance(keyword.value, ast.Constant) and keyword.value.value is False
            ):
                self.report(
                    keyword.value,
                    "blocked-attribute",
                    "allow_pickle=True loads pickled objects, and loading a pickle runs code; save plain arrays "
                    "(np.save / np.load without pickles) or tables as CSV or Parquet.",
                )
            elif keyword.arg in settings:
                self._blocked_setting(keyword.value, keyword.arg)

    # ---- strings pandas evaluates ---------------------------------------------------

    def _check_pandas_expression(self, node: ast.Call, qualified: str | None) -> None:
        func = node.func
        if qualified is not None:
            parts = qualified.split(".")
            if parts[-1] not in strings.PANDAS_EVALUATORS or parts[0] != "pandas":
                return
            # pd.DataFrame.query(df, expr) names the class: the expression comes second.
            unbound = len(parts) > 1 and parts[-2][:1].isupper()
            names, skip = ("columns", 1) if unbound else ("python", 0)
            what = qualified.replace("pandas.", "pd.", 1) + "()"
        elif isinstance(func, ast.Attribute) and func.attr in strings.PANDAS_EVALUATORS:
            names, skip, what = "columns", 0, f".{func.attr}()"
        else:
            return
        expression = next((k.value for k in node.keywords if k.arg == "expr"), None)
        if expression is None and len(node.args) > skip:
            expression = node.args[skip]
        for keyword in node.keywords:
            if keyword.arg in strings.SCOPE_KEYWORDS:
                self.report(
                    keyword.value,
                    "pandas-expression",
                    f"{what} with {keyword.arg}= looks names up where this cell cannot show them; pass the "
                    "cell's own variables as @name instead.",
                )
        if expression is None:
            return  # nothing to evaluate (model.eval() of another library)
        if isinstance(expression, ast.Constant) and not isinstance(expression.value, str):
            return  # a number: not a pandas expression
        if not (isinstance(expression, ast.Constant) and isinstance(expression.value, str)):
            self.report(
                expression,
                "pandas-expression",
                f"{what} evaluates its expression as code, so it must be one string literal; pass values as "
                "@name instead of building the string (df.query(\"year == @year\"), not an f-string).",
            )
            return
        try:
            tree = strings.pandas_expression(expression.value)
        except (SyntaxError, ValueError) as exc:
            self.report(
                expression,
                "pandas-expression",
                f"the expression of {what} does not parse ({getattr(exc, 'msg', exc)}); write one Python-style "
                "expression (or `c = a + b` assignments for eval), columns in backticks when they are not names.",
            )
            return
        for stmt in tree.body:
            if not isinstance(stmt, (ast.Expr, ast.Assign)):
                self.report(
                    expression,
                    "pandas-expression",
                    f"the expression of {what} holds a {type(stmt).__name__} statement; pandas evaluates "
                    "expressions and simple assignments only.",
                )
                return
        self._embed(tree, expression, names, f"in the expression of {what}: ")

    def _is_at_reference(self, node: ast.expr) -> bool:
        return isinstance(node, ast.Name) and node.id.startswith(strings.AT_PREFIX)

    def _embed(self, tree: ast.AST, at: ast.AST, names: str, context: str) -> None:
        """Judge a tree parsed from a string of the cell with the same rules, reported at the string."""
        strings.relocate(tree, at)
        saved = self._embedded, self._context
        self._embedded, self._context = names, context
        try:
            for child in ast.iter_child_nodes(tree):
                self.visit(child)
        finally:
            self._embedded, self._context = saved


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
    return NormalChecker(config).check(tree)
