"""Scope rules: every use of a blocked builtin is judged where Python evaluates it.

Binding a name to itself (``eval = eval``), a default (``def f(open=open)``), a class body,
a decorator, a lambda, a comprehension or an alias all read the builtin, and are refused;
a variable of the cell's own that shadows a builtin (``open = df["open"]``) stays allowed.
"""

from __future__ import annotations

import pytest

from weaver_code_verifier import verify


def rules(code: str) -> list[tuple[int, str]]:
    return [(v.line, v.rule) for v in verify(code)]


# (id, code, the (line, rule) pairs it must give)
REFUSED = [
    ("eval rebound to itself", "eval = eval\neval('1+1')", [(1, "blocked-builtin")]),
    ("getattr rebound, then a computed dunder walk",
     "getattr = getattr\ncls = getattr((), '__cl' + 'ass__')\nsub = getattr(cls, '__subcl' + 'asses__')()",
     [(1, "dynamic-attribute")]),
    ("get_ipython rebound, then a shell command", "get_ipython = get_ipython\nget_ipython().getoutput('id')",
     [(1, "ipython-api")]),
    ("open as a default", "def f(open=open):\n    return open('/etc/passwd').read()", [(1, "blocked-builtin")]),
    ("keyword-only default", "def f(*, e=eval):\n    return e", [(1, "blocked-builtin")]),
    ("lambda default", "f = lambda o=open: o('x')", [(1, "blocked-builtin")]),
    ("alias", "e = eval\ne('1')", [(1, "blocked-builtin")]),
    ("assignment chain", "a = b = exec", [(1, "blocked-builtin")]),
    ("tuple", "a, b = 1, compile", [(1, "blocked-builtin")]),
    ("swap", "x = 1\nx, vars = vars, x", [(2, "blocked-builtin")]),
    ("walrus", "if (e := eval):\n    e('1')", [(1, "blocked-builtin")]),
    ("for target over the builtin", "for f in [open]:\n    f('x')", [(1, "blocked-builtin")]),
    ("for target binding the name", "for open in []:\n    pass\nopen('x')", [(3, "blocked-builtin")]),
    ("decorator", "@exec\ndef f():\n    pass", [(1, "blocked-builtin")]),
    ("class body reads the builtin", "class A:\n    vars = vars", [(2, "blocked-builtin")]),
    ("class attribute from the builtin", "class A:\n    run = staticmethod(exec)", [(2, "blocked-builtin")]),
    ("lambda body", "f = lambda: __import__('os')", [(1, "blocked-builtin")]),
    ("function body, no binding", "def f():\n    return compile('1', 'x', 'eval')", [(2, "blocked-builtin")]),
    ("global declared", "def f():\n    global open\n    return open('x')", [(3, "blocked-builtin")]),
    ("used in a function before the module binds it", "def f():\n    return open('x')\nf()\nopen = 1",
     [(2, "blocked-builtin")]),
    ("bound in one branch only", "if flag:\n    vars = ['a']\nprint(vars)", [(3, "blocked-builtin")]),
    ("bound only in a try body", "try:\n    open = 1\nexcept ValueError:\n    pass\nopen('x')",
     [(5, "blocked-builtin")]),
    ("bound in a with body", "with ctx():\n    open = 1\nopen('x')", [(3, "blocked-builtin")]),
    ("bound in a match case", "match x:\n    case 1:\n        open = 2\nopen('x')", [(4, "blocked-builtin")]),
    ("used in a loop before its binding", "for i in range(2):\n    print(input)\n    input = i", [(2, "blocked-builtin")]),
    ("comprehension element", "fs = [exec for _ in range(3)]", [(1, "blocked-builtin")]),
    ("comprehension's first iterable", "lines = [l for l in open('f')]", [(1, "blocked-builtin")]),
    ("comprehension in a class body does not see the class", "class A:\n    open = 1\n    xs = [open for _ in 'ab']",
     [(3, "blocked-builtin")]),
    ("augmented assignment reads first", "open += 1", [(1, "blocked-builtin")]),
    ("del brings the builtin back", "open = 1\ndel open\nopen('x')", [(2, "blocked-builtin"), (3, "blocked-builtin")]),
    ("except-as deletes the name", "open = 1\ntry:\n    pass\nexcept Exception as open:\n    pass\nopen('x')",
     [(4, "blocked-builtin")]),
    ("globals() access", "g = globals()\ng['x'] = 1", [(1, "blocked-builtin")]),
    ("vars() of an object", "d = vars(obj)", [(1, "blocked-builtin")]),
    ("locals() in a function", "def f():\n    return locals()", [(2, "blocked-builtin")]),
    ("setattr passed as a value", "import functools\nset_it = functools.partial(setattr, obj)", [(2, "dynamic-attribute")]),
    ("builtins module", "import builtins as b\nb.eval('1')", [(1, "import-not-allowed")]),
    ("json literal after a conditional binding", "if ok:\n    true = True\nx = true", [(3, "json-literal")]),
    ("string annotation typing would evaluate", "def f(x: \"__import__('os').system('id')\") -> None:\n    pass",
     [(1, "blocked-builtin")]),
]

