"""The OpenAI-compatible backend over real HTTP to the fake server: modes, retries, faults, usage.

Every test goes through the real ``openai`` client; none asserts on speed. Waits that must
happen (a ``Retry-After``) are checked as lower bounds, hangs with generous upper bounds.
Each runs twice: on the wire path (the body posted as it is, the stream read as raw events)
and on the SDK's typed path, which the backend falls back to where the SDK's HTTP module
cannot be found; both must behave the same.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import attrs
import pytest

from weaver.llm import ChatMessage, LLMError
from weaver.llm.backend import BackendRequest, Completion
from weaver.llm.client import OpenAIBackend, parse_retry_after
from weaver.llm.config import ModelConfig
from weaver.testing import FakeError, FakeOpenAIServer, FakeReply

LIVENESS_S = 30.0
SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"], "additionalProperties": False}
REQUEST = BackendRequest(
    model="fake-model",
    messages=(ChatMessage("system", "Be brief."), ChatMessage("user", "What is 6*7?")),
    json_mode="json_schema",
    reply_schema=SCHEMA,
    schema_name="answer",
)


@pytest.fixture(autouse=True, params=["wire", "typed"])
def sdk_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "typed":
        monkeypatch.setattr("weaver.llm.wire.http_module", lambda openai: None)
    return str(request.param)


def model_for(server: FakeOpenAIServer, **settings: Any) -> ModelConfig:
    defaults = {"model": "fake-model", "api_key": "test-key", "base_url": server.base_url, "retry_backoff": 0.01, "max_retries": 2}
    return ModelConfig(**{**defaults, **settings})


def complete(model: ModelConfig, request: BackendRequest = REQUEST) -> tuple[Completion, list[str], list[str]]:
    texts: list[str] = []
    statuses: list[str] = []

    async def run() -> Completion:
        backend = OpenAIBackend(model)
        try:
            return await asyncio.wait_for(backend.complete(request, texts.append, statuses.append), LIVENESS_S)
        finally:
            await backend.aclose()

    return asyncio.run(run()), texts, statuses


@pytest.mark.parametrize("stream", [True, False])
def test_reply_text_and_usage_from_the_api(stream: bool) -> None:
    with FakeOpenAIServer([FakeReply('{"answer": "42"}', prompt_tokens=120, completion_tokens=7, chunk_size=3)]) as server:
        completion, texts, _ = complete(model_for(server, stream=stream))
    assert completion == Completion('{"answer": "42"}', 120, 7, "stop")
    assert "".join(texts) == completion.text
    assert len(texts) == (6 if stream else 1)
    body = server.requests[0]
    assert body.get("stream", False) is stream
    assert body.get("stream_options") == ({"include_usage": True} if stream else None)
    assert server.headers[0]["authorization"] == "Bearer test-key"


def test_the_wire_path_is_taken_with_the_installed_sdk(sdk_path: str) -> None:
    with FakeOpenAIServer(['{"answer": "42"}']) as server:
        complete(model_for(server))
    # The SDK's own switch for an unread response travels with the request.
    assert server.headers[0].get("x-stainless-raw-response") == ("stream" if sdk_path == "wire" else None)


def test_calls_of_one_backend_share_one_connection() -> None:
    texts: list[str] = []

    async def three(model: ModelConfig) -> list[Completion]:
        backend = OpenAIBackend(model)
        try:
            return [await backend.complete(REQUEST, texts.append, lambda status: None) for _ in range(3)]
        finally:
            await backend.aclose()

    with FakeOpenAIServer(['{"answer": "1"}', '{"answer": "2"}', '{"answer": "3"}']) as server:
        completions = asyncio.run(asyncio.wait_for(three(model_for(server)), LIVENESS_S))
    assert [c.text for c in completions] == ['{"answer": "1"}', '{"answer": "2"}', '{"answer": "3"}']
    # Each stream was read to its end, so the kept-alive connection served the next call.
    assert server.connections == 1


@pytest.mark.parametrize("stream", [True, False])
def test_no_usage_from_the_backend_gives_none(stream: bool) -> None:
    with FakeOpenAIServer([FakeReply('{"answer": "42"}', usage=False)]) as server:
        completion, _, _ = complete(model_for(server, stream=stream))
    assert (completion.prompt_tokens, completion.completion_tokens) == (None, None)


@pytest.mark.parametrize(
    ("json_mode", "expected"),
    [
        ("json_schema", {"type": "json_schema", "json_schema": {"name": "answer", "schema": SCHEMA, "strict": True}}),
        ("json_object", {"type": "json_object"}),
        ("text", None),
    ],
)
def test_response_format_per_json_mode(json_mode: str, expected: object) -> None:
    with FakeOpenAIServer(['{"answer": "42"}']) as server:
        complete(model_for(server), attrs.evolve(REQUEST, json_mode=json_mode))
    assert server.requests[0].get("response_format") == expected


def test_free_text_sends_no_response_format() -> None:
    with FakeOpenAIServer(["forty-two"]) as server:
        completion, _, _ = complete(model_for(server), attrs.evolve(REQUEST, reply_schema=None))
    assert completion.text == "forty-two"
    assert "response_format" not in server.requests[0]


def test_429_then_success_honors_retry_after() -> None:
    with FakeOpenAIServer([FakeError.rate_limited(retry_after=0.5), '{"answer": "42"}']) as server:
        started = time.monotonic()
        completion, _, statuses = complete(model_for(server, retry_backoff=0.001))
        waited = time.monotonic() - started
    assert completion.text == '{"answer": "42"}'
    assert len(server.requests) == 2
    # The backoff alone would wait ~1 ms; only the Retry-After header explains half a second.
    assert waited >= 0.45
    assert len(statuses) == 1 and "HTTP 429" in statuses[0] and "retrying in 0.5 s (1 of 2)" in statuses[0]


def test_a_retry_after_longer_than_max_retry_wait_gives_up_at_once() -> None:
    with FakeOpenAIServer([FakeError.rate_limited(retry_after=600), '{"answer": "42"}']) as server, pytest.raises(LLMError) as info:
        complete(model_for(server, max_retry_wait=5))
    assert len(server.requests) == 1
    assert info.value.status == 429
    assert "asks to wait 600 s, longer than llm.max_retry_wait (5 s)" in str(info.value)


def test_retries_exhausted_is_one_clean_llm_error() -> None:
    with FakeOpenAIServer([FakeError(500, "boom"), FakeError(502, "bad gateway"), FakeError(503, "overloaded")]) as server, pytest.raises(LLMError) as info:
        complete(model_for(server, max_retries=2))
    assert len(server.requests) == 3
    error = info.value
    assert (error.status, error.endpoint) == (503, server.base_url)
    assert str(error) == f"LLM call to {server.base_url} failed: HTTP 503: overloaded (after 3 attempts)"
    assert error.__cause__ is None and error.__suppress_context__


def test_client_errors_are_not_retried() -> None:
    with FakeOpenAIServer([FakeError(400, "model 'x' does not support json_schema"), '{"answer": "1"}']) as server, pytest.raises(LLMError, match="HTTP 400: model 'x' does not support json_schema") as info:
        complete(model_for(server))
    assert len(server.requests) == 1 and info.value.status == 400


def test_a_stream_cut_mid_way_is_a_clean_error_and_not_resent() -> None:
    with FakeOpenAIServer([FakeReply('{"answer": "forty-two"}', cut_after=2, chunk_size=4), '{"answer": "x"}']) as server, pytest.raises(LLMError, match="connection failed: RemoteProtocolError") as info:
        complete(model_for(server))
    # Text was already shown, so sending the request again would repeat it on screen.
    assert len(server.requests) == 1
    assert info.value.status is None


def test_a_stream_cut_before_any_text_is_retried() -> None:
    with FakeOpenAIServer([FakeReply('{"answer": "x"}', cut_after=0), '{"answer": "42"}']) as server:
        completion, texts, statuses = complete(model_for(server))
    assert completion.text == '{"answer": "42"}' == "".join(texts)
    assert len(server.requests) == 2 and len(statuses) == 1


def test_a_malformed_chunk_is_a_clean_error() -> None:
    with FakeOpenAIServer([FakeReply('{"answer": "forty-two"}', malformed_after=1)]) as server, pytest.raises(LLMError, match="malformed stream chunk"):
        complete(model_for(server))
    assert len(server.requests) == 1


def test_a_slow_first_byte_times_out_and_the_retry_succeeds() -> None:
    with FakeOpenAIServer([FakeReply('{"answer": "slow"}', delay=3), '{"answer": "fast"}']) as server:
        completion, _, statuses = complete(model_for(server, read_timeout=0.3))
    assert completion.text == '{"answer": "fast"}'
    assert "no reply within the timeout (read_timeout=0.3 s)" in statuses[0]


def test_nothing_listening_fails_at_once_naming_the_endpoint_and_doctor() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}/v1"
    model = ModelConfig(model="m", api_key="sk-test-0123456789", base_url=endpoint, max_retries=3, retry_backoff=5.0)
    statuses: list[str] = []

    async def run() -> None:
        backend = OpenAIBackend(model)
        try:
            await asyncio.wait_for(backend.complete(REQUEST, lambda delta: None, statuses.append), LIVENESS_S)
        finally:
            await backend.aclose()

    with pytest.raises(LLMError) as caught:
        asyncio.run(run())
    message = str(caught.value)
    assert message.startswith(f"LLM call to {endpoint} failed: the connection was refused")
    assert "'weaver doctor'" in message and "attempts" not in message
    assert statuses == []  # no retry was waited for: with a 5 s backoff it would have said so


def test_a_connection_dropped_by_the_server_is_retried() -> None:
    """Something listens but hangs up on every request: a transient fault, so it is retried."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    stop = threading.Event()

    def hang_up() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            connection.recv(65536)
            connection.close()

    thread = threading.Thread(target=hang_up, daemon=True)
    thread.start()
    model = ModelConfig(model="m", api_key="sk-test-0123456789", base_url=f"http://127.0.0.1:{port}/v1", max_retries=1)
    try:
        with pytest.raises(LLMError, match=r"connection failed: .*\(after 2 attempts\)"):
            complete(attrs.evolve(model, retry_backoff=0.01))
    finally:
        stop.set()
        thread.join(LIVENESS_S)
        listener.close()


