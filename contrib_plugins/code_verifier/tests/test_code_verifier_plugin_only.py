"""Plugin-only mode accepts TaskWeaver's plugin-only code shape, and nothing else."""

from __future__ import annotations

import pytest

from weaver.specs import VerifyMode
from weaver_code_verifier import verify

PLUGINS = ("sql_pull_data", "anomaly_detection", "klarna_search")


def found(code: str) -> list[tuple[int, str]]:
    return [(v.line, v.rule) for v in verify(code, VerifyMode.plugin_only, PLUGINS)]


ACCEPTED = [
    ("TaskWeaver's example", (
        'r0 = sql_pull_data(query="SELECT * FROM sales")\n'
        'r1 = anomaly_detection(df=r0, time_col_name="ts", value_col_name="val")\nr0, r1'
    )),
    ("literal assignments used as arguments", (
        'n = 5\nq = "SELECT 1"\ncols = ["a", "b"]\nopts = {"k": -1.5}\n'
        "r0 = sql_pull_data(q, limit=n, columns=cols, options=opts)\nr0"
    )),
    ("a literal dict unpacked", 'r0 = sql_pull_data(**{"query": "SELECT 1", "limit": 10})\nr0'),
    ("unpacked beside keywords", 'r0 = klarna_search("shoes", **{"size": 42, "in_stock": True})'),
    ("nested plugin calls", 'r0 = anomaly_detection(df=sql_pull_data(query="SELECT * FROM t"), threshold=3)\nr0'),
    ("results unpacked", 'flagged, summary = anomaly_detection(sql_pull_data("SELECT 1"), "amount")\nflagged, summary'),
    ("a tuple result with literals", 'r0 = sql_pull_data("SELECT 1")\nr0, "done", 3'),
    ("a bare call", 'anomaly_detection(df, "x")'),
    ("a result of an earlier execution", 'r2 = anomaly_detection(df=r1)\nr2'),
    ("chained assignment", 'a = b = sql_pull_data("SELECT 1")'),
    ("an alias of a result", 'r0 = sql_pull_data("SELECT 1")\ndf = r0\nanomaly_detection(df)'),
    ("literals of every kind", 'r0 = klarna_search(None, True, False, -3, +2.5, 1e-3, "x", b"y", (1, 2), {1, 2}, [[]])'),
]

REFUSED = [
    ("an import", "import pandas as pd", [(1, "plugin-only")]),
    ("attribute access", 'r0 = sql_pull_data("SELECT 1")\nr0.head()', [(2, "plugin-only")]),
    ("attribute in an argument", "r1 = anomaly_detection(df=r0.copy())", [(1, "plugin-only")]),
    ("a subscript", "r1 = anomaly_detection(r0['a'])", [(1, "plugin-only")]),
    ("a loop", "for q in ['a']:\n    sql_pull_data(q)", [(1, "plugin-only")]),
    ("a comprehension", "rs = [sql_pull_data(q) for q in qs]", [(1, "plugin-only")]),
    ("a non-plugin call", "print(sql_pull_data('SELECT 1'))", [(1, "plugin-only")]),
    ("a builtin as a value", "r0 = len", [(1, "plugin-only")]),
    ("a plugin as a value", "r0 = anomaly_detection(sql_pull_data)", [(1, "plugin-only")]),
    ("JSON literals", "r0 = sql_pull_data('SELECT 1', strict=true, limit=null)", [(1, "json-literal"), (1, "json-literal")]),
    ("a name bound later", "r0 = sql_pull_data(later)\nlater = 'SELECT 1'", [(1, "plugin-only")]),
    ("an operator", "r0 = sql_pull_data('SELECT ' + 'x')", [(1, "plugin-only")]),
    ("an f-string", "r0 = sql_pull_data(f'SELECT {x}')", [(1, "plugin-only")]),
    ("*args", "r0 = sql_pull_data(*queries)", [(1, "plugin-only")]),
    ("**name", "r0 = sql_pull_data(**options)", [(1, "plugin-only")]),
    ("** of a dict with a computed key", "r0 = sql_pull_data(**{key: 1})", [(1, "plugin-only")]),
    ("** of a dict with a computed value", "r0 = sql_pull_data(**{'query': q.strip()})", [(1, "plugin-only")]),
    ("a keyword given twice", "r0 = sql_pull_data(query='a', **{'query': 'b'})", [(1, "plugin-only")]),
    ("starred in a list", "r0 = sql_pull_data([*qs])", [(1, "plugin-only")]),
    ("a walrus", "r0 = sql_pull_data((q := 'SELECT 1'))", [(1, "plugin-only")]),
    ("a lambda", "r0 = anomaly_detection(df, key=lambda r: r)", [(1, "plugin-only")]),
    ("rebinding a plugin", "sql_pull_data = anomaly_detection", [(1, "plugin-only"), (1, "plugin-only")]),
    ("binding to an attribute", "x.y = sql_pull_data('SELECT 1')", [(1, "plugin-only")]),
    ("starred target", "a, *b = sql_pull_data('SELECT 1')", [(1, "plugin-only")]),
    ("a dunder name", "r0 = sql_pull_data(__builtins__)", [(1, "plugin-only")]),
    ("an annotated assignment", "n: int = 5", [(1, "plugin-only")]),
    ("augmented assignment", "n = 1\nn += 1", [(2, "plugin-only")]),
    ("a function definition", "def f():\n    return 1", [(1, "plugin-only")]),
    ("a bare literal line", "'just a string'", [(1, "plugin-only")]),
    ("a magic", "%pip install x", [(1, "plugin-only")]),
    ("a shell escape", "!ls", [(1, "plugin-only")]),
    ("a call of a call", "r0 = sql_pull_data('x')('y')", [(1, "plugin-only")]),
    ("get_ipython", "r0 = sql_pull_data(get_ipython)", [(1, "plugin-only")]),
]


@pytest.mark.parametrize(("case", "code"), ACCEPTED, ids=[c[0] for c in ACCEPTED])
def test_taskweavers_plugin_only_shape_is_accepted(case: str, code: str) -> None:
    assert found(code) == []


@pytest.mark.parametrize(("case", "code", "expected"), REFUSED, ids=[c[0] for c in REFUSED])
def test_everything_else_is_refused(case: str, code: str, expected: list[tuple[int, str]]) -> None:
    assert found(code) == expected


def test_refusals_say_what_to_write_instead() -> None:
    (imported,) = verify("import os", VerifyMode.plugin_only, PLUGINS)
    assert "anomaly_detection, klarna_search, sql_pull_data" in imported.message and "r0 = anomaly_detection(arg=1)" in imported.message
    (unpacked,) = verify("r0 = sql_pull_data(**options)", VerifyMode.plugin_only, PLUGINS)
    assert '**{"query": "..."}' in unpacked.message
    (twice,) = verify("r0 = sql_pull_data(query='a', **{'query': 'b'})", VerifyMode.plugin_only, PLUGINS)
    assert "'query' is given twice" in twice.message
    (later,) = verify("r0 = sql_pull_data(q)\nq = 'x'", VerifyMode.plugin_only, PLUGINS)
    assert "used before the statement that binds it" in later.message
    (operator,) = verify("r0 = sql_pull_data('a' + 'b')", VerifyMode.plugin_only, PLUGINS)
    assert "compute anything else inside a plugin" in operator.message
    (json_literal,) = verify("r0 = sql_pull_data(strict=true)", VerifyMode.plugin_only, PLUGINS)
    assert "write True" in json_literal.message
