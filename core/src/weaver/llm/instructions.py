"""The words that ask for JSON when the backend cannot be made to (``json_object`` and ``text`` modes)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from weaver.llm.config import JsonMode
from weaver.llm.request import ChatMessage
from weaver.llm.schema import wire_schema


def json_instructions(schema: Mapping[str, Any]) -> str:
    return (
        "Reply with exactly one JSON object and nothing else: no prose, no code fences. "
        "It must be strict JSON and match this JSON Schema:\n" + json.dumps(wire_schema(schema), indent=1)
    )


def with_instructions(
    messages: tuple[ChatMessage, ...], schema: Mapping[str, Any] | None, json_mode: JsonMode
) -> tuple[ChatMessage, ...]:
    """``messages`` with the JSON instructions added to the system prompt, where the mode needs them.

    ``json_schema`` mode sends the schema in ``response_format`` instead. The instructions
    join the first system message (some local models' templates allow only one) or become one.
    """
    if schema is None or json_mode == "json_schema":
        return messages
    text = json_instructions(schema)
    for index, message in enumerate(messages):
        if message.role == "system":
            joined = ChatMessage("system", f"{message.content}\n\n{text}")
            return (*messages[:index], joined, *messages[index + 1 :])
    return (ChatMessage("system", text), *messages)
