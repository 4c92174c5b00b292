"""Kernel costs: what the warm pool saves, and Weaver's overhead over plain jupyter_client.

Baselines measured in the same run: a plain ``jupyter_client`` kernel start (ipykernel's own
kernel spec, nothing of Weaver's), a plain execute round trip of ``1+1`` on a started
kernel, and that idle kernel's RSS (the baseline of ``bench_sessions``' memory per idle
session). Against them: the time from ``app.session()`` to a new session's first result
from a cold start and with the warm pool, and a Weaver execution on a running kernel (which
also carries the variable inventory and the runtime's report).

The Weaver rows run with the default settings (``sandbox = "auto"``: bubblewrap where it
works, and a kernel user of its own on a root host); the cold start and the warm pool are
also measured in each mode alone (``in bubblewrap``, ``without a sandbox``), where this
machine can run it, with what the boundary's helper processes cost in memory (bubblewrap's
two, or the supervisor outside a sandbox).

With the pool, a sample takes the pool's kernel the moment it is ready (the pure cost of
adopting it and running the code; the target is a first result within twice a plain
execute round trip on a warm kernel), and again after it has been idle for
:data:`POOL_IDLE_S`, as a pool kernel waiting for its session is. On a virtual machine an
idle process can take tens of milliseconds to wake; ``jupyter_client: execute after idle``
measures that for a plain kernel, the baseline of the second figure.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from pathlib import Path

PLAIN_START = "jupyter_client: kernel start"
PLAIN_ROUND_TRIP = "jupyter_client: execute round trip"
PLAIN_RSS = "jupyter_client: idle kernel RSS"
PLAIN_IDLE = "jupyter_client: execute after idle"
POOL_IDLE_S = 1.0
COLD = "weaver: new session's first execution, cold start"


async def _plain(repeats: int) -> dict[str, list[float]]:
    from jupyter_client.manager import AsyncKernelManager

    async def trip(client: object) -> float:
        began = time.perf_counter()
        await client.execute_interactive("1+1", timeout=60, output_hook=lambda msg: None)  # type: ignore[attr-defined]
        return (time.perf_counter() - began) * 1000

    starts, trips, idle, rss = [], [], [], []
    sockets = tempfile.mkdtemp(prefix="bench-kernel-")
    for n in range(repeats):
        # IPC, as Weaver's kernels use: the same transport on both sides of the comparison.
        manager = AsyncKernelManager(kernel_name="python3", transport="ipc", ip=f"{sockets}/ipc-{n}")
        began = time.perf_counter()
        await manager.start_kernel()
        client = manager.client()
        client.start_channels()
        await client.wait_for_ready(timeout=60)
        starts.append(time.perf_counter() - began)
        if n == 0:
            trips += [await trip(client) for _ in range(max(repeats, 20))]
        await asyncio.sleep(POOL_IDLE_S)
        idle.append(await trip(client))
        rss.append(_rss_mb(manager.provisioner.pid))
        client.stop_channels()
        await manager.shutdown_kernel(now=True)
    shutil.rmtree(sockets, ignore_errors=True)
    return {"starts": starts, "trips": trips, "idle": idle, "rss": rss}


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def _weaver(
    project: Path, repeats: int, pool_size: int, idle_s: float = 0.0, execution: dict | None = None
) -> tuple[list[float], list[float], list[float]]:
    """First results, round trips and the USS of the kernel's helper processes."""
    from weaver.testing.kernels import descendants, kernel_app, kernel_process

    project.mkdir(mode=0o755, parents=True)
    firsts, trips, helpers = [], [], []
    app = kernel_app(project, execution={"pool_size": pool_size, **(execution or {})})
    try:
        for n in range(repeats):
            if pool_size:
                app.warm_up(wait=True)
                time.sleep(idle_s)
            began = time.perf_counter()
            session = app.session()
            assert app.run(session.execute("1+1")).value_repr == "2"
            firsts.append(time.perf_counter() - began)
            kernel = kernel_process(session.cwd)
            roots = [pid for pid in _live_kernels() if kernel in {pid, *descendants(pid)}]
            helpers.append(sum(_uss_mb(pid) for pid in {roots[0], *descendants(roots[0])} - {kernel}))
            if n == 0 and not pool_size:
                for _ in range(max(repeats, 20)):
                    began = time.perf_counter()
                    app.run(session.execute("1+1"))
                    trips.append((time.perf_counter() - began) * 1000)
            session.close()
    finally:
        app.close()
    return firsts, trips, helpers


def _live_kernels() -> tuple[int, ...]:
    from weaver.execution import lifecycle

    return lifecycle.live_pids()


