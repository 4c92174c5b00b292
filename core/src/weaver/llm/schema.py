"""Checking a reply against its JSON Schema, with messages a model can act on.

A deliberately small validator for the keywords reply schemas use (``type``, ``enum``,
``const``, ``required``, ``properties``, ``additionalProperties: false``, ``items``,
``minItems``, ``minLength``); other keywords are ignored. Every problem is reported with
the path of the offending value, so one retry can fix them all.

One keyword of Weaver's own, :data:`IGNORED`, lists top-level fields a reply may carry
that are dropped before the check: fields a model echoes from the examples it was shown
(TaskWeaver's CodeInterpreter repeats ``execution_status``, ``send_to``, ...). It never
reaches a provider: :func:`wire_schema` removes it, since strict structured outputs accept
only standard keywords, and a schema-constrained model cannot write those fields anyway.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


IGNORED = "x-ignored-properties"


def wire_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """``schema`` as sent to a provider or shown to a model: without Weaver's own keyword."""
    return {key: value for key, value in schema.items() if key != IGNORED}


def without_ignored(value: Any, schema: Mapping[str, Any]) -> Any:
    """``value`` without the top-level fields ``schema`` marks as ignored."""
    ignored = schema.get(IGNORED)
    if not ignored or not isinstance(value, dict):
        return value
    return {key: item for key, item in value.items() if key not in ignored}


def _is(value: Any, name: str) -> bool:
    if isinstance(value, bool) and name in ("integer", "number"):
        return False
    return isinstance(value, _TYPES.get(name, (object,)))


def schema_problems(value: Any, schema: Mapping[str, Any], path: str = "") -> list[str]:
    """Every way ``value`` breaks ``schema``, each naming the offending field's path (``plan[2]``)."""
    where = f'field "{path}"' if path else "the reply"
    problems: list[str] = []
    wanted = schema.get("type")
    if wanted is not None:
        names = [wanted] if isinstance(wanted, str) else list(wanted)
        if not any(_is(value, name) for name in names):
            return [f"{where} must be of type {' or '.join(names)}, got {_describe(value)}"]
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{where} must be one of {json.dumps(schema['enum'])}, got {json.dumps(value)}")
    if "const" in schema and value != schema["const"]:
        problems.append(f"{where} must be {json.dumps(schema['const'])}, got {json.dumps(value)}")
    if isinstance(value, str) and len(value) < schema.get("minLength", 0):
        problems.append(f"{where} must not be empty" if schema["minLength"] == 1 else f"{where} is too short")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        missing = [key for key in schema.get("required", ()) if key not in value]
        if missing:
            problems.append(f"{where} is missing required field(s) {', '.join(map(json.dumps, missing))}")
        if schema.get("additionalProperties") is False:
            extra = [key for key in value if key not in properties]
            if extra:
                problems.append(
                    f"{where} has unexpected field(s) {', '.join(map(json.dumps, extra))}; "
                    f"allowed: {', '.join(map(json.dumps, properties))}"
                )
        for key, sub in properties.items():
            if key in value:
                problems += schema_problems(value[key], sub, f"{path}.{key}" if path else key)
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            problems.append(f"{where} needs at least {schema['minItems']} item(s)")
        if isinstance(schema.get("items"), Mapping):
            for index, item in enumerate(value):
                problems += schema_problems(item, schema["items"], f"{path}[{index}]")
    return problems


def _describe(value: Any) -> str:
    text = json.dumps(value)
    kind = next((name for name in _TYPES if _is(value, name)), type(value).__name__)
    return f"{kind} {text if len(text) <= 40 else text[:37] + '...'}"
