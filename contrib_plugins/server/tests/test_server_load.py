"""Load: 32 API clients at once, each running 10 rounds in its own session and following every
round on the event stream. No round may fail, and once the sessions are deleted the service
holds no more kernels or file descriptors than before."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx2
import psutil
import pytest

from weaver.testing import FakeOpenAIServer
from weaver_server.testing import scripted_model, serve, write_project

pytestmark = pytest.mark.slow

CLIENTS = 32
ROUNDS = 10
TOKENS = {f"user{n}": f"token-of-user-{n:02d}-0123456789" for n in range(4)}
LIVENESS = 600.0
POOL = 0
"""No warm pool: once the sessions are gone the service must hold no kernel at all (and a pool
kernel starting in the background would make the descriptor count move by itself)."""
FD_SLACK = 4
"""Descriptors the service may hold beyond its count before the load (a socket being closed):
far fewer than one a session, so a leak per session or round is caught. Connections to the
model are counted apart: the LLM client keeps idle ones open for reuse, as many as calls ran
at once."""


RELEASE = 60.0
"""How long descriptors may take to be closed once every kernel has exited (a liveness bound:
closing them takes milliseconds; a leak never ends)."""


def wait_for(condition: Callable[[], bool], what: str, bound: float = LIVENESS) -> None:
    deadline = time.monotonic() + bound
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def client(url: str, token: str) -> httpx2.Client:
    return httpx2.Client(base_url=url + "/v1", headers={"Authorization": f"Bearer {token}"}, timeout=LIVENESS)


def rounds_of_one_client(url: str, token: str, number: int, failures: list[str], sessions: list[tuple[str, str]]) -> None:
    with client(url, token) as http:
        session_id = http.post("/sessions").json()["id"]
        sessions.append((token, session_id))
        for n in range(ROUNDS):
            expected = number * 1000 + n
            started = http.post(f"/sessions/{session_id}/messages", json={"text": f"run: print({number} * 1000 + {n})"})
            if started.status_code != 202:
                failures.append(f"client {number} round {n}: {started.status_code} {started.text}")
                return
            body = started.json()
            params = {"after": body["after"], "round_id": body["round_id"]}
            with http.sse(f"/sessions/{session_id}/events", params=params) as source:
                last = [json.loads(m.data) for m in source if m.data and m.event == "round_end"]
            answer = last[-1]["data"]["round"]["answer"] if last else None
            if answer != f"Done: {expected}":
                failures.append(f"client {number} round {n}: {answer!r}")


def descriptors(process: psutil.Process, model_port: int) -> tuple[int, int]:
    """The process's open descriptors other than its connections to the model, and those connections."""
    model = sum(1 for c in process.net_connections("tcp") if c.raddr and c.raddr.port == model_port)
    return len(os.listdir(f"/proc/{process.pid}/fd")) - model, model


def test_32_clients_10_rounds_each_streaming(tmp_path: Path) -> None:
    with FakeOpenAIServer(scripted_model) as model:
        project = write_project(tmp_path / "project", model.base_url, execution={"pool_size": POOL})
        with serve(project, tokens=TOKENS) as service:
            process = psutil.Process(service.process.pid)
            token = next(iter(TOKENS.values()))
            with client(service.url, token) as http:  # the first round pays for first-use imports and services
                warm = http.post("/sessions").json()["id"]
                started = http.post(f"/sessions/{warm}/messages", json={"text": "run: print(0)"}).json()
                with http.sse(f"/sessions/{warm}/events", params={"round_id": started["round_id"]}) as source:
                    list(source)
                assert http.delete(f"/sessions/{warm}").status_code == 204
            wait_for(lambda: len(process.children()) == POOL, "the warm session's kernel to close")
            model_port = int(model.base_url.rsplit(":", 1)[1].split("/", 1)[0])
            fds_before, _ = descriptors(process, model_port)

            failures: list[str] = []
            sessions: list[tuple[str, str]] = []
            tokens = list(TOKENS.values())
            threads = [
                threading.Thread(target=rounds_of_one_client, args=(service.url, tokens[n % len(tokens)], n, failures, sessions))
                for n in range(CLIENTS)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(LIVENESS)
            assert not any(thread.is_alive() for thread in threads), "a client hung"
            assert failures == []
            assert len(sessions) == CLIENTS
            peak_kernels = len(process.children())
            assert peak_kernels >= CLIENTS, "every session ran in a kernel of its own"

            for token, session_id in sessions:
                with client(service.url, token) as http:
                    assert http.delete(f"/sessions/{session_id}").status_code == 204
            wait_for(lambda: len(process.children()) <= POOL, "every session's kernel to close")
            with contextlib.suppress(AssertionError):
                wait_for(lambda: descriptors(process, model_port)[0] <= fds_before + FD_SLACK, "descriptors", RELEASE)
            held, _ = descriptors(process, model_port)
            assert held <= fds_before + FD_SLACK, f"descriptors leaked: {fds_before} before the load, {held} after"
            assert descriptors(process, model_port)[1] <= CLIENTS, "kept connections to the model: at most one a client"
            assert process.children(recursive=True) == [], "no kernel, no process of a kernel left"
            users = service.workspace / "users"
            assert sum(1 for _ in users.glob("*/sessions/*")) == 0