ALLOWED = [
    ("a column named like a builtin", "open = df['open']\nopen.mean()"),
    ("bound in both branches", "if flag:\n    vars = ['a']\nelse:\n    vars = ['b']\nprint(vars)"),
    ("bound in a try body and every handler",
     "try:\n    input = load()\nexcept ValueError:\n    input = None\nprint(input)"),
    ("bound in a finally", "try:\n    pass\nfinally:\n    compile = 3\nprint(compile)"),
    ("a with target", "with ctx() as open:\n    pass\nprint(open)"),
    ("a function's own local", "def f(x):\n    open = x * 2\n    return open"),
    ("a parameter", "def f(input):\n    return input.strip()"),
    ("a closure over the enclosing function's local",
     "def outer():\n    vars = [1]\n    def inner():\n        return vars\n    return inner"),
    ("a module binding before the def", "open = 1\ndef f():\n    return open + 1"),
    ("a comprehension variable", "xs = [open * 2 for open in range(3)]"),
    ("a class attribute bound first", "class A:\n    vars = ['a']\n    n = len(vars)"),
    ("an import binding the name", "from pandas import eval as evaluate\nimport numpy as np\nnp.sqrt(4)"),
    ("getattr with a literal public name", "getattr(df, 'mean')()"),
    ("a nonlocal of the enclosing function",
     "def outer():\n    vars = 0\n    def inner():\n        nonlocal vars\n        vars += 1\n    return inner"),
    ("augmented assignment of the cell's own name", "input = 1\ninput += 1"),
    ("a forward reference annotation", "def f(x: 'pd.DataFrame') -> 'list[int]':\n    return []"),
]


@pytest.mark.parametrize(("case", "code", "expected"), REFUSED, ids=[c[0] for c in REFUSED])
def test_uses_that_reach_the_builtin_are_refused(case: str, code: str, expected: list[tuple[int, str]]) -> None:
    assert rules(code) == expected


@pytest.mark.parametrize(("case", "code"), ALLOWED, ids=[c[0] for c in ALLOWED])
def test_the_cells_own_bindings_are_allowed(case: str, code: str) -> None:
    assert rules(code) == []


def test_refusals_say_how_to_fix_a_shadowing_variable() -> None:
    (found,) = verify("for open in prices:\n    pass\nprint(open)")
    assert found.line == 3 and "pd.read_csv" in found.message
    assert "bind it earlier in this cell (not inside a loop, try or with) or give it another name" in found.message
    (deleted,) = verify("input = 1\ndel input")
    assert "brings back the builtin" in deleted.message
    (caught,) = verify("try:\n    pass\nexcept Exception as open:\n    pass")
    assert "write 'except ... as error'" in caught.message
