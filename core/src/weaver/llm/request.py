"""The records one LLM call is made of: the messages, the request and the response."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

import attrs

from weaver.model import Usage, as_tuple

MessageRole = Literal["system", "user", "assistant"]


@attrs.frozen
class ChatMessage:
    """One chat message: who says it (``system``, ``user``, ``assistant``) and its text."""

    role: MessageRole
    content: str


def chat_messages(system: str, turns: Iterable[tuple[str, str]]) -> tuple[ChatMessage, ...]:
    """A system message, then ``(role, text)`` turns with adjacent turns of one role joined.

    Chat templates of many models expect user and assistant turns to alternate.
    """
    merged: list[tuple[str, str]] = []
    for role, text in turns:
        if merged and merged[-1][0] == role:
            merged[-1] = (role, f"{merged[-1][1]}\n\n{text}")
        else:
            merged.append((role, text))
    return (ChatMessage("system", system), *(ChatMessage(role, text) for role, text in merged))  # type: ignore[arg-type]


@attrs.frozen
class LLMRequest:
    """What a role asks of a model, as guards see it before the call.

    ``role`` is the calling role's wire alias; ``model`` the model alias from config
    (``default`` for the top-level ``[llm]`` settings); ``reply_schema`` the JSON Schema of
    the reply object without any ``{"response": ...}`` wrapper, or ``None`` for free text.
    """

    role: str
    model: str
    messages: tuple[ChatMessage, ...] = attrs.field(converter=as_tuple)
    reply_schema: Mapping[str, Any] | None = None
    schema_name: str = "reply"
    estimated_prompt_tokens: int = 0


@attrs.frozen
class LLMResponse:
    """A model's reply: the raw ``text``, the parsed reply object as ``data`` and its usage.

    ``data`` is the unwrapped JSON object when the request had a ``reply_schema`` and the
    reply matched it; ``None`` for free text (and, for ``weaver_after_llm_call`` guards only,
    for a reply that is about to be rejected with :class:`weaver.llm.ReplyFormatError`).
    """

    text: str
    data: Any
    usage: Usage
    model: str
    latency_s: float
