"""``@weaver.plugin``: schemas from type hints and docstrings, their checks, and how prompts show them."""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

import pytest

import weaver
from weaver.errors import PluginLoadError
from weaver.plugins.decorator import SCHEMA_ATTR, schema_of
from weaver.plugins.schema import Parameter, ReturnValue, parse_docstring

if TYPE_CHECKING:
    import pandas as pd


@weaver.plugin(config=("db_path",), batch="lookup_many")
def lookup(key: str, frame: pd.DataFrame, limit: int | None = 10, fuzzy: bool = False) -> tuple[pd.DataFrame, str]:
    """Rows whose key matches.

    Longer explanation on a second line.

    Args:
        key: the key to look up.
        frame (pd.DataFrame): where to look; it is
            not changed.
        limit: the most rows.
        fuzzy: match by prefix.

    Returns:
        rows (pd.DataFrame): the matching rows.
        note (str): what was matched.

    Examples:
        >>> lookup("a", frame)[1]
        'matched a'

    Config:
        db_path: where the database is.
    """
    return frame, f"matched {key}"


def test_schema_from_type_hints_and_docstring() -> None:
    schema = getattr(lookup, SCHEMA_ATTR)
    assert schema.name == "lookup"
    assert schema.description == "Rows whose key matches.\n\nLonger explanation on a second line."
    assert schema.parameters == (
        Parameter("key", "str", True, "the key to look up."),
        Parameter("frame", "pd.DataFrame", True, "where to look; it is not changed."),
        Parameter("limit", "int | None", False, "the most rows.", "10"),
        Parameter("fuzzy", "bool", False, "match by prefix.", "False"),
    )
    assert schema.returns == (
        ReturnValue("rows", "pd.DataFrame", "the matching rows."),
        ReturnValue("note", "str", "what was matched."),
    )
    assert schema.examples == (">>> lookup(\"a\", frame)[1]\n'matched a'",)
    assert schema.config_keys == ("db_path",)
    assert schema.batch == "lookup_many"
    # the function itself is unchanged and still callable
    assert lookup("k", "frame") == ("frame", "matched k")  # type: ignore[arg-type]


def test_render_is_a_typed_signature_with_docs() -> None:
    assert (
        getattr(lookup, SCHEMA_ATTR).render()
        == '''\
def lookup(key: str, frame: pd.DataFrame, limit: int | None = 10, fuzzy: bool = False) -> tuple[pd.DataFrame, str]:
    """Rows whose key matches.

    Longer explanation on a second line.

    Args:
        key (str, required): the key to look up.
        frame (pd.DataFrame, required): where to look; it is not changed.
        limit (int | None, optional, default 10): the most rows.
        fuzzy (bool, optional, default False): match by prefix.

    Returns:
        rows (pd.DataFrame): the matching rows.
        note (str): what was matched.

    Batch form: lookup_many(...) handles many inputs in one call; prefer it in loops.

    Examples:
        >>> lookup("a", frame)[1]
        'matched a'
    """'''
    )


def test_taskweaver_style_rest_docstrings_are_read() -> None:
    doc = parse_docstring(
        """Flag anomalies.

        :param df: the input data, must be a dataframe
        :param value_col_name: name of the column that contains
            the numeric values.
        :return df: a new df with an Is_Anomaly column.
        """
    )
    assert doc.description == "Flag anomalies."
    assert doc.params == {
        "df": "the input data, must be a dataframe",
        "value_col_name": "name of the column that contains the numeric values.",
    }
    assert doc.returns == (ReturnValue("df", "", "a new df with an Is_Anomaly column."),)


def test_evaluated_annotations_are_rendered_readably() -> None:
    import pandas

    def frame_sum(df: pandas.DataFrame, columns: list[str], scale: float = 1.0) -> float:
        """Sum columns."""
        return 0.0

    schema = schema_of(frame_sum)
    assert [p.type for p in schema.parameters] == ["pandas.DataFrame", "list[str]", "float"]
    assert schema.return_type == "float"


def test_a_callable_class_is_described_by_its_call() -> None:
    class Counter:
        """Counts words."""

        def __init__(self, ctx: Any) -> None:
            self.ctx = ctx

        def __call__(self, text: str) -> int:
            return len(text.split())

    schema = schema_of(Counter, name="count_words")
    assert schema.signature() == "count_words(text: str) -> int"
    assert schema.description == "Counts words."


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("def f(x) -> int:\n    'Doc.'\n    return 1", "parameter 'x' has no type annotation"),
        ("def f(*rows: int) -> int:\n    'Doc.'\n    return 1", "*rows and **rows cannot be described"),
        ("def f(x: int):\n    'Doc.'\n    return 1", "the return value has no type annotation"),
        ("def f(x: int) -> int:\n    return 1", "it has no description"),
        (
            "def f(x: int) -> int:\n    '''Doc.\n\n    Args:\n        y: gone.\n    '''\n    return 1",
            "documents y, which the function does not take",
        ),
        ("def f(x: int, /) -> int:\n    'Doc.'\n    return 1", "positional-only"),
    ],
)
def test_malformed_plugins_fail_at_load_with_name_and_place(tmp_path: Any, source: str, problem: str) -> None:
    path = tmp_path / "bad_plugin.py"
    path.write_text("from __future__ import annotations\n" + source + "\n")
    spec = importlib.util.spec_from_file_location("bad_plugin", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(PluginLoadError) as caught:
        weaver.plugin(module.f)
    assert problem in caught.value.message
    assert caught.value.name == "f"
    assert caught.value.source == f"{path}:2"
    assert str(caught.value).startswith(f"plugin 'f' ({path}:2): ")
