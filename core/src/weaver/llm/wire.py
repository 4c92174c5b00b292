"""A chat completion at wire speed, through the ``openai`` SDK's own client.

The SDK still does what it is good at: the base URL and Azure's deployment paths, the auth
headers, timeouts, HTTP status errors with the server's message. What it does per message and
per chunk is skipped: the typed transform of every request message (Weaver's messages are
already plain strings it built itself) and one pydantic object per streamed chunk. The body
goes out as it is with ``client.post``, which is asked for the HTTP response unread (the
``X-Stainless-Raw-Response: stream`` header, as the SDK's own ``with_streaming_response``
asks), and the stream is read as server-sent events: one ``json.loads`` per event, each
content delta handed on as it arrives.

What goes wrong on the way is raised as the SDK's own errors (``APIConnectionError``,
``APITimeoutError``, ``APIError`` for an error sent inside the stream), so the backend
(:mod:`weaver.llm.client`) translates one set of errors whichever path served the call. The
typed path stays there for an SDK whose HTTP module :func:`http_module` cannot find.
"""

from __future__ import annotations

import json
import ssl
import sys
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from weaver.llm.backend import Completion, TextCallback

RAW_RESPONSE_HEADER = "X-Stainless-Raw-Response"
"""The SDK's switch for "return the HTTP response, its body unread"."""
PATH = "/chat/completions"
_DATA = b"data:"
_DONE = b"[DONE]"


def http_module(openai: ModuleType) -> ModuleType | None:
    """The HTTP library the installed SDK is built on (``httpx``; ``httpx2`` from openai 3), or ``None``.

    It is the module of the ``AsyncClient`` the SDK's default client derives from; its
    ``Response`` class is what ``client.post`` must be told to return unparsed.
    """
    default = getattr(openai, "DefaultAsyncHttpxClient", None)
    for cls in getattr(default, "__mro__", ()):
        if cls.__name__ == "AsyncClient":
            module = sys.modules.get(cls.__module__.partition(".")[0])
            if module is not None and all(hasattr(module, name) for name in ("Response", "TimeoutException", "RequestError")):
                return module
    return None


async def complete(client: Any, http: ModuleType, body: Mapping[str, Any], on_text: TextCallback) -> Completion:
    """Send ``body`` (a chat completions request, ``stream`` set or not) and read the reply."""
    import openai

    stream = bool(body.get("stream"))
    options = {"headers": {RAW_RESPONSE_HEADER: "stream"}} if stream else {}
    response = await client.post(PATH, body=body, cast_to=http.Response, options=options)
    try:
        if stream:
            return await _streamed(response, http, on_text)
        completion = _whole(response)
        on_text(completion.text)
        return completion
    except _StreamError as exc:
        raise openai.APIError(exc.message, response.request, body=exc.body) from None
    finally:
        await response.aclose()


def _whole(response: Any) -> Completion:
    """A reply sent in one piece."""
    payload = json.loads(response.content)
    _check(payload)
    choices = payload.get("choices") or ()
    choice = choices[0] if choices else {}
    text = (choice.get("message") or {}).get("content") or ""
    usage = payload.get("usage") or {}
    return Completion(text, usage.get("prompt_tokens"), usage.get("completion_tokens"), choice.get("finish_reason"))


async def _streamed(response: Any, http: ModuleType, on_text: TextCallback) -> Completion:
    """The streamed reply, event by event: the text as it grows, then usage and finish reason."""
    import openai

    events = _Events(on_text)
    rest = b""
    try:
        async for piece in response.aiter_bytes():
            if events.done:
                continue  # read to the end all the same, so the connection can be reused
            lines = (rest + piece).splitlines(keepends=True)
            if not lines:
                continue
            # A line is complete at its \n; one ending in \r may be the first half of \r\n.
            rest = lines.pop() if not lines[-1].endswith(b"\n") else b""
            for line in lines:
                events.line(line.rstrip(b"\r\n"))
        if not events.done:
            events.line(rest.rstrip(b"\r\n"))
            events.line(b"")  # a last event without its blank line
    except http.TimeoutException as exc:
        raise openai.APITimeoutError(request=response.request) from exc
    except (http.RequestError, ssl.SSLError) as exc:
        raise openai.APIConnectionError(request=response.request) from exc
    usage = events.usage
    return Completion("".join(events.parts), usage.get("prompt_tokens"), usage.get("completion_tokens"), events.finish_reason)


class _Events:
    """Server-sent events, line by line: ``data:`` lines joined until a blank line ends the event.

    Other fields (``event:``, ``id:``, ``retry:``) and comments (``: ping``, which proxies
    send to keep a connection alive) carry nothing a chat completion needs.
    """

    def __init__(self, on_text: TextCallback) -> None:
        self.on_text = on_text
        self.parts: list[str] = []
        self.usage: Mapping[str, Any] = {}
        self.finish_reason: str | None = None
        self.done = False
        self._data: list[bytes] = []

    def line(self, line: bytes) -> None:
        if self.done:
            return
        if line.startswith(_DATA):
            self._data.append(line[len(_DATA) :].removeprefix(b" "))
        elif not line and self._data:
            data = self._data[0] if len(self._data) == 1 else b"\n".join(self._data)
            self._data = []
            if data == _DONE:
                self.done = True
            else:
                self._chunk(json.loads(data))

    def _chunk(self, payload: Any) -> None:
        _check(payload)
        self.usage = payload.get("usage") or self.usage
        for choice in payload.get("choices") or ():
            content = (choice.get("delta") or {}).get("content")
            if content:
                self.parts.append(content)
                self.on_text(content)
            self.finish_reason = choice.get("finish_reason") or self.finish_reason


class _StreamError(Exception):
    """What a reply said went wrong; :func:`complete` raises it as the SDK's ``APIError``."""

    def __init__(self, message: str, body: object = None) -> None:
        self.message = message
        self.body = body


def _check(payload: Any) -> None:
    """Raise what a 200 reply says went wrong: an error object, or something that is no reply at all."""
    if not isinstance(payload, dict):
        raise _StreamError(f"the reply is not a JSON object but {type(payload).__name__}")
    error = payload.get("error")
    if error:
        message = error.get("message") if isinstance(error, Mapping) else None
        raise _StreamError(message if isinstance(message, str) and message else "An error occurred during streaming", error)
