"""The built-in backend: any OpenAI-compatible endpoint through the ``openai`` SDK.

OpenAI itself, Azure OpenAI (``api_type = "azure"``), and through ``base_url`` Ollama,
vLLM, llama.cpp's server, LM Studio or a LiteLLM proxy. ``openai`` is imported when the
first client is built, never when Weaver is imported.

The request body and the streamed reply travel as plain JSON (:mod:`weaver.llm.wire`): the
SDK builds and sends the HTTP request and raises its errors, but neither transforms every
message nor builds a typed object per chunk. With an SDK whose HTTP module cannot be found,
the SDK's typed path (``chat.completions.create``) is used instead, with the same results.

Retries are Weaver's own loop, not the SDK's (its ``max_retries`` is 0): a stream that
fails after text was shown must not be silently re-sent, waits are reported as status
events, and a ``Retry-After`` longer than ``max_retry_wait`` gives up at once instead of
stalling a round.
"""

from __future__ import annotations

import asyncio
import email.utils
import errno
import json
import random
import time
from collections.abc import Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any

from weaver.llm import wire
from weaver.llm.backend import BackendRequest, Completion, StatusCallback, TextCallback
from weaver.llm.cassette import is_secret
from weaver.llm.config import ModelConfig
from weaver.llm.errors import LLMError
from weaver.llm.schema import wire_schema

if TYPE_CHECKING:
    import openai

OPENAI_ENDPOINT = "https://api.openai.com/v1"
RETRY_STATUSES = frozenset({408, 409, 429}) | frozenset(range(500, 600))
NO_KEY_NEEDED = "not-needed"
"""Sent as the key to a local endpoint configured without one (the SDK insists on a key)."""


class _Retryable(Exception):
    """One attempt failed in a way worth retrying; carries the error to raise if none is left."""

    def __init__(self, error: LLMError, retry_after: float | None = None) -> None:
        self.error = error
        self.retry_after = retry_after


