"""The LLM layer: structured replies, live field streaming, usage and cost, retries, recording.

Roles use it as ``await ctx.llm.chat(messages, reply_schema=..., on_field=...)``
(:class:`weaver.llm.service.ChatClient`), hooks as ``ctx.llm(alias).chat(...)``. Modules,
one job each:

``config``        the ``[llm]`` table and model aliases
``client``        the built-in OpenAI-compatible backend (``openai`` is imported lazily)
``backend``       the protocol every backend implements
``extract``       tolerant extraction of the JSON reply; ``schema`` checks it
``stream``        the incremental scanner that surfaces fields while they stream
``usage``         tokens, prices and the cost report
``cassette``      recording and replay
``service``       the App's LLM service and the chat client roles and hooks hold
"""

from __future__ import annotations

from weaver.llm.errors import LLMError, ReplayMissError, ReplyFormatError
from weaver.llm.request import ChatMessage, LLMRequest, LLMResponse, chat_messages
from weaver.llm.usage import CostReport, cost_report

__all__ = [
    "ChatMessage",
    "CostReport",
    "LLMError",
    "LLMRequest",
    "LLMResponse",
    "ReplayMissError",
    "ReplyFormatError",
    "chat_messages",
    "cost_report",
]
