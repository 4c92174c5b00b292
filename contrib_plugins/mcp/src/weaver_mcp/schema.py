"""An MCP tool as a Weaver plugin schema: a typed Python signature from its JSON Schemas.

``inputSchema`` gives the parameters (required ones first, as Python wants; types from the
JSON Schema types, ``enum`` as ``Literal[...]``, ``anyOf`` as a union, defaults shown), its
properties' ``description`` the parameter texts, the tool's ``description`` the docstring,
and ``outputSchema`` the return type. A tool without an output schema returns its text.
Names that are not Python identifiers (``search-issues``, a parameter ``from``) get one
(``search_issues``, ``from_``); the source maps them back when it calls the tool.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Mapping
from typing import Any

from weaver.plugins.schema import Parameter, PluginSchema, ReturnValue
from weaver.plugins.sources import SourceTool

_SCALARS = {"string": "str", "integer": "int", "number": "float", "boolean": "bool", "null": "None"}
WRAPPED = "result"
"""The one property of an output schema that wraps a value that is not an object (what the
MCP SDK's servers do for a tool returning a list or a number)."""


def identifier(name: str) -> str:
    """``name`` as a Python identifier: other characters become ``_``, a keyword gets one after it."""
    text = re.sub(r"\W", "_", name) or "_"
    if text[0].isdigit():
        text = f"_{text}"
    return f"{text}_" if keyword.iskeyword(text) else text


def type_text(schema: Any) -> str:
    """A JSON Schema as the Python type a model reads."""
    if not isinstance(schema, Mapping):
        return "object"
    if "enum" in schema and isinstance(schema["enum"], list):
        return f"Literal[{', '.join(repr(v) for v in schema['enum'])}]"
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list):
            return " | ".join(dict.fromkeys(type_text(part) for part in schema[key]))
    kind = schema.get("type")
    if isinstance(kind, list):
        return " | ".join(dict.fromkeys(type_text({**schema, "type": k}) for k in kind))
    if kind in _SCALARS:
        return _SCALARS[kind]
    if kind == "array":
        return f"list[{type_text(schema['items'])}]" if "items" in schema else "list"
    if kind == "object" or "properties" in schema:
        extra = schema.get("additionalProperties")
        return f"dict[str, {type_text(extra)}]" if isinstance(extra, Mapping) and extra else "dict"
    return "object"


def unwraps(output: Any) -> bool:
    """Whether a tool's structured result is a value wrapped in ``{"result": ...}``."""
    properties = output.get("properties") if isinstance(output, Mapping) else None
    return isinstance(properties, Mapping) and list(properties) == [WRAPPED] and output.get("required", [WRAPPED]) == [WRAPPED]


def tool_of(name: str, description: str | None, input_schema: Any, output_schema: Any, cost: float = 0.0) -> SourceTool:
    """The :class:`~weaver.plugins.sources.SourceTool` for one MCP tool."""
    properties = input_schema.get("properties", {}) if isinstance(input_schema, Mapping) else {}
    required = set(input_schema.get("required", ())) if isinstance(input_schema, Mapping) else set()
    parameters, renamed = [], {}
    for remote, spec in sorted(properties.items(), key=lambda item: item[0] not in required):
        python = identifier(remote)
        if python != remote:
            renamed[python] = remote
        spec = spec if isinstance(spec, Mapping) else {}
        needed = remote in required
        default = None if needed else repr(spec.get("default"))
        text = " ".join(str(spec.get("description") or spec.get("title") or "").split())
        parameters.append(Parameter(python, type_text(spec), needed, text, default))
    if output_schema is None:
        returns = ReturnValue(WRAPPED, "str", "the tool's text")
    elif unwraps(output_schema):
        inner = output_schema["properties"][WRAPPED]
        returns = ReturnValue(WRAPPED, type_text(inner), str(inner.get("description", "")) if isinstance(inner, Mapping) else "")
    else:
        returns = ReturnValue(WRAPPED, type_text(output_schema), str(output_schema.get("description", "")))
    schema = PluginSchema(
        name=identifier(name),
        description=(description or "").strip() or f"The MCP tool {name}.",
        parameters=tuple(parameters),
        returns=(returns,),
        host=True,
    )
    return SourceTool(schema, remote_name=name, arguments=renamed, cost=cost)
