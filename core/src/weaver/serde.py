"""The one cattrs converter, built in one place with all its hooks.

Use :func:`to_json` / :func:`from_json` for text and :data:`converter` for plain
structures; never cattrs' global converter.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from cattrs.preconf.json import JsonConverter
from cattrs.preconf.json import make_converter as _make_json_converter

T = TypeVar("T")


def make_converter() -> JsonConverter:
    """Build Weaver's converter.

    Unknown keys are ignored when reading, so a newer writer's extra fields never break an
    older reader; configuration validation uses its own strict converter
    (:mod:`weaver.config`).
    """
    return _make_json_converter(forbid_extra_keys=False)


converter = make_converter()


def to_data(obj: Any) -> Any:
    """``obj`` as JSON-compatible Python values (dicts, lists, strings, numbers)."""
    return converter.unstructure(obj)


def from_data(data: Any, cls: type[T]) -> T:
    """Rebuild a ``cls`` from JSON-compatible values."""
    return converter.structure(data, cls)


def to_json(obj: Any) -> str:
    """``obj`` as one line of JSON."""
    return json.dumps(to_data(obj), ensure_ascii=False, separators=(",", ":"))


def from_json(text: str | bytes, cls: type[T]) -> T:
    """Rebuild a ``cls`` from JSON text."""
    return from_data(json.loads(text), cls)
