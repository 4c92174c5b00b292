"""The variable inventory: what the user's namespace holds, described in a line each.

Roles put it in prompts instead of replaying old outputs, so it must stay short and never
run anything expensive: shapes and lengths come from attributes, previews from a bounded repr.
"""

from __future__ import annotations

import reprlib
import types
from collections.abc import Collection, Mapping
from typing import Any

MAX_VARIABLES = 100
PREVIEW_CHARS = 120

_repr = reprlib.Repr()
_repr.maxstring = 60
_repr.maxother = PREVIEW_CHARS
_repr.maxlist = _repr.maxtuple = _repr.maxset = _repr.maxdict = 6


def describe(name: str, value: Any) -> dict[str, str]:
    """``{"name", "type", "shape_or_len", "preview"}`` for one variable."""
    return {
        "name": name,
        "type": type(value).__name__,
        "shape_or_len": _shape_or_len(value),
        "preview": _preview(value),
    }


def inventory(namespace: Mapping[str, Any], hidden: Collection[str]) -> list[dict[str, str]]:
    """Public, non-module variables of ``namespace`` not in ``hidden``, in definition order."""
    found = []
    for name, value in list(namespace.items()):
        if name.startswith("_") or name in hidden or isinstance(value, types.ModuleType):
            continue
        found.append(describe(name, value))
        if len(found) == MAX_VARIABLES:
            break
    return found


def _shape_or_len(value: Any) -> str:
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple) and not isinstance(value, type):
        return "x".join(str(n) for n in shape) or "scalar"
    if isinstance(value, (str, bytes, Collection)) and not isinstance(value, type):
        try:
            return str(len(value))
        except Exception:  # noqa: BLE001 - a broken __len__ must not break the inventory
            return ""
    return ""


def _preview(value: Any) -> str:
    try:
        columns = getattr(value, "columns", None)
        dtypes = getattr(value, "dtypes", None)
        if columns is not None and dtypes is not None and not isinstance(value, type):
            text = "columns: " + ", ".join(f"{c} ({t})" for c, t in zip(list(columns)[:20], list(dtypes)[:20]))
        elif hasattr(value, "dtype") and hasattr(value, "shape") and not isinstance(value, type):
            text = f"dtype {value.dtype}: {_repr.repr(value)}"
        elif callable(value) and hasattr(value, "__name__"):
            text = f"{value.__name__}{_signature(value)}"
        else:
            text = _repr.repr(value)
    except Exception as exc:  # noqa: BLE001 - a broken __repr__ must not break the inventory
        text = f"<repr failed: {type(exc).__name__}>"
    text = " ".join(text.split())
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 3] + "..."


def _signature(value: Any) -> str:
    import inspect

    try:
        return str(inspect.signature(value))
    except (TypeError, ValueError):
        return "(...)"