class OpenAIBackend:
    """An OpenAI-compatible chat completions client for one model alias."""

    def __init__(self, model: ModelConfig) -> None:
        self.model = model
        self.endpoint = model.base_url or OPENAI_ENDPOINT
        self._secret = model.api_key
        self._client: openai.AsyncOpenAI | None = None
        self._http: ModuleType | None = None
        """The SDK's HTTP module when the wire path can be used (:func:`weaver.llm.wire.http_module`)."""

    async def complete(self, request: BackendRequest, on_text: TextCallback, on_status: StatusCallback) -> Completion:
        attempts = self.model.max_retries + 1
        shown: list[str] = []

        def show(delta: str) -> None:
            shown.append(delta)
            on_text(delta)

        for attempt in range(attempts):
            try:
                return await self._attempt(request, show)
            except _Retryable as failure:
                # Text already shown cannot be taken back, so a reply cut after it began is not re-sent.
                if attempt + 1 >= attempts or shown:
                    suffix = f" (after {attempt + 1} attempts)" if attempt else ""
                    failure.error.message += suffix
                    raise failure.error from None
                wait = self._wait(attempt, failure.retry_after)
                if wait is None:
                    failure.error.message += (
                        f"; the server asks to wait {failure.retry_after:g} s, longer than llm.max_retry_wait "
                        f"({self.model.max_retry_wait:g} s)"
                    )
                    raise failure.error from None
                on_status(f"{failure.error.message}; retrying in {wait:.1f} s ({attempt + 1} of {self.model.max_retries})")
                await asyncio.sleep(wait)
        raise AssertionError("unreachable: the loop returns or raises")

    async def list_models(self) -> list[str]:
        """The model names the endpoint serves (``GET /models``), for ``weaver doctor``."""
        import openai

        try:
            return [item.id async for item in self._ensure_client().models.list()]
        except openai.APIStatusError as exc:
            raise self._error(f"HTTP {exc.status_code}: {_server_message(exc)}", exc.status_code) from None
        except openai.APIError as exc:
            raise self._error(f"{type(exc).__name__}: {exc}") from None

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    # ---- one attempt -------------------------------------------------------------------

    async def _attempt(self, request: BackendRequest, on_text: TextCallback) -> Completion:
        import openai

        client = self._ensure_client()
        body = self._body(request)
        try:
            if self._http is not None:
                completion = await wire.complete(client, self._http, body, on_text)
            elif self.model.stream:
                completion = await self._typed_stream(client, body, on_text)
            else:
                completion = await self._typed(client, body, on_text)
        except openai.APIStatusError as exc:
            error = self._error(f"HTTP {exc.status_code}: {_server_message(exc)}", exc.status_code)
            if exc.status_code in RETRY_STATUSES:
                raise _Retryable(error, parse_retry_after(exc.response.headers)) from None
            raise error from None
        except openai.APITimeoutError:
            raise _Retryable(self._error(f"no reply within the timeout (read_timeout={self.model.read_timeout:g} s)")) from None
        except openai.APIConnectionError as exc:
            cause = exc.__cause__ or exc
            if _refused(exc):
                # Nothing listens there: waiting and retrying would only delay the same answer.
                raise self._error(
                    "the connection was refused: is the server running at that address? "
                    "'weaver doctor' checks the endpoint and the model"
                ) from None
            raise _Retryable(self._error(f"connection failed: {type(cause).__name__}: {cause}")) from None
        except openai.APIError as exc:
            raise self._error(f"the server reported an error: {_server_message(exc)}") from None
        except json.JSONDecodeError as exc:
            what = "stream chunk" if self.model.stream else "reply"
            raise self._error(f"the server sent a malformed {what} ({exc.msg})") from None
        if self.model.stream and completion.finish_reason is None:
            raise _Retryable(self._error("the stream ended before the reply was finished (no finish_reason)"))
        return completion

    # ---- the SDK's typed path, for an SDK the wire path does not know -----------------

    async def _typed(self, client: openai.AsyncOpenAI, body: dict[str, Any], on_text: TextCallback) -> Completion:
        reply = await client.chat.completions.create(**body)
        choice = reply.choices[0] if reply.choices else None
        text = (choice.message.content if choice else None) or ""
        on_text(text)
        usage = reply.usage
        return Completion(
            text=text,
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
            finish_reason=choice.finish_reason if choice else None,
        )

    async def _typed_stream(self, client: openai.AsyncOpenAI, body: dict[str, Any], on_text: TextCallback) -> Completion:
        parts: list[str] = []
        usage = None
        finish_reason = None
        stream = await client.chat.completions.create(**body)
        async with stream:
            async for chunk in stream:
                if chunk.usage is not None:
                    usage = chunk.usage
                for choice in chunk.choices:
                    delta = choice.delta.content if choice.delta else None
                    if delta:
                        parts.append(delta)
                        on_text(delta)
                    finish_reason = choice.finish_reason or finish_reason
        return Completion(
            text="".join(parts),
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
            finish_reason=finish_reason,
        )

    def _body(self, request: BackendRequest) -> dict[str, Any]:
        """The chat completions request as JSON values, the same for the wire and the typed path."""
        body: dict[str, Any] = {
            "model": request.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        }
        response_format = response_format_for(request)
        if response_format is not None:
            body["response_format"] = response_format
        if self.model.temperature is not None:
            body["temperature"] = self.model.temperature
        if self.model.stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body

    def _ensure_client(self) -> openai.AsyncOpenAI:
        if self._client is None:
            import openai

            timeout = openai.Timeout(self.model.read_timeout, connect=self.model.connect_timeout)
            key = self.model.api_key or NO_KEY_NEEDED
            if self.model.api_type == "azure":
                self._client = openai.AsyncAzureOpenAI(
                    api_key=key,
                    azure_endpoint=self.model.base_url,
                    api_version=self.model.api_version or None,
                    timeout=timeout,
                    max_retries=0,
                )
            else:
                self._client = openai.AsyncOpenAI(
                    api_key=key, base_url=self.model.base_url or None, timeout=timeout, max_retries=0
                )
            self._http = wire.http_module(openai)
        return self._client

    # ---- errors and waits ------------------------------------------------------------

    def _error(self, detail: str, status: int | None = None) -> LLMError:
        if is_secret(self._secret):
            detail = detail.replace(self._secret, "****")
        return LLMError(f"LLM call to {self.endpoint} failed: {detail}", endpoint=self.endpoint, status=status)

    def _wait(self, attempt: int, retry_after: float | None) -> float | None:
        """Seconds before the next attempt: the server's ``Retry-After``, else exponential backoff.

        ``None`` means give up: the server asks for a longer wait than ``max_retry_wait``.
        """
        if retry_after is not None:
            return max(retry_after, 0.0) if retry_after <= self.model.max_retry_wait else None
        backoff = self.model.retry_backoff * 2**attempt
        return min(backoff * (1 - 0.25 * random.random()), self.model.max_retry_wait)


def response_format_for(request: BackendRequest) -> dict[str, Any] | None:
    """The ``response_format`` for the request's JSON mode; ``None`` for free text or text mode."""
    if request.reply_schema is None or request.json_mode == "text":
        return None
    if request.json_mode == "json_object":
        return {"type": "json_object"}
    return {
        "type": "json_schema",
        "json_schema": {"name": request.schema_name, "schema": wire_schema(request.reply_schema), "strict": True},
    }


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return float(value) / divisor
        except ValueError:
            parsed = email.utils.parsedate_tz(value)
            if parsed is not None:
                return max(email.utils.mktime_tz(parsed) - time.time(), 0.0)
    return None


def _refused(exc: BaseException) -> bool:
    """Whether a connection error was a refusal (nothing listening), anywhere in its causes."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError) or getattr(current, "errno", None) == errno.ECONNREFUSED:
            return True
        if "connection refused" in str(current).lower():
            return True
        current = current.__cause__ or current.__context__
    return False


def _server_message(exc: Any) -> str:
    """The error message the server sent, shortened."""
    body = exc.body
    message = body.get("message") if isinstance(body, Mapping) else None
    text = str(message or exc.message or "")
    return text if len(text) <= 300 else text[:297] + "..."
