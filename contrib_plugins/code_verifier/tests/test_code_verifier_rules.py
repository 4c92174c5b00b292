"""The verifier's rules in detail: line numbers, advice, aliases, config, plugin-only mode, crashes."""

from __future__ import annotations

from typing import Any

import attrs
import pluggy
import pytest

import weaver_code_verifier
from weaver.context import HookContext
from weaver.execution.pipeline import verify_code
from weaver.extensions import Hooks
from weaver.specs import PluginSpec, VerifyMode
from weaver_code_verifier import CodeVerifierConfig, verify

PLUGINS = ("sql_pull_data", "anomaly_detection")


def context(app: Any, plugins: tuple[str, ...] = ()) -> HookContext:
    ctx = app.session().hook_context("CodeInterpreter")
    return attrs.evolve(ctx, plugins={name: PluginSpec(name, f"plugins:{name}") for name in plugins})


def rules(code: str, **kwargs: Any) -> list[tuple[int, str]]:
    return [(v.line, v.rule) for v in verify(code, **kwargs)]


def test_hook_weaver_verify_code(weaver_pm: pluggy.PluginManager, register_plugin: Any, make_app: Any) -> None:
    register_plugin(weaver_code_verifier)
    hooks = Hooks(weaver_pm)
    app = make_app(session={"roles": []})
    found = hooks.verify_code("import pandas as pd\nimport os\nx = eval('1')\n", VerifyMode.normal, context(app))
    assert [(v.line, v.rule) for v in found] == [(2, "import-not-allowed"), (3, "blocked-builtin")]
    assert hooks.verify_code("import pandas as pd\npd.DataFrame()\n", VerifyMode.normal, context(app)) == []
    only = hooks.verify_code("df = sql_pull_data('SELECT 1')\n", VerifyMode.plugin_only, context(app, PLUGINS))
    assert only == []


def test_every_alias_of_a_multi_import_is_checked() -> None:
    assert rules("import numpy as np, pandas as pd, shutil") == [(1, "import-not-allowed")]
    assert "'shutil'" in verify("import numpy as np, pandas as pd, shutil")[0].message
    assert rules("from pandas import DataFrame, Series") == []
    assert rules("import matplotlib.pyplot as plt") == []
    assert rules("import pandasx") == [(1, "import-not-allowed")]


def test_messages_say_what_to_do_instead() -> None:
    (opened,) = verify("\n\nf = open('x.csv')")
    assert opened.line == 3 and "pd.read_csv" in opened.message
    (dynamic,) = verify("getattr(df, column)")
    assert 'getattr(obj, "name")' in dynamic.message
    (column,) = verify("df.os.value_counts()")
    assert "df['os']" in column.message


def test_shadowed_builtins_and_literal_getattr_are_fine() -> None:
    assert rules("input = df['x']\ninput.mean()") == []
    assert rules("getattr(df, 'mean')()") == []
    assert rules("class A(Base):\n    def __init__(self):\n        super().__init__()") == []
    assert rules("x.__init__()") == [(1, "dunder-attribute")]


def test_config_extends_imports_and_allows_pip_installs() -> None:
    config = CodeVerifierConfig(extra_allowed_imports=("sqlite3",), allowed_magics=("pip install",))
    assert rules("import sqlite3", config=config) == []
    assert rules("import sqlite3") == [(1, "import-not-allowed")]
    assert rules("%pip install scikit-learn==1.5.0 'tabulate>=0.9'", config=config) == [(1, "magic-not-allowed")]
    assert rules("%pip install scikit-learn==1.5.0 tabulate>=0.9", config=config) == []
    assert rules("%pip install -r requirements.txt", config=config) == [(1, "magic-not-allowed")]
    assert rules("%pip install pandas") == [(1, "magic-not-allowed")]
    assert rules("%matplotlib inline") == []


def test_config_table_reaches_the_hook(make_app: Any, register_plugin: Any) -> None:
    register_plugin(weaver_code_verifier)
    app = make_app(session={"roles": []}, code_verifier={"extra_allowed_imports": ["sqlite3"]})
    assert app.hooks.verify_code("import sqlite3", VerifyMode.normal, context(app)) == []
    app = make_app(session={"roles": []}, code_verifier={"enabled": False})
    assert app.hooks.verify_code("import os", VerifyMode.normal, context(app)) == []


