"""The CodeInterpreter's reply: ``{"thought", "reply_type": "python" | "text", "reply_content"}``.

The LLM layer extracts the object (fences, ``<think>``, the ``{"response": ...}`` wrapper)
and checks it against :data:`REPLY_SCHEMA`; :func:`validate_reply` checks what the schema
cannot say, each problem as a sentence the model can act on.

Fields beyond the three:

* :data:`ECHOED_FIELDS` are accepted and dropped. TaskWeaver's CodeInterpreter posts carry
  them, so a model prompted with TaskWeaver's examples repeats them
  (``"execution_status": "SUCCESS"``); what they claim is never used, since the kernel
  reports the real outcome.
* any other field is refused, naming it and the fields that exist: an unknown field is
  usually content in a place nobody reads (``"code": "..."`` beside an empty
  ``reply_content``), and one correction costs less than a silently dropped answer.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from weaver.llm.schema import IGNORED
from weaver.replies import InvalidReply

FIELDS = ("thought", "reply_type", "reply_content")
REPLY_TYPES = ("python", "text")
SCHEMA_NAME = "code_interpreter_reply"
ECHOED_FIELDS = ("verification", "code_error", "execution_status", "execution_result", "send_to", "message")
"""Fields of TaskWeaver's CodeInterpreter posts that a model echoes: accepted and ignored."""

REPLY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "thought": {"type": "string", "description": "Your reasoning: what the step needs and how the code does it."},
        "reply_type": {
            "type": "string",
            "enum": list(REPLY_TYPES),
            "description": "python: reply_content is code to run; text: reply_content answers without code.",
        },
        "reply_content": {"type": "string", "description": "The Python code (no code fences), or the text answer."},
    },
    "required": list(FIELDS),
    "additionalProperties": False,
    IGNORED: list(ECHOED_FIELDS),
}

_FENCE = re.compile(r"^\s*```[a-zA-Z0-9_+-]*\s*\n(?P<body>.*?)\n?```\s*$", re.DOTALL)


@attrs.frozen
class CodeReply:
    """A checked reply."""

    thought: str
    reply_type: str
    reply_content: str

    @property
    def is_code(self) -> bool:
        return self.reply_type == "python"


class InvalidCodeReply(InvalidReply):
    """A reply that fits the schema but cannot be used; ``feedback`` is for the model."""


def validate_reply(data: Any) -> CodeReply:
    """The reply as a :class:`CodeReply`; a fenced code block is unwrapped (what runs is its body)."""
    content = data["reply_content"]
    if data["reply_type"] == "python":
        fenced = _FENCE.match(content)
        if fenced:
            content = fenced.group("body")
        if not content.strip():
            feedback = 'reply_content is empty: with "reply_type": "python" it must hold the code to run.'
            raise InvalidCodeReply(feedback, feedback=feedback)
    elif not content.strip():
        feedback = 'reply_content is empty: with "reply_type": "text" it must hold your answer.'
        raise InvalidCodeReply(feedback, feedback=feedback)
    return CodeReply(data["thought"], data["reply_type"], content)
