"""Host plugins' values across the kernel boundary (:mod:`weaver.plugins.wire`): JSON text
both ways, DataFrames by column with their dtypes, nothing pickled, the unsendable refused;
and the three ways a plugin is declared to run on the host."""

from __future__ import annotations

import datetime
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from weaver.plugins import wire
from weaver.plugins.loader import load_plugins


def test_json_values_and_tagged_types_come_back_as_they_left() -> None:
    value = {
        "n": 3,
        "x": 1.5,
        "nan": math.nan,
        "text": "é\u2028\x00",
        "none": None,
        "items": [True, (1, "a"), b"\x00\xff"],
        "when": datetime.datetime(2024, 1, 31, 12, 30),
        "day": datetime.date(2024, 2, 29),
        "keys": {1: "one", (2, 3): "pair"},
        "__weaver__": "a key of the user's own",
    }
    back = wire.decode(wire.encode(value))
    assert math.isnan(back.pop("nan"))
    value.pop("nan")
    assert back == value
    assert json.loads(wire.encode(value))  # plain JSON text


def test_a_dataframe_crosses_by_column_with_its_dtypes() -> None:
    frame = pd.DataFrame(
        {
            "id": pd.array([1, 2, 3], dtype="int64"),
            "price": [1.5, None, 3.0],
            "name": ["a", None, "c"],
            "when": pd.to_datetime(["2024-01-01", None, "2024-03-01"]),
            "ok": [True, False, True],
            "wait": pd.to_timedelta(["1s", "2h", None]),
        },
        index=pd.Index(["x", "y", "z"], name=None),
    )
    encoded = json.loads(wire.encode(frame))
    assert encoded["__weaver__"] == "dataframe" and encoded["columns"] == ["id", "price", "name", "when", "ok", "wait"]
    assert encoded["data"][0] == [1, 2, 3] and encoded["data"][3][1] is None
    back = wire.decode(wire.encode(frame))
    pd.testing.assert_frame_equal(back, frame, check_index_type=False)
    series = pd.Series([1.0, 2.5], name="s")
    pd.testing.assert_series_equal(wire.decode(wire.encode(series)), series)
    assert wire.decode(wire.encode(np.arange(3))) == [0, 1, 2]
    assert wire.decode(wire.encode(pd.DataFrame())).empty


@pytest.mark.parametrize("value", [object(), {1, 2}, lambda: 1, pd.Timestamp])
def test_what_is_not_data_is_refused_by_name(value: Any) -> None:
    with pytest.raises(TypeError, match="cannot cross between the kernel and the host"):
        wire.encode({"v": [value]})


def test_nesting_that_never_ends_is_refused() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(TypeError, match="nested more than"):
        wire.encode(loop)


PLUGIN = '''
import weaver

@weaver.plugin(host=True)
def on_host(x: int) -> int:
    """Runs on the host."""
    return x

@weaver.plugin
def in_kernel(x: int) -> int:
    """Runs in the kernel unless [plugins] host names it."""
    return x
'''
YAML = """name: tw_host
description: A TaskWeaver plugin that asks to run on the host.
host: {host}
parameters:
  - name: x
    type: int
    required: true
returns:
  - name: y
    type: int
"""
PY = """from taskweaver.plugin import Plugin, register_plugin

@register_plugin
class TwHost(Plugin):
    def __call__(self, x: int):
        return x
"""


@pytest.mark.parametrize("host_key", ["true", "'yes'"])
def test_host_is_declared_by_decorator_yaml_or_config(tmp_path: Path, weaver_pm: Any, host_key: str) -> None:
    from weaver.config import build_config, read_layers
    from weaver.extensions import build_registry

    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "both.py").write_text(PLUGIN)
    (plugins / "tw_host.yaml").write_text(YAML.format(host=host_key))
    (plugins / "tw_host.py").write_text(PY)
    layers = read_layers(tmp_path, {"plugins": {"host": ["in_kernel"]}}, {})
    config = build_config(tmp_path, layers, build_registry(weaver_pm).config_tables)
    found = load_plugins(weaver_pm, config)
    placed = {p.name: p.spec.host for p in found.plugins}
    assert placed["on_host"] is True and placed["in_kernel"] is True
    if host_key == "true":
        assert placed["tw_host"] is True
        assert found.get("tw_host").spec.kernel_view["signature"] == "tw_host(x: int) -> int"
    else:
        status = next(s for s in found.statuses if s.name == "tw_host")
        assert status.state.value == "failed" and "'host' must be true or false" in status.detail
