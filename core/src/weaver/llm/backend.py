"""What a backend is: one model alias's transport, behind a small protocol.

The service (:mod:`weaver.llm.service`) shapes the prompt, runs guards, records and
replays; a backend only sends a :class:`BackendRequest` and returns a :class:`Completion`,
reporting text deltas as they arrive. The built-in backend is OpenAI-compatible
(:mod:`weaver.llm.client`); extensions add others through ``weaver_llm_backends``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import attrs

from weaver.llm.config import JsonMode
from weaver.llm.request import ChatMessage
from weaver.model import as_tuple

TextCallback = Callable[[str], None]
StatusCallback = Callable[[str], None]


@attrs.frozen
class BackendRequest:
    """One chat completion to send: the provider's model name, the final messages, the JSON mode."""

    model: str
    messages: tuple[ChatMessage, ...] = attrs.field(converter=as_tuple)
    json_mode: JsonMode = "text"
    reply_schema: Mapping[str, Any] | None = None
    schema_name: str = "reply"


@attrs.frozen
class Completion:
    """What came back: the text and the API's token counts (``None`` when it gave none)."""

    text: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None


class Backend(Protocol):
    """A model's transport. ``factory(model_config)`` of an ``LLMBackendSpec`` returns one."""

    endpoint: str
    """Where it sends requests, for error messages (never containing a secret)."""

    async def complete(self, request: BackendRequest, on_text: TextCallback, on_status: StatusCallback) -> Completion:
        """Send ``request``; call ``on_text(delta)`` as text arrives and ``on_status(msg)`` on retries.

        Raise :class:`weaver.llm.LLMError` on failure after bounded retries.
        """
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
