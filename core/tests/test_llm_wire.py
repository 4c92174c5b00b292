"""The wire path reads any event stream the SDK's typed path reads, and reads it the same way.

Servers of other makes frame their streams differently: CRLF line ends, ``data:`` without a
space, keep-alive comments, ``event:`` lines, no blank line after the last event, bytes
after ``[DONE]``, events split anywhere across TCP writes. Each stream here is sent byte for
byte by the fake server (:class:`weaver.testing.FakeSSE`) to the real ``openai`` client,
once on the wire path and once on the SDK's typed path, and both must give the same
completion, the same text deltas in the same order, or the same error.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from weaver.llm import ChatMessage, LLMError
from weaver.llm.backend import BackendRequest, Completion
from weaver.llm.client import OpenAIBackend
from weaver.llm.config import ModelConfig
from weaver.testing import FakeOpenAIServer, FakeSSE

LIVENESS_S = 30.0
REQUEST = BackendRequest(model="fake-model", messages=(ChatMessage("user", "Say hello."),), json_mode="text")
PATHS = ("wire", "typed")


def chunk(content: str | None = None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    delta = {} if content is None else {"content": content}
    return {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}


USAGE = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m", "choices": [],
         "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}}
HELLO = [chunk("Hel"), chunk("lo, "), chunk("wörld"), chunk(finish="stop"), USAGE]
EXPECTED = Completion("Hello, wörld", 11, 3, "stop")


def events(payloads: list[Any], *, end: bytes = b"\n", prefix: bytes = b"data: ", done: bool = True) -> bytes:
    lines = [prefix + json.dumps(p, ensure_ascii=False).encode() + end + end for p in payloads]
    return b"".join(lines) + ((prefix + b"[DONE]" + end + end) if done else b"")


def run(path: str, monkeypatch: pytest.MonkeyPatch, *streams: FakeSSE) -> tuple[list[Completion | LLMError], list[list[str]]]:
    """Each stream served in turn to one backend on ``path``: its completion (or error) and its deltas."""
    results: list[Completion | LLMError] = []
    deltas: list[list[str]] = []

    async def calls(model: ModelConfig) -> None:
        backend = OpenAIBackend(model)
        try:
            for _ in streams:
                deltas.append([])
                try:
                    results.append(await backend.complete(REQUEST, deltas[-1].append, lambda status: None))
                except LLMError as error:
                    results.append(error)
        finally:
            await backend.aclose()

    with monkeypatch.context() as patch:
        if path == "typed":
            patch.setattr("weaver.llm.wire.http_module", lambda openai: None)
        with FakeOpenAIServer(list(streams)) as server:
            model = ModelConfig(model="fake-model", api_key="test-key", base_url=server.base_url, max_retries=0)
            asyncio.run(asyncio.wait_for(calls(model), LIVENESS_S))
    return results, deltas


def same_on_both_paths(monkeypatch: pytest.MonkeyPatch, *streams: FakeSSE) -> tuple[list[Any], list[list[str]]]:
    wire, typed = (run(path, monkeypatch, *streams) for path in PATHS)
    assert [_comparable(r) for r in wire[0]] == [_comparable(r) for r in typed[0]]
    assert wire[1] == typed[1]
    return wire


def _comparable(result: Completion | LLMError) -> Any:
    return str(result).split(" failed: ", 1)[1] if isinstance(result, LLMError) else result  # not the port


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(events(HELLO), id="plain"),
        pytest.param(events(HELLO, end=b"\r\n"), id="crlf"),
        pytest.param(events(HELLO, prefix=b"data:"), id="no-space-after-colon"),
        pytest.param(b": keep-alive\n\nevent: message\nid: 1\nretry: 100\n" + events(HELLO) + b": bye\n\n", id="comments-and-fields"),
        pytest.param(events(HELLO, done=False), id="no-done"),
        pytest.param(events(HELLO)[:-1], id="no-blank-line-at-the-end"),
        pytest.param(events(HELLO) + b'data: {"choices": [{"delta": {"content": "late"}}]}\n\n', id="bytes-after-done"),
    ],
)
def test_every_framing_gives_the_same_completion_and_deltas(body: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    results, deltas = same_on_both_paths(monkeypatch, FakeSSE((body,)))
    assert results == [EXPECTED]
    assert deltas == [["Hel", "lo, ", "wörld"]]


def test_a_stream_split_anywhere_reads_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every split point of a CRLF stream, inside a line, a UTF-8 character or a CR LF pair."""
    body = events(HELLO[:3] + [chunk(finish="stop")], end=b"\r\n")
    streams = [FakeSSE((body[:at], body[at:]), pause=0.005) for at in range(1, len(body), 3)]
    results, deltas = same_on_both_paths(monkeypatch, *streams)
    assert results == [Completion("Hello, wörld", None, None, "stop")] * len(streams)
    assert deltas == [["Hel", "lo, ", "wörld"]] * len(streams)


def test_an_error_sent_inside_the_stream_is_a_clean_error_and_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    body = events([chunk("Hel"), {"error": {"message": "the model is overloaded", "type": "server_error"}}])
    (error,), (deltas,) = same_on_both_paths(monkeypatch, FakeSSE((body,)))
    assert isinstance(error, LLMError)
    assert str(error).endswith("failed: the server reported an error: the model is overloaded")
    assert deltas == ["Hel"]


def test_a_stream_with_no_finish_reason_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    (error,), _ = same_on_both_paths(monkeypatch, FakeSSE((events(HELLO[:3]),)))
    assert isinstance(error, LLMError) and "ended before the reply was finished" in str(error)


def test_a_chunk_that_is_not_an_object_is_refused_on_the_wire_path(monkeypatch: pytest.MonkeyPatch) -> None:
    (error,), _ = run("wire", monkeypatch, FakeSSE((events([chunk("a"), ["not", "a", "chunk"]]),)))
    assert isinstance(error, LLMError)
    assert "the server reported an error: the reply is not a JSON object but list" in str(error)


def test_both_paths_send_the_same_request(monkeypatch: pytest.MonkeyPatch) -> None:
    """The body goes out without the typed transform, and it is the same JSON object."""
    sent = []
    for path in PATHS:
        with monkeypatch.context() as patch:
            if path == "typed":
                patch.setattr("weaver.llm.wire.http_module", lambda openai: None)
            with FakeOpenAIServer([FakeSSE((events(HELLO),))]) as server:
                model = ModelConfig(model="fake-model", api_key="test-key", base_url=server.base_url, temperature=0.2)
                request = BackendRequest(
                    model="fake-model",
                    messages=(ChatMessage("system", "Be brief."), ChatMessage("user", "ünïcode \u2028 and \"quotes\"")),
                    json_mode="json_object",
                    reply_schema={"type": "object"},
                )

                async def call(model: ModelConfig = model, request: BackendRequest = request) -> None:
                    backend = OpenAIBackend(model)
                    try:
                        await backend.complete(request, lambda delta: None, lambda status: None)
                    finally:
                        await backend.aclose()

                asyncio.run(asyncio.wait_for(call(), LIVENESS_S))
                sent.append((server.requests[0], server.headers[0]["authorization"], server.paths[0]))
    assert sent[0] == sent[1]
    body = sent[0][0]
    assert body["response_format"] == {"type": "json_object"} and body["temperature"] == 0.2
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