def _uss_mb(pid: int) -> float:
    kb = 0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text(encoding="ascii").splitlines():
        if line.startswith(("Private_Clean:", "Private_Dirty:")):
            kb += int(line.split()[1])
    return kb / 1024


def _modes() -> dict[str, dict]:
    """The modes this machine can run, by the name their rows carry."""
    from weaver.execution.sandbox import bwrap_status
    from weaver.testing.kernels import reachable_python

    modes = {}
    if bwrap_status()[0]:
        modes["in bubblewrap"] = {"sandbox": "bwrap"}
    python = reachable_python()
    if python is not None:
        modes["without a sandbox"] = {"sandbox": "none", "python": python}
    return modes


def run(repeats: int) -> list[dict]:
    plain = asyncio.run(_plain(repeats))
    per_mode: list[dict] = []
    with tempfile.TemporaryDirectory() as scratch:
        project = Path(scratch)
        project.chmod(0o755)  # a kernel of a root host is another user, outside a sandbox too
        cold, trips, _ = _weaver(project / "cold", repeats, pool_size=0)
        warm, _, _ = _weaver(project / "warm", repeats, pool_size=1)
        waited, _, _ = _weaver(project / "waited", repeats, pool_size=1, idle_s=POOL_IDLE_S)
        for n, (mode, execution) in enumerate(_modes().items()):
            mode_cold, _, helpers = _weaver(project / f"cold-{n}", repeats, pool_size=0, execution=execution)
            mode_warm, _, _ = _weaver(project / f"warm-{n}", repeats, pool_size=1, execution=execution)
            per_mode += [
                {
                    "name": f"{COLD}, {mode}",
                    "unit": "s",
                    "samples": mode_cold,
                    "baseline": PLAIN_START,
                    "note": f"as the cold start above, [execution] {execution}",
                },
                {
                    "name": f"weaver: new session's first execution, warm pool, {mode}",
                    "unit": "ms",
                    "samples": [s * 1000 for s in mode_warm],
                    "baseline": PLAIN_ROUND_TRIP,
                    "note": f"as the warm pool above, [execution] {execution}",
                },
                {
                    "name": f"weaver: the kernel's helper processes, {mode}",
                    "unit": "MB",
                    "samples": helpers,
                    "baseline": None,
                    "note": "USS of the processes around the kernel: bubblewrap's two, or the supervisor",
                },
            ]
    return [
        {
            "name": PLAIN_START,
            "unit": "s",
            "samples": plain["starts"],
            "baseline": None,
            "note": "AsyncKernelManager + wait_for_ready, ipykernel's python3 spec, IPC transport",
        },
        {
            "name": PLAIN_ROUND_TRIP,
            "unit": "ms",
            "samples": plain["trips"],
            "baseline": None,
            "note": "execute_interactive('1+1') on a running kernel, back to back (at least 20 samples)",
        },
        {
            "name": PLAIN_IDLE,
            "unit": "ms",
            "samples": plain["idle"],
            "baseline": PLAIN_ROUND_TRIP,
            "note": f"the same, on a kernel idle for {POOL_IDLE_S:g} s (as a pool kernel waits for its session)",
        },
        {
            "name": PLAIN_RSS,
            "unit": "MB",
            "samples": plain["rss"],
            "baseline": None,
            "note": "RSS of the plain ipykernel after its round trips",
        },
        {
            "name": COLD,
            "unit": "s",
            "samples": cold,
            "baseline": PLAIN_START,
            "note": "app.session() to the result of 1+1: launcher with limits and the boundary, scrubbed env, "
            "runtime install; the default sandbox = 'auto'",
        },
        {
            "name": "weaver: new session's first execution, warm pool",
            "unit": "ms",
            "samples": [s * 1000 for s in warm],
            "baseline": PLAIN_ROUND_TRIP,
            "note": "app.session() to the result of 1+1, pool_size = 1, the pool's kernel taken as soon as it is "
            "ready: adoption (chdir, plugins) then 1+1",
        },
        {
            "name": "weaver: new session's first execution, warm pool, kernel idle",
            "unit": "ms",
            "samples": [s * 1000 for s in waited],
            "baseline": PLAIN_IDLE,
            "note": f"the same, the pool's kernel idle for {POOL_IDLE_S:g} s first",
        },
        {
            "name": "weaver: execute round trip",
            "unit": "ms",
            "samples": trips,
            "baseline": PLAIN_ROUND_TRIP,
            "note": "session.execute('1+1') on a running kernel: with the event log and the runtime's report",
        },
        *per_mode,
    ]
