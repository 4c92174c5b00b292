"""Kernel costs: what the warm pool saves, and Weaver's overhead over plain jupyter_client.

Baselines measured in the same run: a plain ``jupyter_client`` kernel start (ipykernel's own
kernel spec, nothing of Weaver's) and a plain execute round trip of ``1+1`` on a started
kernel. Against them: a new Weaver session's first execution from a cold start and with
the warm pool, and a Weaver execution on a running kernel (which also carries the variable
inventory and the runtime's report).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from pathlib import Path

PLAIN_START = "jupyter_client: kernel start"
PLAIN_ROUND_TRIP = "jupyter_client: execute round trip"
COLD = "weaver: new session's first execution, cold start"


async def _plain(repeats: int) -> tuple[list[float], list[float]]:
    from jupyter_client.manager import AsyncKernelManager

    starts, trips = [], []
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
            for _ in range(max(repeats, 20)):
                began = time.perf_counter()
                await client.execute_interactive("1+1", timeout=60, output_hook=lambda msg: None)
                trips.append((time.perf_counter() - began) * 1000)
        client.stop_channels()
        await manager.shutdown_kernel(now=True)
    shutil.rmtree(sockets, ignore_errors=True)
    return starts, trips


def _weaver(project: Path, repeats: int, pool_size: int) -> tuple[list[float], list[float]]:
    from weaver.testing.kernels import kernel_app

    firsts, trips = [], []
    app = kernel_app(project, execution={"pool_size": pool_size})
    try:
        for n in range(repeats):
            if pool_size:
                app.warm_up(wait=True)
            session = app.session()
            began = time.perf_counter()
            assert app.run(session.execute("1+1")).value_repr == "2"
            firsts.append(time.perf_counter() - began)
            if n == 0 and not pool_size:
                for _ in range(max(repeats, 20)):
                    began = time.perf_counter()
                    app.run(session.execute("1+1"))
                    trips.append((time.perf_counter() - began) * 1000)
            session.close()
    finally:
        app.close()
    return firsts, trips


def run(repeats: int) -> list[dict]:
    plain_starts, plain_trips = asyncio.run(_plain(repeats))
    with tempfile.TemporaryDirectory() as project:
        cold, trips = _weaver(Path(project) / "cold", repeats, pool_size=0)
        warm, _ = _weaver(Path(project) / "warm", repeats, pool_size=1)
    return [
        {
            "name": PLAIN_START,
            "unit": "s",
            "samples": plain_starts,
            "baseline": None,
            "note": "AsyncKernelManager + wait_for_ready, ipykernel's python3 spec, IPC transport",
        },
        {
            "name": PLAIN_ROUND_TRIP,
            "unit": "ms",
            "samples": plain_trips,
            "baseline": None,
            "note": "execute_interactive('1+1') on a running kernel (at least 20 samples)",
        },
        {
            "name": COLD,
            "unit": "s",
            "samples": cold,
            "baseline": PLAIN_START,
            "note": "launcher with limits, scrubbed env, runtime install, then 1+1",
        },
        {
            "name": "weaver: new session's first execution, warm pool",
            "unit": "s",
            "samples": warm,
            "baseline": COLD,
            "note": "pool_size = 1, refilled before each sample: adoption (chdir, plugins) then 1+1",
        },
        {
            "name": "weaver: execute round trip",
            "unit": "ms",
            "samples": trips,
            "baseline": PLAIN_ROUND_TRIP,
            "note": "session.execute('1+1') on a running kernel: with the event log and the runtime's report",
        },
    ]
