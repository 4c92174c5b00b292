"""A plugin's schema, and how the CodeInterpreter's prompt shows it.

A schema is what the model needs to call a plugin correctly: parameters with their real
types and whether they are required, what it returns, examples, the batch form if there is
one, and the names (never the values) of its config keys. :meth:`PluginSchema.render`
shows it as a typed Python signature with a docstring, the form models write calls
against best.
"""

from __future__ import annotations

import re
import textwrap
from typing import Any

import attrs

_SECTION = re.compile(
    r"^(Args|Arguments|Parameters|Params|Returns|Return|Yields|Examples|Example|Config|Configuration):\s*$"
)
_ENTRY = re.compile(r"^(\*{0,2}\w+)\s*(?:\(([^)]*)\))?\s*:\s*(.*)$")
_REST_FIELD = re.compile(r"^:(param|parameter|arg|type|return|returns|rtype)\s*([^:]*):\s*(.*)$")


@attrs.frozen
class Parameter:
    """One parameter: ``type`` is the annotation as source text; ``default`` is the default's
    source text, or ``None`` when the parameter is required."""

    name: str
    type: str
    required: bool = True
    description: str = ""
    default: str | None = None


@attrs.frozen
class ReturnValue:
    """One returned value (a plugin that returns a tuple documents each part)."""

    name: str
    type: str
    description: str = ""


@attrs.frozen
class PluginSchema:
    """Everything the model is told about one plugin."""

    name: str
    description: str
    parameters: tuple[Parameter, ...] = ()
    returns: tuple[ReturnValue, ...] = ()
    examples: tuple[str, ...] = ()
    """Example code; lines starting with ``>>>`` are doctests that ``weaver plugins test`` runs."""
    config_keys: tuple[str, ...] = ()
    """Keys the plugin reads from its config; shown by name only, never by value."""
    batch: str | None = None
    """The name of a variant that takes many inputs in one call, if the plugin has one."""
    host: bool = False
    """The plugin runs on the host; the kernel has a stub that calls it (``@weaver.plugin(host=True)``)."""

    @property
    def return_type(self) -> str:
        if not self.returns:
            return "None"
        if len(self.returns) == 1:
            return self.returns[0].type
        return f"tuple[{', '.join(r.type for r in self.returns)}]"

    def signature(self) -> str:
        """``name(a: int, b: str = 'x') -> pandas.DataFrame``"""
        params = []
        for p in self.parameters:
            params.append(f"{p.name}: {p.type}" if p.required else f"{p.name}: {p.type} = {p.default}")
        return f"{self.name}({', '.join(params)}) -> {self.return_type}"

    def render(self) -> str:
        """A Python stub: the signature and a docstring with every parameter, return and example."""
        body = [f"    {line}".rstrip() for line in self.docstring().splitlines()]
        return "\n".join([f"def {self.signature()}:", '    """' + body[0].lstrip(), *body[1:], '    """'])

    def docstring(self) -> str:
        """The docstring the model reads: description, every parameter, return and example."""
        lines = [_first_line(self.description)]
        rest = _rest_lines(self.description)
        if rest:
            lines += ["", *rest]
        if self.parameters:
            lines += ["", "Args:"]
            for p in self.parameters:
                status = "required" if p.required else f"optional, default {p.default}"
                lines.append(f"    {p.name} ({p.type}, {status}): {p.description}".rstrip(": "))
        if self.returns:
            lines += ["", "Returns:"]
            lines += [f"    {r.name} ({r.type}): {r.description}".rstrip(": ") for r in self.returns]
        if self.batch:
            lines += ["", f"Batch form: {self.batch}(...) handles many inputs in one call; prefer it in loops."]
        if self.examples:
            lines += ["", "Examples:"]
            for example in self.examples:
                lines += [f"    {line}".rstrip() for line in example.splitlines()]
        return "\n".join(line.rstrip() for line in lines)

    def kernel_payload(self) -> dict[str, Any]:
        """What the kernel needs to show (and, for a host plugin, to stub) this plugin: JSON values."""
        return {
            "signature": self.signature(),
            "doc": self.docstring(),
            "parameters": [
                {"name": p.name, "type": p.type, "required": p.required, "default": p.default} for p in self.parameters
            ],
            "returns": self.return_type,
        }


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def _rest_lines(text: str) -> list[str]:
    rest = text.strip().splitlines()[1:]
    while rest and not rest[0].strip():
        rest.pop(0)
    return rest


