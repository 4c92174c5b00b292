"""Strings that a library turns into code or into attribute names.

* pandas evaluates the expression of ``DataFrame.query``/``DataFrame.eval`` and of
  ``pd.eval``: a Python-like language with ``@name`` for the caller's variables and
  backticks around column names that are not identifiers. :func:`pandas_expression` parses
  it into a Python tree, so the same rules judge it.
* ``str.format`` reads attributes named inside a template (``"{0.__class__}"``);
  :data:`FORMAT_PRIVATE` finds fields that reach private or dunder attributes.
* ``operator.attrgetter``/``methodcaller`` and pandas' ``agg``/``transform``/``apply`` look
  up attributes named by a string.
* ``typing.get_type_hints`` (and ``functools.singledispatch``, which calls it) evaluates
  string annotations; :func:`annotation_strings` lists the ones it would evaluate.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

PANDAS_EVALUATORS = frozenset({"query", "eval"})
"""Methods (``df.query``) and functions (``pd.eval``) whose string argument pandas evaluates."""

SCOPE_KEYWORDS = frozenset({"local_dict", "global_dict", "resolvers", "level"})
"""Arguments that change where names in a pandas expression are looked up (``level`` walks
up the interpreter's frames), so the cell no longer shows what they mean."""

AT_PREFIX = "at_reference__"
"""What ``@name`` becomes in the parsed tree: pandas' own tag for a caller's variable."""

ATTRIBUTE_NAME_METHODS = frozenset({"agg", "aggregate", "transform", "apply", "applymap"})
"""pandas methods that look a string argument up as a method name (``df.agg("sum")``)."""

ATTRIBUTE_NAME_FUNCTIONS = frozenset({"operator.attrgetter", "operator.methodcaller"})
"""Functions whose string arguments are attribute (or method) names, possibly dotted."""

FORMAT_PRIVATE = re.compile(r"\{[^{}!:]*\._")
"""A ``str.format`` field that reads an attribute with a leading underscore (``{0.__class__}``)."""

_BACKTICKED = re.compile(r"`[^`]*`")
_AT_REFERENCE = re.compile(r"@(?=[A-Za-z_])")


def pandas_expression(text: str) -> ast.Module:
    """The pandas expression ``text`` as a Python tree; :class:`SyntaxError` if it is not one.

    pandas evaluates one expression or assignment per line (``"c = a + b\\nd = a - b"``);
    ``@x`` becomes a name with :data:`AT_PREFIX`, a backticked column a plain name.
    """
    body: list[ast.stmt] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        cleaned = _BACKTICKED.sub("backticked_column", line)
        body.extend(ast.parse(_AT_REFERENCE.sub(AT_PREFIX, cleaned)).body)
    return ast.Module(body=body, type_ignores=[])


def attribute_names(value: ast.expr) -> Iterator[ast.Constant]:
    """The string literals in an argument that a lookup by name would use: the value itself,
    or the items of a list, tuple or dict of them (``df.agg({"a": ["sum", "mean"]})``)."""
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        yield value
    elif isinstance(value, (ast.List, ast.Tuple, ast.Set)):
        for item in value.elts:
            yield from attribute_names(item)
    elif isinstance(value, ast.Dict):
        for item in value.values:
            yield from attribute_names(item)


def is_private_name(name: str) -> bool:
    """``"_x"``, ``"a._b"``, ``"__class__"``: a dotted name with any part that starts with ``_``."""
    return any(part.strip().startswith("_") for part in name.split("."))


def annotation_strings(annotation: ast.expr) -> Iterator[ast.Constant]:
    """String literals in an annotation that ``get_type_hints`` would evaluate as forward
    references; the values inside ``Literal[...]`` are data, not references."""
    stack: list[ast.AST] = [annotation]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node
        elif isinstance(node, ast.Subscript) and _last_name(node.value) == "Literal":
            continue
        else:
            stack.extend(ast.iter_child_nodes(node))


def _last_name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def relocate(tree: ast.AST, at: ast.AST) -> None:
    """Give every node of a tree parsed from a string the position of the string in the cell."""
    line, col = getattr(at, "lineno", 1), getattr(at, "col_offset", 0)
    for node in ast.walk(tree):
        if "lineno" in node._attributes:
            node.lineno, node.col_offset = line, col  # type: ignore[attr-defined]