def test_the_server_echoing_the_key_never_puts_it_in_the_error() -> None:
    secret = "sk-live-Very-Secret-0123456789"
    with FakeOpenAIServer([FakeError(401, f"Incorrect API key provided: {secret}.")]) as server, pytest.raises(LLMError) as info:
        complete(model_for(server, api_key=secret))
    assert secret not in str(info.value) and "****" in str(info.value)
    assert server.headers[0]["authorization"] == f"Bearer {secret}"


def test_the_fake_server_lists_its_model() -> None:
    import openai

    async def models() -> list[str]:
        async with openai.AsyncOpenAI(api_key="k", base_url=server.base_url) as client:
            return [m.id for m in (await client.models.list()).data]

    with FakeOpenAIServer(model="tiny") as server:
        assert asyncio.run(models()) == ["tiny"]


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [({"retry-after": "2"}, 2.0), ({"retry-after-ms": "250"}, 0.25), ({"retry-after": "soon"}, None), ({}, None)],
)
def test_parse_retry_after(headers: dict[str, str], seconds: float | None) -> None:
    assert parse_retry_after(headers) == seconds


def test_parse_retry_after_http_date() -> None:
    from email.utils import formatdate

    assert 8 <= parse_retry_after({"retry-after": formatdate(time.time() + 10, usegmt=True)}) <= 10


def test_azure_openai_is_reached_through_its_deployment_path() -> None:
    with FakeOpenAIServer(['{"answer": "42"}']) as server:
        endpoint = server.base_url.removesuffix("/v1")
        model = ModelConfig(model="my-deployment", api_key="azure-key", base_url=endpoint, api_type="azure", api_version="2024-10-21")
        completion, _, _ = complete(model, attrs.evolve(REQUEST, model="my-deployment"))
    assert completion.text == '{"answer": "42"}'
    assert server.paths == ["/openai/deployments/my-deployment/chat/completions?api-version=2024-10-21"]
    assert server.headers[0]["api-key"] == "azure-key"
