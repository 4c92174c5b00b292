"""The HTTP service against the in-process API: throughput and round latency, same rounds, same run.

The same rounds run twice, against the same fake model (:class:`weaver.testing.FakeOpenAIServer`
answering with :func:`weaver_server.testing.scripted_model`, over HTTP on 127.0.0.1) and the same
installed extensions:

- ``in-process``: N sessions of one :class:`weaver.App`, each running ``rounds`` rounds at once
  with ``asend_message`` on the App's loop (the baseline);
- ``server``: ``weaver serve`` in a subprocess and N API clients (threads, httpx2), each with a
  session of its own, each round sent with ``POST .../messages`` and followed on the session's
  event stream until its ``round_end``, as a front end does.

Before the measured rounds every session has run one round, so its kernel is started and the
first-use imports are paid for. A round is ``Planner → CodeInterpreter → Planner`` with one
execution of ``print(...)`` in the session's kernel. Rows: throughput (rounds/s) per level, the
latency of every round (the runner reports its median, p50) and the p95 of each run, with the
server's rows as ratios to the in-process ones.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx2

from weaver.engine import App
from weaver.testing import FakeOpenAIServer
from weaver_server.testing import clean_environment, scripted_model, serve, write_project

LEVELS = (1, 32)
ROUNDS = 10
TOKEN = "bench-token-0123456789abcdef"
TIMEOUT_S = 600.0


def question(client: int, round: int) -> tuple[str, str]:
    """The request and the answer it must get."""
    return f"run: print({client} * 1000 + {round})", f"Done: {client * 1000 + round}"


def p95(values: Sequence[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1 else values[0]


# --------------------------------------------------------------------------------------
# In process
# --------------------------------------------------------------------------------------


def in_process(project: Path, level: int, rounds: int) -> tuple[float, list[float], int]:
    """Throughput (rounds/s), latencies (ms) and failed rounds of ``level`` sessions at once."""
    with App(project, environ=clean_environment()) as app:
        sessions = [app.session() for _ in range(level)]

        async def one(number: int, session: Any, count: int, latencies: list[float]) -> int:
            failed = 0
            for n in range(count):
                text, answer = question(number, n)
                started = time.perf_counter()
                done = await session.asend_message(text)
                latencies.append((time.perf_counter() - started) * 1000)
                failed += done.answer != answer
            return failed

        async def burst(count: int, latencies: list[float]) -> int:
            return sum(await asyncio.gather(*(one(n, s, count, latencies) for n, s in enumerate(sessions))))

        app.run(burst(1, []))  # kernels started, first-use costs paid
        latencies: list[float] = []
        started = time.perf_counter()
        failed = app.run(burst(rounds, latencies))
        elapsed = time.perf_counter() - started
    return level * rounds / elapsed, latencies, failed


# --------------------------------------------------------------------------------------
# Over HTTP
# --------------------------------------------------------------------------------------


def _client(
    url: str, number: int, rounds: int, latencies: list[float], failures: list[str], barrier: threading.Barrier
) -> None:
    """One API client: a session, a first round, then (once every client is there) the measured rounds."""
    with httpx2.Client(base_url=url + "/v1", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=TIMEOUT_S) as http:
        session_id = http.post("/sessions").json()["id"]
        for n in range(rounds + 1):
            if n == 1:
                barrier.wait(TIMEOUT_S)
            text, answer = question(number, n)
            started = time.perf_counter()
            body = http.post(f"/sessions/{session_id}/messages", json={"text": text}).json()
            params = {"after": body["after"], "round_id": body["round_id"]}
            with http.sse(f"/sessions/{session_id}/events", params=params) as source:
                ends = [json.loads(m.data) for m in source if m.event == "round_end"]
            if n:
                latencies.append((time.perf_counter() - started) * 1000)
            if not ends or ends[-1]["data"]["round"]["answer"] != answer:
                failures.append(f"client {number} round {n}")
        http.delete(f"/sessions/{session_id}")


def over_http(url: str, level: int, rounds: int) -> tuple[float, list[float], int]:
    """Throughput, latencies and failed rounds of ``level`` API clients at once (after one round each)."""
    latencies: list[float] = []
    failures: list[str] = []
    barrier = threading.Barrier(level + 1)
    threads = [
        threading.Thread(target=_client, args=(url, n, rounds, latencies, failures, barrier)) for n in range(level)
    ]
    for thread in threads:
        thread.start()
    barrier.wait(TIMEOUT_S)  # every session has run its first round
    started = time.perf_counter()
    for thread in threads:
        thread.join(TIMEOUT_S)
    elapsed = time.perf_counter() - started
    return level * rounds / elapsed, latencies, len(failures)


# --------------------------------------------------------------------------------------
# The rows
# --------------------------------------------------------------------------------------


def run(repeats: int, *, levels: Sequence[int] = LEVELS, rounds: int = ROUNDS, runs: int | None = None) -> list[dict[str, Any]]:
    runs = runs or (1 if repeats < 5 else 2)
    figures: dict[tuple[str, int], dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-server-") as tmp, FakeOpenAIServer(scripted_model) as model:
        project = write_project(Path(tmp) / "project", model.base_url)

        def record(mode: str, level: int, measured: tuple[float, list[float], int]) -> None:
            throughput, latencies, failed = measured
            mine = figures.setdefault((mode, level), {"throughput": [], "latency": [], "p95": [], "failed": []})
            mine["throughput"].append(throughput)
            mine["latency"] += latencies
            mine["p95"].append(p95(latencies))
            mine["failed"].append(float(failed))

        for level in levels:
            for _ in range(runs):
                record("in-process", level, in_process(project, level, rounds))
        with serve(project, tokens={"bench": TOKEN}) as service:
            for level in levels:
                for _ in range(runs):
                    record("server", level, over_http(service.url, level, rounds))
    rows: list[dict[str, Any]] = []
    for (mode, level), values in figures.items():
        name = f"{mode}: {level} clients"
        baseline = f"in-process: {level} clients" if mode == "server" else None
        own = f"{level} at once × {rounds} rounds, {runs} run(s); " + (
            "HTTP API, each round followed on its event stream" if mode == "server" else "asend_message on one App"
        )
        rows += [
            {"name": f"{name}: throughput", "unit": "rounds/s", "samples": values["throughput"],
             "baseline": f"{baseline}: throughput" if baseline else None, "note": own},
            {"name": f"{name}: round latency", "unit": "ms", "samples": values["latency"],
             "baseline": f"{baseline}: round latency" if baseline else None, "note": f"every round (median = p50); {own}"},
            {"name": f"{name}: round latency p95", "unit": "ms", "samples": values["p95"],
             "baseline": f"{baseline}: round latency p95" if baseline else None, "note": f"95th percentile per run; {own}"},
            {"name": f"{name}: failed rounds", "unit": "rounds", "samples": values["failed"], "baseline": None,
             "note": f"rounds without the right answer, per run; {own}"},
        ]  # fmt: skip
    return rows
