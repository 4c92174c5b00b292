"""The gateway executor against a plain Kernel Gateway client and the local executor, in one run.

A Kernel Gateway on 127.0.0.1 (``weaver_gateway.testing``) serves all three. The plain
client is what any Kernel Gateway client does, with the same libraries (httpx2 for REST,
websockets for the channels): ``POST /api/kernels``, open the websocket, send
``execute_request`` and read until the reply and IOPub's ``idle``. Two figures each:

- **first result**: from nothing to the value of ``1 + 1`` in a new kernel (for Weaver: the
  kernel started, the session staged in it and its runtime set up, then the code);
- **round trip**: ``1 + 1`` in a kernel that already ran code (Weaver: its result with the
  variable inventory, the report, the caps).

The gateway executor's figures name the plain client's as their baselines, so the ratio is
Weaver's overhead over the protocol itself; its round trip is also given against the local
executor's (what running the kernel behind a gateway costs). No pool: every first result
starts a kernel.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx2
from jupyter_client.jsonutil import json_default
from jupyter_client.session import Session
from websockets.asyncio.client import connect

import weaver_gateway
from weaver.config import Config, build_config, overrides_layer
from weaver.execution.executor import ExecutorSetup
from weaver.execution.kernel import KernelExecutor, LocalExecutor
from weaver.extensions import build_registry, load_extensions, make_plugin_manager, register
from weaver_gateway.executor import GatewayExecutor
from weaver_gateway.testing import KERNEL_NAME, GatewayServer, running_gateway

ROUND_TRIPS = 20
"""Round trips per sample (their median is the sample)."""
PLAIN_FIRST = "plain Kernel Gateway client: first result"
PLAIN_TRIP = "plain Kernel Gateway client: round trip"
LOCAL_FIRST = "local executor: first result"
LOCAL_TRIP = "local executor: round trip"


async def plain_client(gateway: GatewayServer) -> tuple[float, list[float]]:
    """First result and round trips of a bare Kernel Gateway client."""
    headers = {"Authorization": f"token {gateway.token}"}
    session = Session(key=b"")
    started = time.perf_counter()
    async with httpx2.AsyncClient(base_url=gateway.url, headers=headers, trust_env=False, timeout=60) as http:
        kernel = (await http.post("/api/kernels", json={"name": KERNEL_NAME})).json()["id"]
        try:
            url = f"ws://127.0.0.1:{gateway.port}/api/kernels/{kernel}/channels?session_id={session.session}"
            async with connect(url, additional_headers=headers, max_size=None, proxy=None) as ws:

                async def execute(code: str) -> None:
                    msg = session.msg("execute_request", {"code": code, "silent": False})
                    await ws.send(json.dumps({**msg, "channel": "shell"}, default=json_default))
                    replied = idle = False
                    while not (replied and idle):
                        got = json.loads(await ws.recv())
                        if got["parent_header"].get("msg_id") != msg["header"]["msg_id"]:
                            continue
                        replied = replied or got["channel"] == "shell"
                        idle = idle or (got["msg_type"] == "status" and got["content"]["execution_state"] == "idle")

                await execute("1 + 1")
                first = time.perf_counter() - started
                trips = []
                for _ in range(ROUND_TRIPS):
                    begun = time.perf_counter()
                    await execute("1 + 1")
                    trips.append(time.perf_counter() - begun)
        finally:
            await http.delete(f"/api/kernels/{kernel}")
    return first, trips


async def weaver_executor(executor: KernelExecutor) -> tuple[float, list[float]]:
    started = time.perf_counter()
    try:
        result = await executor.execute("1 + 1")
        assert result.ok and result.value_repr == "2", result
        first = time.perf_counter() - started
        trips = []
        for _ in range(ROUND_TRIPS):
            begun = time.perf_counter()
            assert (await executor.execute("1 + 1")).ok
            trips.append(time.perf_counter() - begun)
    finally:
        await executor.close()
    return first, trips


async def measure(name: str, gateway: GatewayServer, settings: Config, session: Path) -> tuple[float, list[float]]:
    if name == "plain":
        return await plain_client(gateway)
    kind = GatewayExecutor if name == "gateway" else LocalExecutor
    return await weaver_executor(kind(session, settings, ExecutorSetup(session.name)))


def config(project: Path, gateway: GatewayServer) -> Config:
    pm = make_plugin_manager()
    load_extensions(pm, only=(), entry_points=())
    register(pm, weaver_gateway)
    layer = overrides_layer({"gateway": gateway.config(), "execution": {"pool_size": 0}}, "bench")
    return build_config(project, [layer], build_registry(pm).config_tables)


def median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def run(repeats: int) -> list[dict[str, Any]]:
    figures: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in ("plain", "gateway", "local")}
    with running_gateway("kernel") as gateway, tempfile.TemporaryDirectory(prefix="weaver-bench-gateway-") as scratch:
        settings = config(Path(scratch), gateway)
        for n in range(repeats):
            for name in ("plain", "gateway", "local"):  # interleaved, so drift of the machine hits all three
                first, trips = asyncio.run(measure(name, gateway, settings, Path(scratch) / "sessions" / f"{name}-{n}"))
                figures[name][0].append(first * 1000)
                figures[name][1].append(median(trips) * 1000)
        assert gateway.kernels() == []

    def row(name: str, samples: list[float], baseline: str | None, note: str) -> dict[str, Any]:
        return {"name": name, "unit": "ms", "samples": samples, "baseline": baseline, "note": note}

    return [
        row(PLAIN_FIRST, figures["plain"][0], None, "POST /api/kernels, websocket, 1 + 1"),
        row(PLAIN_TRIP, figures["plain"][1], None, f"median of {ROUND_TRIPS} executions of 1 + 1"),
        row(LOCAL_FIRST, figures["local"][0], None, "a local kernel started, set up, 1 + 1"),
        row(LOCAL_TRIP, figures["local"][1], None, f"median of {ROUND_TRIPS}"),
        row("gateway executor: first result", figures["gateway"][0], PLAIN_FIRST, "kernel on the gateway, session staged, runtime set up, 1 + 1"),
        row("gateway executor: round trip", figures["gateway"][1], PLAIN_TRIP, f"median of {ROUND_TRIPS}; Weaver's overhead over the protocol"),
        row("gateway executor: round trip, against local", figures["gateway"][1], LOCAL_TRIP, "what a gateway between host and kernel costs"),
        row("gateway executor: first result, against local", figures["gateway"][0], LOCAL_FIRST, "the same, for a new session"),
    ]
