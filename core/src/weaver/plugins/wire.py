"""How a host plugin's arguments and results cross between the kernel and the host: JSON, never pickle.

Both sides use :func:`encode` and :func:`decode`; what comes out is plain JSON text. JSON
values (``None``, ``bool``, ``int``, ``float`` with NaN and infinities, ``str``, lists and
dicts with string keys) travel as themselves. Everything else is a tagged object
``{"__weaver__": <tag>, ...}``:

============  =================================================================================
tag           encoding
============  =================================================================================
dataframe     a ``pandas.DataFrame``, by column: ``{"columns": [names], "dtypes": [dtype names],
              "data": [[column 0 values], [column 1 values], ...], "index": [labels] | null}``
              (``index`` null for a default ``RangeIndex``). Datetimes are ISO 8601 text,
              missing values ``null``; each column gets its dtype back when decoded.
series        a ``pandas.Series``: ``{"name", "dtype", "data": [values], "index": [labels] | null}``
tuple         ``{"items": [...]}``
bytes         ``{"base64": "..."}``
datetime      ``{"iso": "2024-01-31T12:00:00"}`` (``datetime.datetime``), likewise ``date``
dict          ``{"items": [[key, value], ...]}``: a dict whose keys are not all strings, or that
              has a key ``"__weaver__"`` of its own
============  =================================================================================

numpy scalars and arrays become Python numbers and lists. Any other type is refused with a
:class:`TypeError` that names it: a plugin's values must be data, since nothing is ever
unpickled on either side.

Only the standard library is imported at module level: the kernel imports this module
before any code runs, pandas only when a DataFrame crosses.
"""

from __future__ import annotations

import base64
import datetime
import json
import sys
from typing import Any

TAG = "__weaver__"
MAX_DEPTH = 64
"""Nesting deeper than this is refused rather than followed (a list that contains itself)."""


def encode(value: Any) -> str:
    """``value`` as JSON text, tagged where JSON has no such type; :class:`TypeError` if it has none."""
    return json.dumps(to_json(value), ensure_ascii=False, separators=(",", ":"))


def decode(text: str) -> Any:
    """The value :func:`encode` wrote."""
    return from_json(json.loads(text))


def to_json(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON-safe data (see the module docstring)."""
    if depth > MAX_DEPTH:
        raise TypeError(f"the value is nested more than {MAX_DEPTH} levels deep")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [to_json(item, depth + 1) for item in value]
    if isinstance(value, dict):
        if all(isinstance(key, str) for key in value) and TAG not in value:
            return {key: to_json(item, depth + 1) for key, item in value.items()}
        return {TAG: "dict", "items": [[to_json(k, depth + 1), to_json(v, depth + 1)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {TAG: "tuple", "items": [to_json(item, depth + 1) for item in value]}
    if isinstance(value, (bytes, bytearray)):
        return {TAG: "bytes", "base64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, datetime.datetime):
        return {TAG: "datetime", "iso": value.isoformat()}
    if isinstance(value, datetime.date):
        return {TAG: "date", "iso": value.isoformat()}
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(value, pandas.DataFrame):
        return _frame(value, pandas)
    if pandas is not None and isinstance(value, pandas.Series):
        return {
            TAG: "series",
            "name": to_json(value.name, depth + 1),
            "dtype": str(value.dtype),
            "data": _column(value),
            "index": _index(value.index, pandas),
        }
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(value, (numpy.generic, numpy.ndarray)):
        return to_json(value.tolist(), depth + 1)
    raise TypeError(
        f"a {type(value).__module__}.{type(value).__qualname__} cannot cross between the kernel and the host: "
        "use JSON values (numbers, text, lists, dicts), tuples, bytes, dates, or a pandas DataFrame or Series"
    )


def _frame(frame: Any, pandas: Any) -> dict[str, Any]:
    names = [to_json(name) for name in frame.columns]
    return {
        TAG: "dataframe",
        "columns": names,
        "dtypes": [str(dtype) for dtype in frame.dtypes],
        "data": [_column(frame.iloc[:, position]) for position in range(frame.shape[1])],
        "index": _index(frame.index, pandas),
    }


def _column(series: Any) -> list[Any]:
    if series.dtype.kind in "mM":  # datetimes and timedeltas: ISO text, NaT as null
        missing = series.isna().tolist()
        return [None if gone else item.isoformat() for item, gone in zip(series.astype(object), missing)]
    values = series.astype(object).where(series.notna(), None).tolist()
    return [to_json(item) for item in values]


def _index(index: Any, pandas: Any) -> list[Any] | None:
    if isinstance(index, pandas.RangeIndex) and index.start == 0 and index.step == 1:
        return None
    return [to_json(label.isoformat() if hasattr(label, "isoformat") else label) for label in index.tolist()]


def from_json(data: Any) -> Any:
    """The value :func:`to_json` described."""
    if isinstance(data, list):
        return [from_json(item) for item in data]
    if not isinstance(data, dict):
        return data
    tag = data.get(TAG)
    if tag is None:
        return {key: from_json(item) for key, item in data.items()}
    if tag == "dict":
        return {_hashable(from_json(k)): from_json(v) for k, v in data["items"]}
    if tag == "tuple":
        return tuple(from_json(item) for item in data["items"])
    if tag == "bytes":
        return base64.b64decode(data["base64"])
    if tag == "datetime":
        return datetime.datetime.fromisoformat(data["iso"])
    if tag == "date":
        return datetime.date.fromisoformat(data["iso"])
    if tag in ("dataframe", "series"):
        import pandas

        if tag == "series":
            series = pandas.Series(data["data"], name=from_json(data["name"]), dtype=object)
            series = _typed(series, data["dtype"], pandas)
            if data["index"] is not None:
                series.index = pandas.Index(data["index"])
            return series
        columns = [_hashable(from_json(name)) for name in data["columns"]]
        frame = pandas.DataFrame(
            {position: _typed(pandas.Series(values, dtype=object), dtype, pandas) for position, (values, dtype) in enumerate(zip(data["data"], data["dtypes"]))}
        )
        frame.columns = pandas.Index(columns) if columns else pandas.RangeIndex(0)
        if data["index"] is not None:
            frame.index = pandas.Index(data["index"])
        return frame
    raise TypeError(f"unknown tagged value {tag!r}")


def _typed(series: Any, dtype: str, pandas: Any) -> Any:
    """A column of decoded values with its dtype back (as near as the values allow)."""
    try:
        if dtype.startswith("datetime64"):
            return pandas.to_datetime(series).astype(dtype)
        if dtype.startswith("timedelta64"):
            return pandas.to_timedelta(series).astype(dtype)
        return series.astype(dtype)
    except (TypeError, ValueError):
        return series.infer_objects()


def _hashable(value: Any) -> Any:
    return tuple(_hashable(item) for item in value) if isinstance(value, list) else value