def test_plugin_only_accepts_plugin_calls_with_python_literals() -> None:
    code = (
        "df = sql_pull_data('SELECT * FROM t', params=[1, -2.5, None], limit=None)\n"
        "flagged = anomaly_detection(df, 'amount', threshold=3.0, flag_column='odd')\n"
        "summary = anomaly_detection(flagged, column='amount', method='iqr', threshold=None)\n"
        "anomaly_detection(df, 'x', {'strict': True, 'keep': False})\n"
        "flagged\n"
    )
    assert rules(code, mode=VerifyMode.plugin_only, plugins=PLUGINS) == []


def test_plugin_only_accepts_a_plugin_source_tool_by_its_dotted_name() -> None:
    plugins = (*PLUGINS, "github.search_issues")
    code = "issues = github.search_issues(query='crash', limit=5)\nissues\n"
    assert rules(code, mode=VerifyMode.plugin_only, plugins=plugins) == []
    refused = verify("x = github.delete_repo('weaver')", VerifyMode.plugin_only, plugins)
    assert [v.rule for v in refused] == ["plugin-only"] and "github.delete_repo(...) is not an enabled plugin" in refused[0].message


def test_plugin_only_rejects_json_literals_with_the_python_spelling() -> None:
    found = verify("df = sql_pull_data('SELECT 1', limit=null, strict=true)", VerifyMode.plugin_only, PLUGINS)
    assert [v.rule for v in found] == ["json-literal", "json-literal"]
    assert "write None" in found[0].message and "write True" in found[1].message


@pytest.mark.parametrize(
    "code",
    [
        "import pandas as pd",
        "x = 1 + 1",
        "print(sql_pull_data('SELECT 1'))",
        "df = sql_pull_data('SELECT 1')\ndf.to_csv('x.csv')",
        "df = sql_pull_data(query='SELECT ' + 'x')",
        "for q in ['a']:\n    sql_pull_data(q)",
        "df = eval('1')",
        "df = sql_pull_data(later)\nlater = sql_pull_data('SELECT 1')",
        "df = sql_pull_data(**query)",
    ],
)
def test_plugin_only_rejects_anything_but_plugin_calls(code: str) -> None:
    found = verify(code, VerifyMode.plugin_only, PLUGINS)
    assert found and all(v.rule == "plugin-only" for v in found), found


def test_text_that_does_not_parse_is_blocked() -> None:
    (found,) = verify("x = (1,\ny = 2")
    assert found.rule == "syntax-error"


@pytest.mark.parametrize(
    "deep",
    [
        "x = " + "-" * 5000 + "1",  # deeper than Python's parser goes
        "x = " + "-" * 1000 + "1",  # parses, deeper than a recursive walk goes
        "x = 1" + " + 1" * 1000,  # a long chain of operators nests as deeply
    ],
)
def test_code_nested_too_deeply_is_refused_with_advice(deep: str) -> None:
    (found,) = verify(deep)
    assert found.rule == "too-deep" and "split it into several statements" in found.message
    (only,) = verify(deep, VerifyMode.plugin_only, PLUGINS)
    assert only.rule == "too-deep"


def test_a_verifier_crash_blocks_the_code(weaver_pm: pluggy.PluginManager, register_plugin: Any, make_app: Any) -> None:
    # A table of the wrong type really crashes the rules (they iterate it).
    register_plugin(weaver_code_verifier)
    ctx = context(make_app(session={"roles": []}))
    broken = CodeVerifierConfig(blocked_builtins=None)  # type: ignore[arg-type]
    ctx = attrs.evolve(ctx, config=attrs.evolve(ctx.config, tables={**ctx.config.tables, "code_verifier": broken}))
    (found,) = Hooks(weaver_pm).verify_code("x = 1", VerifyMode.normal, ctx)
    assert found.rule == "verifier-error" and "blocked" in found.message


def test_the_pipeline_blocks_when_a_verifier_raises(
    weaver_pm: pluggy.PluginManager, register_plugin: Any, make_app: Any
) -> None:
    @attrs.frozen
    class Broken:
        @weaver_code_verifier.hookimpl
        def weaver_verify_code(self, code: str, mode: VerifyMode, plugins: Any) -> list[Any]:
            raise RuntimeError("rule table corrupt")

    register_plugin(weaver_code_verifier)
    register_plugin(Broken())
    ctx = context(make_app(session={"roles": []}))
    (found,) = verify_code(Hooks(weaver_pm), "import pandas", VerifyMode.normal, ctx)
    assert found.rule == "verifier-error" and "rule table corrupt" in found.message


def test_no_verifier_installed_blocks_all_code(weaver_pm: pluggy.PluginManager, make_app: Any) -> None:
    ctx = context(make_app(session={"roles": []}))
    (found,) = verify_code(Hooks(weaver_pm), "1 + 1", VerifyMode.normal, ctx)
    assert found.rule == "no-verifier"
