"""Faults of a real gateway, each a recorded failure within its time limit, never a hang:
unreachable at start, a refused token, the websocket dropping mid-execution (through a
proxy that cuts connections), the gateway restarting, its idle culler ending the kernel;
and the janitor deleting the kernels a killed host left."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

import weaver_gateway
from weaver.config import Config, build_config, overrides_layer
from weaver.execution.executor import ExecutorSetup, KernelStartError
from weaver.extensions import build_registry, load_extensions, make_plugin_manager, register
from weaver_gateway import lifecycle
from weaver_gateway.executor import GatewayExecutor
from weaver_gateway.testing import GatewayServer, free_port, running_gateway

T = TypeVar("T")
LIVENESS_S = 60.0


def gateway_config(project: Path, gateway: dict[str, Any], **execution: Any) -> Config:
    pm = make_plugin_manager()
    load_extensions(pm, only=(), entry_points=())
    register(pm, weaver_gateway)
    layer = overrides_layer({"gateway": gateway, "execution": {"executor": "gateway", "pool_size": 0, **execution}}, "test")
    return build_config(project, [layer], build_registry(pm).config_tables)


def with_executor(
    tmp_path: Path, gateway: dict[str, Any], body: Callable[[GatewayExecutor], Awaitable[T]], **execution: Any
) -> T:
    config = gateway_config(tmp_path, gateway, **execution)

    async def scenario() -> T:
        executor = GatewayExecutor.create(tmp_path / "sessions" / "s", config, ExecutorSetup("s"))
        try:
            return await asyncio.wait_for(body(executor), LIVENESS_S * 2)
        finally:
            await executor.close()

    return asyncio.run(scenario())


class CuttableProxy:
    """A TCP proxy on 127.0.0.1 in front of a gateway: :meth:`cut` drops every open
    connection (a network blip), ``refuse`` makes it turn new ones away."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.refuse = False
        self.cuts = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> CuttableProxy:
        self._thread.start()
        assert self._ready.wait(LIVENESS_S)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(LIVENESS_S)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", self.port))
        self._ready.set()
        self._loop.run_forever()
        self._server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refuse:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.IncompleteReadError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    def cut(self) -> None:
        def close_all() -> None:
            for writer in list(self._writers):
                writer.transport.abort()
            self.cuts += 1

        self._loop.call_soon_threadsafe(close_all)


# ---- at start --------------------------------------------------------------------------


