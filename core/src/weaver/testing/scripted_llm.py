"""An in-process LLM backend with scripted replies: the model's words without HTTP.

:class:`FakeOpenAIServer` exercises the real ``openai`` client over a real socket; this
backend skips the transport altogether, so a test or a benchmark sees only Weaver's own
work (prompts, streaming, guards, the event log). It is registered through the
``weaver_llm_backends`` hook like any third-party backend::

    llm = ScriptedLLM(['{"answer": 42}'])
    pm.register(llm.extension())
    app = App(tmp_path, plugin_manager=pm, llm=llm.llm_config())

Replies are scripted as with :class:`FakeOpenAIServer`: a list consumed in order (a string
is the reply text, a mapping is sent as its JSON), or a function of the request that
returns one. The function receives the request in the shape of an OpenAI chat request
(``{"model": ..., "messages": [{"role": ..., "content": ...}, ...]}``), so one responder
can serve both fakes. Every request is kept in ``requests`` in that shape. The reply is
handed to the LLM layer in ``chunk_size`` pieces (the whole text at once when 0) and the
call reports no token counts, so usage is Weaver's estimate (``estimated=True``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping
from types import SimpleNamespace
from typing import Any

from weaver.hookspecs import hookimpl
from weaver.llm.backend import BackendRequest, Completion, StatusCallback, TextCallback
from weaver.llm.config import ModelConfig
from weaver.llm.errors import LLMError
from weaver.specs import LLMBackendSpec

BACKEND_NAME = "scripted"
DEFAULT_MODEL = "scripted-model"

ScriptedReply = str | Mapping[str, Any]
ScriptedResponder = Callable[[dict[str, Any]], ScriptedReply]


class ScriptedLLM:
    """Scripted replies served in process by a backend named ``name``."""

    def __init__(
        self,
        replies: Iterable[ScriptedReply] | ScriptedResponder = (),
        *,
        name: str = BACKEND_NAME,
        chunk_size: int = 0,
    ) -> None:
        self.name = name
        self.chunk_size = chunk_size
        self.responder: ScriptedResponder | None = replies if callable(replies) else None
        self._script: list[ScriptedReply] = [] if callable(replies) else list(replies)
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def add(self, *replies: ScriptedReply) -> None:
        """Append replies to the script."""
        with self._lock:
            self._script.extend(replies)

    def extension(self) -> object:
        """An extension object declaring the backend: ``pm.register(llm.extension())``."""

        @hookimpl
        def weaver_llm_backends() -> list[LLMBackendSpec]:
            return [LLMBackendSpec(self.name, self._backend, "Scripted replies, in process (weaver.testing)")]

        return SimpleNamespace(weaver_llm_backends=weaver_llm_backends)

    def llm_config(self, **settings: Any) -> dict[str, Any]:
        """An ``[llm]`` table using this backend (``App(..., llm=llm.llm_config())``)."""
        return {"backend": self.name, "model": DEFAULT_MODEL, **settings}

    def reply_to(self, request: dict[str, Any]) -> str:
        """The next scripted reply's text for ``request`` (which is recorded)."""
        with self._lock:
            self.requests.append(request)
            if self.responder is not None:
                reply = self.responder(request)
            elif self._script:
                reply = self._script.pop(0)
            else:
                raise LLMError(
                    f"ScriptedLLM has no scripted reply left for request #{len(self.requests)}", endpoint=self.endpoint
                )
        return reply if isinstance(reply, str) else json.dumps(reply)

    @property
    def endpoint(self) -> str:
        return f"{self.name}: (in process)"

    def _backend(self, model: ModelConfig) -> _ScriptedBackend:
        return _ScriptedBackend(self)


class _ScriptedBackend:
    """The :class:`weaver.llm.backend.Backend` for one model alias, answering from the script."""

    def __init__(self, script: ScriptedLLM) -> None:
        self.script = script
        self.endpoint = script.endpoint

    async def complete(self, request: BackendRequest, on_text: TextCallback, on_status: StatusCallback) -> Completion:
        body = {"model": request.model, "messages": [{"role": m.role, "content": m.content} for m in request.messages]}
        text = self.script.reply_to(body)
        size = self.script.chunk_size or len(text) or 1
        for start in range(0, len(text), size):
            on_text(text[start : start + size])
        return Completion(text, finish_reason="stop")

    async def aclose(self) -> None:
        """Nothing to release."""
