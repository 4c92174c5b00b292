"""A fake OpenAI-compatible server on 127.0.0.1 for tests: real HTTP, scripted replies, faults.

It implements ``POST /v1/chat/completions`` (plain JSON, or SSE streaming with the final
usage chunk when ``stream_options.include_usage`` is set) and ``GET /v1/models``, so tests
drive the real ``openai`` client over a real socket::

    with FakeOpenAIServer(['{"answer": 42}', FakeError.rate_limited(retry_after=0.2)]) as server:
        app = App(tmp_path, llm=server.llm_config())
        ...
        assert server.requests[0]["model"] == "fake-model"

Replies are scripted as a list, consumed in order (a string is the reply text, a dict is
sent as its JSON, a :class:`FakeReply` controls usage, chunking and stream faults, a
:class:`FakeError` answers with an HTTP error, a :class:`FakeSSE` sends an event stream byte
for byte, as a server of another make would), or as a function of the request's JSON that
returns one of those. Every request body is kept in ``requests`` (its headers, with
lower-case names, in ``headers``; its path and query in ``paths``), the usage of every
reply it sent whole in ``served``, and ``connections`` counts the TCP connections it accepted.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import attrs

DEFAULT_MODEL = "fake-model"


@attrs.frozen
class FakeReply:
    """A scripted reply and how to deliver it.

    ``prompt_tokens``/``completion_tokens`` default to word counts; ``usage=False`` sends no
    usage at all. ``delay`` holds the first byte back (a slow server). When streaming,
    ``cut_after`` drops the connection after that many content chunks,
    ``malformed_after`` sends a chunk that is not JSON after that many, and ``chunk_delay``
    waits between chunks (a server that trickles bytes just fast enough to look alive).
    """

    content: str
    usage: bool = True
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    chunk_size: int = 5
    delay: float = 0.0
    cut_after: int | None = None
    malformed_after: int | None = None
    finish_reason: str = "stop"
    chunk_delay: float = 0.0


@attrs.frozen
class FakeError:
    """An HTTP error reply, optionally with a ``Retry-After`` header (seconds)."""

    status: int = 500
    message: str = "the fake server was told to fail"
    retry_after: float | None = None
    delay: float = 0.0

    @classmethod
    def rate_limited(cls, retry_after: float | None = 0.1) -> FakeError:
        return cls(429, "rate limit reached (fake)", retry_after)


@attrs.frozen
class FakeSSE:
    """A streamed reply sent exactly as given: each of ``parts`` written and flushed on its own,
    ``pause`` seconds apart (so the client reads a line or an event split anywhere), whatever
    the request asked for."""

    parts: tuple[bytes, ...]
    pause: float = 0.0


Scripted = str | Mapping[str, Any] | FakeReply | FakeError | FakeSSE
Responder = Callable[[dict[str, Any]], Scripted]


class FakeOpenAIServer:
    """A real HTTP server on 127.0.0.1 speaking enough of the OpenAI API for Weaver's tests."""

    def __init__(self, replies: Iterable[Scripted] | Responder = (), *, model: str = DEFAULT_MODEL) -> None:
        self.model = model
        self.responder: Responder | None = replies if callable(replies) else None
        self._script: list[Scripted] = [] if callable(replies) else list(replies)
        self.requests: list[dict[str, Any]] = []
        self.served: list[dict[str, int]] = []
        """The usage of every reply sent whole, in order: what a real API would bill."""
        self.headers: list[dict[str, str]] = []
        self.paths: list[str] = []
        self.connections = 0
        """TCP connections accepted so far (a client that keeps its connection alive opens one)."""
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._base_url = ""

    # ---- lifecycle -------------------------------------------------------------------

    def start(self) -> FakeOpenAIServer:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        self._base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        # A short poll interval makes stop() quick; serving itself does not poll.
        self._thread = threading.Thread(target=server.serve_forever, args=(0.02,), name="fake-openai", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop every open connection, so a stopped server really is gone."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.drop_connections()
        self._server.server_close()
        self._server = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- for tests -------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``; after ``stop()`` still the address, where nothing listens now."""
        if not self._base_url:
            raise RuntimeError("the fake server was never started: use it as a context manager or call start()")
        return self._base_url

    def add(self, *replies: Scripted) -> None:
        """Append replies to the script."""
        with self._lock:
            self._script.extend(replies)

    def llm_config(self, **settings: Any) -> dict[str, Any]:
        """An ``[llm]`` table pointing at this server (``App(..., llm=server.llm_config())``)."""
        return {"api_key": "test", "base_url": self.base_url, "model": self.model, **settings}

    def _next(self, body: dict[str, Any]) -> Scripted:
        with self._lock:
            self.requests.append(body)
            if self.responder is not None:
                return self.responder(body)
            if not self._script:
                return FakeError(500, f"FakeOpenAIServer has no scripted reply left for request #{len(self.requests)}")
            return self._script.pop(0)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeOpenAIServer

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.connections: set[socket.socket] = set()
        super().__init__(*args, **kwargs)

    def process_request(self, request: Any, client_address: Any) -> None:
        self.connections.add(request)
        self.fake.connections += 1
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        self.connections.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        for connection in list(self.connections):
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            connection.close()
        self.connections.clear()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY, as real API servers set it: with Nagle's algorithm the body written after
    # the headers waits for the client's delayed ACK, about 40 ms on every request.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests assert on ``requests``, not on a log."""

    def do_GET(self) -> None:
        self.server.fake.paths.append(self.path)
        if urlsplit(self.path).path.rstrip("/").endswith("/models"):
            model = {"id": self.server.fake.model, "object": "model", "created": 0, "owned_by": "weaver"}
            self._json(200, {"object": "list", "data": [model]})
        else:
            self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if not urlsplit(self.path).path.rstrip("/").endswith("/chat/completions"):
            self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
            return
        fake = self.server.fake
        fake.headers.append({name.lower(): value for name, value in self.headers.items()})
        fake.paths.append(self.path)
        scripted = fake._next(body)
        if isinstance(scripted, FakeSSE):
            self._raw_stream(scripted)
            return
        reply = _as_reply(scripted)
        try:
            time.sleep(reply.delay)
            if isinstance(reply, FakeError):
                self._error(reply)
            elif body.get("stream"):
                self._stream(body, reply)
            else:
                self._json(200, _completion(body, reply))
            if isinstance(reply, FakeReply) and reply.usage and reply.cut_after is None and reply.malformed_after is None:
                fake.served.append(_usage(body, reply))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (a timeout test); nothing to answer

    # ---- writing ---------------------------------------------------------------------

    def _json(self, status: int, payload: Any, headers: Mapping[str, str] = {}) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, error: FakeError) -> None:
        headers = {} if error.retry_after is None else {"Retry-After": f"{error.retry_after:g}"}
        kind = "rate_limit_exceeded" if error.status == 429 else "server_error"
        self._json(error.status, {"error": {"message": error.message, "type": kind, "code": kind}}, headers)

    def _stream(self, body: dict[str, Any], reply: FakeReply) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        model = body.get("model", "")
        pieces = [reply.content[i : i + reply.chunk_size] for i in range(0, len(reply.content), reply.chunk_size)]
        self._event(_chunk(model, {"role": "assistant", "content": ""}))
        for index, piece in enumerate(pieces):
            if index == reply.cut_after:
                self._cut()
                return
            if index == reply.malformed_after:
                self._send(b'data: {"id": "chatcmpl-fake", "choices": [{"delta": {"content": \n\n')
            if reply.chunk_delay:
                time.sleep(reply.chunk_delay)
            self._event(_chunk(model, {"content": piece}))
        self._event(_chunk(model, {}, finish_reason=reply.finish_reason))
        if reply.usage and (body.get("stream_options") or {}).get("include_usage"):
            self._event({**_chunk(model, {}), "choices": [], "usage": _usage(body, reply)})
        self._send(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _raw_stream(self, stream: FakeSSE) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for index, part in enumerate(stream.parts):
            if index and stream.pause:
                time.sleep(stream.pause)
            if part:
                self._send(part)
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _event(self, payload: dict[str, Any]) -> None:
        self._send(b"data: " + json.dumps(payload).encode() + b"\n\n")

    def _send(self, data: bytes) -> None:
        self.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _cut(self) -> None:
        """Drop the connection in the middle of the chunked body, as a crashed server would."""
        self.close_connection = True
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)


def _as_reply(scripted: str | Mapping[str, Any] | FakeReply | FakeError) -> FakeReply | FakeError:
    if isinstance(scripted, (FakeReply, FakeError)):
        return scripted
    if isinstance(scripted, str):
        return FakeReply(scripted)
    return FakeReply(json.dumps(scripted))


def _usage(body: dict[str, Any], reply: FakeReply) -> dict[str, int]:
    words = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", ()))
    prompt = reply.prompt_tokens if reply.prompt_tokens is not None else 10 + words
    completion = reply.completion_tokens if reply.completion_tokens is not None else len(reply.content.split()) + 1
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _chunk(model: str, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }


def _completion(body: dict[str, Any], reply: FakeReply) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", ""),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.content},
                "finish_reason": reply.finish_reason,
            }
        ],
    }
    if reply.usage:
        payload["usage"] = _usage(body, reply)
    return payload