def test_an_unreachable_gateway_fails_at_start_naming_its_address(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"

    async def body(executor: GatewayExecutor) -> BaseException:
        with pytest.raises(KernelStartError) as caught:
            await executor.execute("1")
        return caught.value

    error = with_executor(tmp_path, {"url": url, "connect_timeout_s": 5}, body)
    assert url in str(error) and "unreachable" in str(error)


@pytest.mark.parametrize("token", ["wrong-token", ""], ids=["wrong", "none"])
def test_a_refused_token_is_a_clear_error_that_never_shows_a_token(
    no_kernel_left: GatewayServer, tmp_path: Path, token: str
) -> None:
    async def body(executor: GatewayExecutor) -> BaseException:
        with pytest.raises(KernelStartError) as caught:
            await executor.execute("1")
        return caught.value

    error = with_executor(tmp_path, no_kernel_left.config(token=token), body)
    text = str(error)
    assert "HTTP 401" in text and no_kernel_left.url in text and "WEAVER_GATEWAY__TOKEN" in text
    assert no_kernel_left.token not in text and (not token or token not in text)


# ---- the websocket ---------------------------------------------------------------------


def test_a_websocket_dropped_mid_execution_is_reopened_and_reading_resumes(
    no_kernel_left: GatewayServer, tmp_path: Path
) -> None:
    """The gateway keeps what the kernel sent while no socket was open and replays it to the
    reopened one, so the result has all of the output, in order."""
    code = "import time\nprint('before', flush=True)\ntime.sleep(3)\nprint('after', flush=True)\nresult = 6 * 7\nresult"

    with CuttableProxy(no_kernel_left.port) as proxy:

        async def body(executor: GatewayExecutor) -> tuple[Any, int]:
            seen = asyncio.Event()
            run = asyncio.ensure_future(
                executor.execute(code, on_output=lambda stream, text: seen.set() if "before" in text else None)
            )
            await asyncio.wait_for(seen.wait(), LIVENESS_S)
            proxy.cut()
            result = await run
            kernel = executor._kernel
            return result, getattr(kernel, "reconnects", 0)

        result, reconnects = with_executor(tmp_path, no_kernel_left.config(url=proxy.url), body)
    assert proxy.cuts == 1 and reconnects >= 1
    assert result.ok and result.stdout == "before\nafter\n" and result.value_repr == "42", result


def test_a_websocket_that_cannot_be_reopened_is_a_recorded_failure(no_kernel_left: GatewayServer, tmp_path: Path) -> None:
    """The socket drops and the gateway stays out of reach: the execution ends as
    ``kernel_died`` naming the lost connection, the replacement waits for the next
    execution, which starts a kernel once the gateway is back."""
    with CuttableProxy(no_kernel_left.port) as proxy:

        async def body(executor: GatewayExecutor) -> tuple[Any, Any]:
            await executor.execute("kept = 1")
            run = asyncio.ensure_future(executor.execute("import time\ntime.sleep(30)"))
            await asyncio.sleep(0.5)
            proxy.refuse = True
            proxy.cut()
            lost = await run
            proxy.refuse = False
            return lost, await executor.execute("'kept' in globals()")

        lost, after = with_executor(
            tmp_path, no_kernel_left.config(url=proxy.url, reconnect_attempts=2, connect_timeout_s=2), body
        )
        # The kernel whose connection was lost could not be deleted then; the exit handler's pass can.
        lifecycle.delete_all()
    assert lost.outcome == "kernel_died" and lost.lost_variables == ("kept",)
    assert lost.error is not None and "connection to the gateway" in lost.error.message and proxy.url in lost.error.message
    assert "a new kernel could not be started yet" in lost.stderr and proxy.url in lost.stderr
    assert after.ok and after.value_repr == "False"


# ---- the gateway -----------------------------------------------------------------------


def test_a_gateway_that_restarted_has_lost_the_kernel_and_the_session_goes_on(tmp_path: Path) -> None:
    with running_gateway("kernel") as gateway:

        async def body(executor: GatewayExecutor) -> tuple[Any, ...]:
            before = await executor.execute("kept = 1")
            await asyncio.to_thread(gateway.stop)
            await asyncio.to_thread(gateway.start)
            lost = await executor.execute("kept")
            after = await executor.execute("'kept' in globals()")
            return before, lost, after

        # Enough reconnect attempts to outlast the restart however busy the machine is: the
        # restarted gateway's 404 for the old kernel, not the attempts running out, decides.
        before, lost, after = with_executor(tmp_path, gateway.config(reconnect_attempts=30), body)
        assert gateway.kernels() == []
    assert before.ok
    assert lost.outcome == "kernel_died" and lost.lost_variables == ("kept",)
    assert lost.error is not None and "no longer has the kernel" in lost.error.message
    assert after.ok and after.value_repr == "False"


def test_a_gateway_killed_mid_execution_is_a_recorded_failure(tmp_path: Path) -> None:
    with running_gateway("kernel") as gateway:

        async def body(executor: GatewayExecutor) -> Any:
            await executor.execute("kept = 1")
            run = asyncio.ensure_future(executor.execute("import time\ntime.sleep(30)"))
            await asyncio.sleep(0.5)
            await asyncio.to_thread(gateway.kill)
            await asyncio.to_thread(gateway.start)
            return await run

        result = with_executor(tmp_path, gateway.config(reconnect_attempts=1), body)
        # The gateway was down when the executor deleted the lost kernel; the exit handler's pass
        # finds it gone with its gateway (404) and forgets it.
        lifecycle.delete_all()
        assert gateway.kernels() == []
    assert result.outcome == "kernel_died" and result.state_lost
    assert result.error is not None and gateway.url in result.error.message


def test_a_kernel_culled_by_the_gateway_is_a_recorded_failure_and_replaced(tmp_path: Path) -> None:
    culling = (
        "--MappingKernelManager.cull_idle_timeout=2",
        "--MappingKernelManager.cull_interval=1",
        "--MappingKernelManager.cull_connected=True",
    )
    with running_gateway("kernel", extra_args=culling) as gateway:

        async def body(executor: GatewayExecutor) -> tuple[Any, ...]:
            before = await executor.execute("kept = 1")
            deadline = time.monotonic() + LIVENESS_S
            while executor.kernel_id in await asyncio.to_thread(gateway.kernels):
                assert time.monotonic() < deadline, "the culler did not end the idle kernel"
                await asyncio.sleep(0.5)
            lost = await executor.execute("kept")
            after = await executor.execute("1 + 1")
            return before, lost, after

        before, lost, after = with_executor(tmp_path, gateway.config(), body)
    assert before.ok
    assert lost.outcome == "kernel_died" and lost.lost_variables == ("kept",)
    assert lost.error is not None and "culled" in lost.error.message
    assert after.ok and after.value_repr == "2"


# ---- the janitor -----------------------------------------------------------------------

KILLED_HOST = """
import asyncio, os, sys
from weaver.execution.config import ExecutionConfig
from weaver_gateway.channel import GatewayKernel
from weaver_gateway.config import GatewayConfig

async def main():
    kernel = await GatewayKernel.start(GatewayConfig(url=sys.argv[1], token=os.environ["TOKEN"]), ExecutionConfig(), "doomed")
    print(kernel.kernel_id, flush=True)
    os.kill(os.getpid(), 9)

asyncio.run(main())
"""


def test_the_janitor_deletes_the_kernels_a_killed_host_left(no_kernel_left: GatewayServer, tmp_path: Path) -> None:
    script = tmp_path / "host.py"
    script.write_text(KILLED_HOST)
    env = {**os.environ, "TOKEN": no_kernel_left.token}
    done = subprocess.run(
        [sys.executable, str(script), no_kernel_left.url], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == -9, done.stderr
    orphan = done.stdout.strip()
    assert orphan in no_kernel_left.kernels()  # SIGKILL: no exit handler ran
    entry = json.loads((lifecycle.ledger_dir() / f"{orphan}.json").read_text())
    assert entry["session_id"] == "doomed" and entry["url"] == no_kernel_left.url

    async def body(executor: GatewayExecutor) -> Any:
        return await executor.execute("1")  # the first kernel of this process on that gateway sweeps first

    lifecycle._swept.discard(no_kernel_left.url)  # this test process swept this gateway in an earlier test
    assert with_executor(tmp_path, no_kernel_left.config(), body).ok
    assert orphan not in no_kernel_left.kernels()
    assert not (lifecycle.ledger_dir() / f"{orphan}.json").exists()


@pytest.fixture(autouse=True)
def _no_leftover_ledger() -> Iterator[None]:
    yield
    assert lifecycle.live_kernels() == ()
