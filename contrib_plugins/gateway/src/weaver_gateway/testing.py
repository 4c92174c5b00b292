"""Real gateways for tests and benchmarks: Kernel Gateway, or Enterprise Gateway in a venv of its own.

:class:`GatewayServer` runs a gateway on 127.0.0.1 with a token on a free port, with a
kernelspec (``weaver-python``) whose Python is this one (it has ipykernel and weaver-core),
in a private directory: nothing of the machine's Jupyter setup or environment leaks in.
It can be stopped, killed (with its kernels) and started again on the same port, which
the fault tests do. Enterprise Gateway pins old Jupyter libraries, so
:func:`enterprise_gateway_python` builds it a virtualenv from the package index, once,
cached under the temporary directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx2

KERNEL_NAME = "weaver-python"
STARTUP_S = 180.0
"""How long a gateway may take to answer after it starts (Enterprise Gateway imports a lot)."""
ENTERPRISE_GATEWAY = "jupyter_enterprise_gateway>=3.2,<4"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_kernelspec(root: Path, python: str = sys.executable) -> Path:
    """A Jupyter data directory with the ``weaver-python`` kernelspec (``python``'s ipykernel)."""
    spec = root / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python (Weaver's tests)",
                "language": "python",
                "interrupt_mode": "signal",
            }
        )
    )
    return root


class GatewayServer:
    """A gateway process on 127.0.0.1; ``kind`` is ``kernel`` (Kernel Gateway) or ``enterprise``."""

    def __init__(
        self,
        kind: str = "kernel",
        *,
        python: str = sys.executable,
        token: str | None = None,
        extra_args: Sequence[str] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.kind = kind
        self.python = python
        self.token = secrets.token_hex(16) if token is None else token
        self.port = free_port()
        self.extra_args = tuple(extra_args)
        self.extra_env = dict(env or {})
        self.dir = Path(tempfile.mkdtemp(prefix=f"weaver-{kind}-gateway-"))
        self.log = self.dir / "gateway.log"
        write_kernelspec(self.dir / "data")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        if self.kind == "kernel":
            app = "KernelGatewayApp"
            base = [self.python, "-m", "kernel_gateway", "--JupyterWebsocketPersonality.list_kernels=True"]
        else:
            app = "EnterpriseGatewayApp"
            base = [self.python, "-m", "enterprise_gateway", "--EnterpriseGatewayApp.list_kernels=True"]
        return [*base, f"--{app}.ip=127.0.0.1", f"--{app}.port={self.port}", f"--{app}.port_retries=0", *self.extra_args]

    def environment(self) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", os.defpath),
            "HOME": str(self.dir),
            "JUPYTER_PATH": str(self.dir / "data"),
            "JUPYTER_DATA_DIR": str(self.dir / "data"),
            "JUPYTER_RUNTIME_DIR": str(self.dir / "runtime"),
            "JUPYTER_CONFIG_DIR": str(self.dir / "config"),
            "KG_AUTH_TOKEN" if self.kind == "kernel" else "EG_AUTH_TOKEN": self.token,
            **self.extra_env,
        }
        return env

    def start(self) -> GatewayServer:
        """Start the gateway and wait until it answers an authorized request."""
        self.log_file = open(self.log, "ab")  # noqa: SIM115 - kept open for the process's lifetime
        self.process = subprocess.Popen(
            self.command(),
            cwd=self.dir,
            env=self.environment(),
            stdin=subprocess.DEVNULL,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its kernels are in its process group, to kill with it
        )
        deadline = time.monotonic() + STARTUP_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the gateway exited with {self.process.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(httpx2.HTTPError):
                if self.get("/api/kernelspecs").status_code == 200:
                    return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the gateway did not answer within {STARTUP_S:g} s:\n{self.log_tail()}")

    def log_tail(self, chars: int = 4000) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text(errors="replace")[-chars:]
        return ""

    def get(self, path: str, token: str | None = None) -> httpx2.Response:
        headers = {"Authorization": f"token {self.token if token is None else token}"}
        return httpx2.get(self.url + path, headers=headers, timeout=30, trust_env=False)

    def kernels(self) -> list[str]:
        """The ids of the kernels the gateway runs (``GET /api/kernels``)."""
        response = self.get("/api/kernels")
        response.raise_for_status()
        return [kernel["id"] for kernel in response.json()]

    def stop(self) -> None:
        """Stop the gateway as an operator would (SIGTERM: it shuts its kernels down)."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """Kill the gateway and every kernel it started, at once (SIGKILL)."""
        self._end(signal.SIGKILL)

    def _end(self, how: signal.Signals) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, how)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # kernels that outlived their gateway
        self.process = None
        self.log_file.close()

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def config(self, **gateway: Any) -> dict[str, Any]:
        """``[gateway]`` values for this gateway."""
        return {"url": self.url, "token": self.token, "kernel_name": KERNEL_NAME, **gateway}


@contextlib.contextmanager
def running_gateway(kind: str = "kernel", **options: Any) -> Iterator[GatewayServer]:
    server = GatewayServer(kind, **options)
    try:
        yield server.start()
    finally:
        server.close()


def enterprise_gateway_python(cache: Path | None = None) -> str:
    """The Python of a virtualenv with Jupyter Enterprise Gateway, built once from the package
    index and cached under the temporary directory (a second call is immediate)."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    key = zlib.crc32(f"{ENTERPRISE_GATEWAY} {sys.prefix}".encode())
    target = cache or Path(tempfile.gettempdir()) / f"weaver-enterprise-gateway-{version}-{key:08x}"
    python = target / "bin" / "python"
    if (target / "ready").is_file():
        return str(python)
    # Built where it stays (a virtualenv's scripts name their own path); an unfinished one is redone.
    shutil.rmtree(target, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(target)], check=True, capture_output=True)
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", ENTERPRISE_GATEWAY], check=False, capture_output=True, text=True, timeout=900
    )
    if done.returncode != 0:
        raise RuntimeError(f"pip could not install {ENTERPRISE_GATEWAY}:\n{done.stdout[-2000:]}{done.stderr[-4000:]}")
    (target / "ready").write_text(ENTERPRISE_GATEWAY + "\n")
    return str(python)


def harness(server: GatewayServer, project_dir: Path, **gateway: Any) -> Any:
    """The conformance suite's harness (:mod:`weaver.testing.executor_conformance`) for the
    gateway executor on ``server``; ``gateway`` adds ``[gateway]`` values."""
    import weaver_gateway
    from weaver.testing.executor_conformance import AppHarness
    from weaver_gateway.executor import GatewayExecutor

    def kernel_id(executor: object) -> str | None:
        assert isinstance(executor, GatewayExecutor)
        return executor.kernel_id

    return AppHarness(
        project_dir,
        "gateway",
        extensions=[weaver_gateway],
        tables={"gateway": server.config(**gateway)},
        execution={"executor": "gateway", "pool_size": 0},
        kernel_of_executor=kernel_id,
        running=lambda kernel: kernel in server.kernels(),
    )