@attrs.frozen
class ParsedDocstring:
    """What a Google-style or reST docstring says about a function."""

    description: str = ""
    params: dict[str, str] = attrs.field(factory=dict)
    param_types: dict[str, str] = attrs.field(factory=dict)
    returns: tuple[ReturnValue, ...] = ()
    examples: tuple[str, ...] = ()
    config_keys: tuple[str, ...] = ()


def parse_docstring(doc: str | None) -> ParsedDocstring:
    """Sections ``Args:``, ``Returns:``, ``Examples:`` and ``Config:`` (Google style), or
    ``:param x:`` / ``:return x:`` fields (reST, TaskWeaver's style). Unknown text is description."""
    lines = _dedent(doc or "")
    description: list[str] = []
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lines:
        header = _SECTION.match(line.strip())
        if header and not line.startswith((" ", "\t")):
            current = sections.setdefault(_canonical(header.group(1)), [])
        elif current is not None and (line.startswith((" ", "\t")) or not line.strip()):
            current.append(line)
        else:
            current = None
            description.append(line)
    params, types, returns, rest_desc = _rest_fields(description)
    for name, kind, text in _entries(sections.get("args", [])):
        params[name] = text
        if kind:
            types[name] = kind
    returns += [ReturnValue(name, kind, text) for name, kind, text in _entries(sections.get("returns", []))]
    examples = "\n".join(_dedent("\n".join(sections.get("examples", [])))).strip()
    config = tuple(name for name, _, _ in _entries(sections.get("config", [])))
    return ParsedDocstring(
        description="\n".join(rest_desc).strip(),
        params=params,
        param_types=types,
        returns=tuple(returns),
        examples=(examples,) if examples else (),
        config_keys=config,
    )


def _canonical(header: str) -> str:
    return {
        "arguments": "args",
        "parameters": "args",
        "params": "args",
        "return": "returns",
        "yields": "returns",
        "example": "examples",
        "configuration": "config",
    }.get(header.lower(), header.lower())


def _dedent(text: str) -> list[str]:
    raw = text.expandtabs().splitlines()
    if not raw:
        return []
    first, rest = raw[0].strip(), textwrap.dedent("\n".join(raw[1:])).splitlines()
    return [first, *rest] if first else rest


def _entries(lines: list[str]) -> list[tuple[str, str, str]]:
    """``name (type): text`` entries with indented continuation lines."""
    body = _dedent("\n" + "\n".join(lines))
    entries: list[tuple[str, str, str]] = []
    for line in body:
        match = _ENTRY.match(line) if not line.startswith((" ", "\t")) else None
        if match:
            entries.append((match.group(1).lstrip("*"), (match.group(2) or "").strip(), match.group(3).strip()))
        elif entries and line.strip():
            name, kind, text = entries[-1]
            entries[-1] = (name, kind, f"{text} {line.strip()}".strip())
    return entries


def _rest_fields(lines: list[str]) -> tuple[dict[str, str], dict[str, str], list[ReturnValue], list[str]]:
    params: dict[str, str] = {}
    types: dict[str, str] = {}
    returns: list[ReturnValue] = []
    description: list[str] = []
    last: tuple[str, str] | None = None
    for line in lines:
        match = _REST_FIELD.match(line.strip())
        if match:
            field, name, text = match.group(1), match.group(2).strip(), match.group(3).strip()
            if field in ("param", "parameter", "arg"):
                params[name] = text
                last = ("param", name)
            elif field == "type":
                types[name] = text
                last = None
            elif field in ("return", "returns"):
                returns.append(ReturnValue(name or "result", "", text))
                last = ("return", str(len(returns) - 1))
            else:
                last = None
        elif last is not None and line.strip() and line.startswith((" ", "\t")):
            kind, key = last
            if kind == "param":
                params[key] = f"{params[key]} {line.strip()}"
            else:
                index = int(key)
                returns[index] = attrs.evolve(
                    returns[index], description=f"{returns[index].description} {line.strip()}"
                )
        else:
            last = None
            description.append(line)
    return params, types, returns, description
