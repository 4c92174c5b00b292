"""Sessions at work: framework overhead per round, memory per idle session, concurrency.

One round is the usual Planner → CodeInterpreter → Planner round: three model calls and one
execution of ``x = 1 + 1`` in the session's real kernel, through every installed extension
(roles, verifier, guards, memory compressor: what ``pip install weaver`` gives), the event
log and the sync or async API. The model answers at once: an in-process scripted backend
(:class:`weaver.testing.ScriptedLLM`, registered through ``weaver_llm_backends``), so no HTTP
is involved and what is left of a round's wall time after its kernel execution time is
Weaver's own work. The same round with the real ``openai`` client against
:class:`weaver.testing.FakeOpenAIServer` (HTTP on 127.0.0.1, in this process) is shown beside it.

Measurements:

- ``round overhead``: round wall time minus the kernel execution time the result reports,
  rounds 2.. of one session (the first round starts the kernel), and the same late in a
  long session (rounds up to :data:`LONG_SESSION`), where the history is long; beside it
  the host process's CPU time per round, which other processes' load does not inflate;
- ``idle session``: the host's memory per session (RSS growth over a batch of sessions that
  each ran one round, divided by the batch; and the Python heap a second such batch keeps,
  by tracemalloc) and the session's kernel RSS and USS, against an idle plain ipykernel
  (``jupyter_client: idle kernel RSS``, from ``bench_kernel``);
- ``concurrency N``: N sessions on one App, each running ``rounds`` rounds at once on the
  App's loop (the async API): throughput, round latency (median; p95 per run) and failed
  rounds. Kernels are started first, all at once (``sessions ready``), so the rounds measure
  steady work, not start-up.

Each concurrency level, and the memory batches, run ``min(repeats, 3)`` times (unless
``concurrency_runs`` says otherwise): they start many kernels, and their figures vary little,
so the whole suite stays within a few minutes on 2 cores.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from weaver.engine import App
from weaver.events import EventType
from weaver.extensions import load_extensions, make_plugin_manager
from weaver.testing import FakeOpenAIServer, ScriptedLLM
from weaver.testing.kernels import kernel_process
from weaver.testing.wire import code_reply, planner_reply

LEVELS = (1, 4, 16, 32)
ROUNDS = 10
CHUNK = 5
"""Characters per streamed piece, as FakeOpenAIServer sends them: a token is about four."""
MEMORY_BATCH = 4
LONG_SESSION = 90
"""Rounds of the long session (the cost guard's default limit is 100 per session)."""
QUESTION = "What is 1 + 1?"
INSTANT = "round overhead, instant model"
KERNEL_RSS_BASELINE = "jupyter_client: idle kernel RSS"


# --------------------------------------------------------------------------------------
# The scripted model: Planner → CodeInterpreter → Planner
# --------------------------------------------------------------------------------------


PLAN = "1. Compute 1 + 1\n2. Report the result"


def respond(request: dict[str, Any]) -> str:
    """The model's words for one request of the round, chosen by who asks and what came last."""
    system = request["messages"][0]["content"]
    if system.startswith("You are CodeInterpreter."):
        return code_reply("x = 1 + 1\nx")
    if system.startswith("You are Planner."):
        last = next(m["content"] for m in reversed(request["messages"]) if m["role"] == "user")
        if last.startswith("CodeInterpreter:"):
            return planner_reply("1 + 1 = 2.", send_to="User", stop="Completed", plan=PLAN)
        return planner_reply("Compute 1 + 1 and show the value.", plan=PLAN)
    return "The User asked for 1 + 1 several times; it is 2."  # a memory summary


@contextmanager
def scripted_app(project: Path, llm: str = "instant", **overrides: Any) -> Iterator[App]:
    """An App with every installed extension and a model answering with :func:`respond`.

    ``llm`` is ``"instant"`` (the in-process backend) or ``"http"`` (the fake server).
    """
    pm = make_plugin_manager()
    report = load_extensions(pm)
    environ = {"WEAVER_CONFIG": str(project / "no-user-config.toml")}
    overrides.setdefault("execution", {"pool_size": 0})
    if llm == "instant":
        scripted = ScriptedLLM(respond, chunk_size=CHUNK)
        pm.register(scripted.extension(), name="scripted-llm")
        with App(project, plugin_manager=pm, load_report=report, environ=environ, llm=scripted.llm_config(), **overrides) as app:
            yield app
    else:
        with FakeOpenAIServer(respond) as server, App(
            project, plugin_manager=pm, load_report=report, environ=environ, llm=server.llm_config(), **overrides
        ) as app:
            yield app


def _kernel_seconds(app: Any) -> Callable[[], float]:
    """A function returning the kernel execution time reported since it was last called."""
    seconds: list[float] = []
    app.subscribe(lambda e: seconds.append(e.data["result"]["duration_s"]) if e.type is EventType.execution else None)

    def take() -> float:
        total = sum(seconds)
        seconds.clear()
        return total

    return take


def _finished(round: Any) -> bool:
    return round.state.value == "finished" and round.answer == "1 + 1 = 2."


# --------------------------------------------------------------------------------------
# Overhead per round
# --------------------------------------------------------------------------------------


def round_overhead(project: Path, llm: str, samples: int) -> dict[str, list[float]]:
    """Wall, kernel, overhead and host CPU (ms) of ``samples`` rounds after a first one in one session."""
    with scripted_app(project, llm) as app:
        kernel = _kernel_seconds(app)
        session = app.session()
        if not _finished(session.send_message(QUESTION)):
            raise RuntimeError(f"the scripted round did not finish: {session.rounds[-1].reason}")
        kernel()
        figures: dict[str, list[float]] = {"wall": [], "kernel": [], "overhead": [], "cpu": []}
        for _ in range(samples):
            started, cpu = time.perf_counter(), time.process_time()
            done = session.send_message(QUESTION)
            wall = time.perf_counter() - started
            figures["cpu"].append((time.process_time() - cpu) * 1000)
            if not _finished(done):
                raise RuntimeError(f"a scripted round did not finish: {done.reason}")
            executed = kernel()
            figures["wall"].append(wall * 1000)
            figures["kernel"].append(executed * 1000)
            figures["overhead"].append((wall - executed) * 1000)
    return figures


# --------------------------------------------------------------------------------------
# Memory per idle session
# --------------------------------------------------------------------------------------


def rss_mb(pid: int | str = "self") -> float:
    """Resident set size of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def uss_mb(pid: int | str = "self") -> float:
    """Unique set size (private pages: what the process alone costs), from /proc."""
    kb = 0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text(encoding="ascii").splitlines():
        if line.startswith(("Private_Clean:", "Private_Dirty:")):
            kb += int(line.split()[1])
    return kb / 1024


def _idle_batch(app: Any, batch: int) -> list[Any]:
    """``batch`` new sessions that each ran one round."""
    sessions = [app.session() for _ in range(batch)]
    for session in sessions:
        if not _finished(session.send_message(QUESTION)):
            raise RuntimeError(f"the scripted round did not finish: {session.rounds[-1].reason}")
    gc.collect()
    return sessions


def idle_memory(project: Path, repeats: int, batch: int = MEMORY_BATCH) -> dict[str, list[float]]:
    """Host MB per session and each kernel's RSS and USS, for ``repeats`` pairs of batches of
    idle sessions: one measured by the process's RSS growth, one by the Python heap it keeps
    (tracemalloc's own bookkeeping would inflate the RSS, hence two batches)."""
    figures: dict[str, list[float]] = {"host": [], "heap": [], "kernel_rss": [], "kernel_uss": []}
    with scripted_app(project) as app:
        warm = app.session()  # imports, caches and the first-use services are not a session's cost
        warm.send_message(QUESTION)
        for _ in range(repeats):
            gc.collect()
            before = rss_mb()
            sessions = _idle_batch(app, batch)
            figures["host"].append((rss_mb() - before) / batch)
            tracemalloc.start()
            sessions += _idle_batch(app, batch)
            figures["heap"].append(tracemalloc.get_traced_memory()[0] / 2**20 / batch)
            tracemalloc.stop()
            for session in sessions:
                app.run(session.execute("None"))
                pid = kernel_process(session.cwd)
                if pid is None:
                    raise RuntimeError(f"no kernel process works in {session.cwd}")
                figures["kernel_rss"].append(rss_mb(pid))
                figures["kernel_uss"].append(uss_mb(pid))
    return figures


# --------------------------------------------------------------------------------------
# Concurrency
# --------------------------------------------------------------------------------------


async def _ready(sessions: Sequence[Any]) -> None:
    """Start every session's kernel at once."""
    await asyncio.gather(*(session.execute("None") for session in sessions))


async def _burst(sessions: Sequence[Any], rounds: int) -> tuple[list[float], int]:
    """Every session runs ``rounds`` rounds, all sessions at once; latencies (ms) and failures."""

    async def one(session: Any) -> tuple[list[float], int]:
        latencies, failures = [], 0
        for _ in range(rounds):
            started = time.perf_counter()
            done = await session.asend_message(QUESTION)
            latencies.append((time.perf_counter() - started) * 1000)
            failures += not _finished(done)
        return latencies, failures

    results = await asyncio.gather(*(one(session) for session in sessions))
    return [ms for latencies, _ in results for ms in latencies], sum(failures for _, failures in results)


def p95(values: Sequence[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1 else values[0]


def concurrency(project: Path, levels: Sequence[int], rounds: int, runs: int) -> dict[int, dict[str, list[float]]]:
    """Per level: sessions-ready time, throughput, latencies, p95 and failures of ``runs`` runs."""
    figures: dict[int, dict[str, list[float]]] = {}
    with scripted_app(project) as app:
        warm = app.session()  # first-use imports and services, once
        warm.send_message(QUESTION)
        warm.close()
        for level in levels:
            level_figures = figures[level] = {"ready": [], "throughput": [], "latency": [], "p95": [], "failed": []}
            for _ in range(runs):
                sessions = [app.session() for _ in range(level)]
                started = time.perf_counter()
                app.run(_ready(sessions))
                level_figures["ready"].append(time.perf_counter() - started)
                started = time.perf_counter()
                latencies, failures = app.run(_burst(sessions, rounds))
                elapsed = time.perf_counter() - started
                level_figures["throughput"].append(level * rounds / elapsed)
                level_figures["latency"] += latencies
                level_figures["p95"].append(p95(latencies))
                level_figures["failed"].append(float(failures))
                for session in sessions:
                    session.close()
    return figures


# --------------------------------------------------------------------------------------
# The rows
# --------------------------------------------------------------------------------------


def run(
    repeats: int,
    *,
    levels: Sequence[int] = LEVELS,
    rounds: int = ROUNDS,
    concurrency_runs: int | None = None,
    memory_batch: int = MEMORY_BATCH,
) -> list[dict[str, Any]]:
    samples = min(max(repeats, 20), LONG_SESSION // 2)
    runs = concurrency_runs or min(repeats, 3)
    with tempfile.TemporaryDirectory(prefix="bench-sessions-") as tmp:
        root = Path(tmp)
        instant = round_overhead(root / "instant", "instant", LONG_SESSION)
        http = round_overhead(root / "http", "http", samples)
        memory = idle_memory(root / "memory", runs, memory_batch)
        concurrent = concurrency(root / "concurrency", levels, rounds, runs)
    round_note = f"Planner → CodeInterpreter → Planner, every installed extension; rounds 2–{samples + 1} of one session"
    rows: list[dict[str, Any]] = [
        {"name": INSTANT, "unit": "ms", "samples": instant["overhead"][:samples], "baseline": None,
         "note": f"round wall time minus kernel execution time; in-process scripted backend; {round_note}"},
        {"name": "round wall time, instant model", "unit": "ms", "samples": instant["wall"][:samples], "baseline": None,
         "note": f"send_message() to the answer; {round_note}"},
        {"name": "round kernel execution, instant model", "unit": "ms", "samples": instant["kernel"][:samples],
         "baseline": None, "note": "the execution's duration_s as the executor reports it (x = 1 + 1)"},
        {"name": "round host CPU, instant model", "unit": "ms", "samples": instant["cpu"][:samples], "baseline": None,
         "note": "CPU time of this process (all threads) per round: Weaver's work, unaffected by other processes' load"},
        {"name": "round overhead, instant model, long session", "unit": "ms", "samples": instant["overhead"][-samples:],
         "baseline": INSTANT, "note": f"the same, the last {samples} of {LONG_SESSION} rounds of the session"},
        {"name": "round overhead, HTTP fake server", "unit": "ms", "samples": http["overhead"], "baseline": INSTANT,
         "note": f"the same round through the openai client and FakeOpenAIServer (HTTP, same process); {round_note}"},
        {"name": "idle session: host memory", "unit": "MB", "samples": memory["host"], "baseline": None,
         "note": f"host RSS growth per session, batches of {memory_batch} sessions that each ran one round "
         "(the allocator reuses memory freed earlier, so this can read low)"},
        {"name": "idle session: host Python heap", "unit": "MB", "samples": memory["heap"], "baseline": None,
         "note": f"Python memory a session still holds after its round (tracemalloc), batches of {memory_batch}"},
        {"name": "idle session: kernel RSS", "unit": "MB", "samples": memory["kernel_rss"], "baseline": KERNEL_RSS_BASELINE,
         "note": "the session's kernel after one round (runtime and plugins installed)"},
        {"name": "idle session: kernel USS", "unit": "MB", "samples": memory["kernel_uss"], "baseline": None,
         "note": "private pages of the session's kernel: what one more kernel really costs"},
        {"name": "idle session: host + kernel RSS", "unit": "MB",
         "samples": [max(statistics.median(memory["host"]), statistics.median(memory["heap"])) + rss
                     for rss in memory["kernel_rss"]],
         "baseline": KERNEL_RSS_BASELINE, "note": "the larger median host share plus each kernel's RSS"},
    ]
    for level, figures in concurrent.items():
        name = f"concurrency {level}"
        first = f"concurrency {levels[0]}"
        own = f"{level} sessions × {rounds} rounds at once on one App, {runs} run(s)"
        rows += [
            {"name": f"{name}: sessions ready", "unit": "s", "samples": figures["ready"], "baseline": None,
             "note": f"{level} kernels started at once, before the rounds"},
            {"name": f"{name}: throughput", "unit": "rounds/s", "samples": figures["throughput"],
             "baseline": f"{first}: throughput" if level != levels[0] else None, "note": own},
            {"name": f"{name}: round latency", "unit": "ms", "samples": figures["latency"],
             "baseline": f"{first}: round latency" if level != levels[0] else None, "note": f"every round of every run; {own}"},
            {"name": f"{name}: round latency p95", "unit": "ms", "samples": figures["p95"], "baseline": None,
             "note": f"95th percentile per run; {own}"},
            {"name": f"{name}: failed rounds", "unit": "rounds", "samples": figures["failed"], "baseline": None,
             "note": f"rounds that did not finish with the right answer, per run; {own}"},
        ]
    return rows
