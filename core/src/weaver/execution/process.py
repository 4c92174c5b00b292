"""One kernel process: started through Weaver's launcher, talked to with jupyter_client.

A :class:`KernelProcess` owns a private runtime directory (connection file, IPC sockets,
the kernel's own log, its IPython directory) and knows how to run a request and collect
its messages within a deadline, interrupt, and shut down. Sessions, timeouts and restarts
are the executor's business (:mod:`weaver.execution.kernel`).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from queue import Empty
from typing import IO, Any

from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager

from weaver.execution import lifecycle
from weaver.execution.config import ExecutionConfig
from weaver.execution.executor import KernelStartError
from weaver.execution.limits import kernel_env, launcher_args
from weaver.execution.output import Collector
from weaver.execution.sandbox import bwrap_command
from weaver.store import SessionPaths

POLL_S = 0.25
"""How often a waiting host checks that the kernel is still alive."""
LOG_TAIL = 2000
WARM_UP = "__import__('weaver.execution.runtime.session', fromlist=['warm_up']).warm_up()"
"""What :meth:`KernelProcess.warm_up` runs (:func:`weaver.execution.runtime.session.warm_up`);
binds no name."""


class KernelDied(Exception):
    """The kernel process exited while a request was running."""


class _SpecOf(KernelSpecManager):
    """Serves exactly one kernel spec: Weaver's launcher command, never an installed kernel."""

    def __init__(self, spec: KernelSpec) -> None:
        super().__init__()
        self._spec = spec

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return self._spec

    def find_kernel_specs(self) -> dict[str, str]:
        return {}


class KernelProcess:
    """A started kernel and its client. Create with :meth:`start`."""

    def __init__(self, config: ExecutionConfig, runtime_dir: Path, sandboxed: bool) -> None:
        self.config = config
        self.dir = runtime_dir
        self.sandboxed = sandboxed
        self.km: AsyncKernelManager | None = None
        self.client: Any = None
        self.pid = 0
        self.started_at = time.monotonic()
        self.on_hold = False
        """Whether the kernel refuses user code until a session's setup succeeds in it."""
        self._log: IO[bytes] | None = None

    @classmethod
    async def start(cls, config: ExecutionConfig, sandbox_paths: SessionPaths | None = None) -> KernelProcess:
        """Start a kernel with the scrubbed environment and limits of ``config``.

        With ``sandbox_paths`` the kernel runs under bubblewrap with those session
        directories writable; without, it starts in its own empty directory, ready to be
        adopted by any session.
        """
        runtime_dir = Path(tempfile.mkdtemp(prefix="weaver-kernel-"))
        kernel = cls(config, runtime_dir, sandboxed=sandbox_paths is not None)
        try:
            await kernel._launch(sandbox_paths)
        except BaseException:
            await kernel.shutdown()
            raise
        return kernel

    async def _launch(self, sandbox_paths: SessionPaths | None) -> None:
        home = self.dir / "home"
        home.mkdir()
        env = kernel_env(self.config, home)
        env["IPYTHONDIR"] = str(self.dir / "ipython")
        python = self.config.python or sys.executable
        cmd = [python, *launcher_args(self.config), "-f", "{connection_file}", "--HistoryManager.enabled=False"]
        cwd = home
        if sandbox_paths is not None:
            sandbox_paths.create()
            cmd = bwrap_command(
                cmd,
                python=python,
                env=env,
                writable=(self.dir, sandbox_paths.cwd, sandbox_paths.artifacts),
                chdir=sandbox_paths.cwd,
            )
            cwd = sandbox_paths.cwd
        # A signal to the sandbox would reach bubblewrap, not the kernel inside: ask the
        # kernel over its control channel instead (ipykernel then signals itself).
        interrupt_mode = "message" if sandbox_paths is not None else "signal"
        spec = KernelSpec(argv=cmd, display_name="Weaver", language="python", interrupt_mode=interrupt_mode)

        self.km = AsyncKernelManager(
            kernel_name="weaver",
            kernel_spec_manager=_SpecOf(spec),
            # Unix sockets in the private (0700) runtime directory: no port another local
            # user could reach, and the only way in from a sandbox without network.
            transport="ipc",
            ip=str(self.dir / "ipc"),
            connection_file=str(self.dir / "connection.json"),
        )
        self._log = open(self.dir / "kernel.log", "wb")  # noqa: SIM115, ASYNC230 - closed in shutdown(); instant
        await self.km.start_kernel(env=env, cwd=str(cwd), stdout=self._log, stderr=self._log)
        self.pid = self.km.provisioner.pid  # type: ignore[union-attr]
        lifecycle.track(self.pid, self.dir)
        self.client = self.km.client()
        self.client.start_channels()
        try:
            await self.client.wait_for_ready(timeout=self.config.startup_timeout_s)
        except RuntimeError as exc:
            raise KernelStartError(f"the kernel did not start: {exc}", log=self.log_tail()) from None

    # ---- requests ----------------------------------------------------------------------

    def submit(
        self, code: str, *, silent: bool, artifacts_dir: Path | None, metadata: dict[str, Any] | None = None
    ) -> Collector:
        """Send an execute request (with ``metadata`` for the kernel, if given); its messages
        are gathered by :meth:`wait`."""
        content = {
            "code": code,
            "silent": silent,
            "store_history": not silent,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": False,
        }
        msg = self.client.session.msg("execute_request", content, metadata=metadata)
        self.client.shell_channel.send(msg)
        return Collector(
            msg["header"]["msg_id"],
            max_output_chars=self.config.max_output_chars,
            max_value_chars=self.config.max_value_chars,
            artifacts_dir=artifacts_dir,
        )

    async def wait(
        self, collector: Collector, timeout: float, until: Callable[[Collector], bool] | None = None
    ) -> None:
        """Gather ``collector``'s messages until its request is done (or ``until`` it holds).

        Raises :class:`TimeoutError` after ``timeout`` seconds (``collector`` keeps what
        arrived; call again to go on waiting) and :class:`KernelDied` if the process exits.
        """
        deadline = time.monotonic() + timeout
        while not collector.done and not (until is not None and until(collector)):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            try:
                if not collector.idle:
                    collector.add(await self.client.get_iopub_msg(timeout=min(POLL_S, remaining)))
                else:
                    reply = await self.client.get_shell_msg(timeout=min(POLL_S, remaining))
                    if reply.get("parent_header", {}).get("msg_id") == collector.msg_id:
                        collector.reply = reply["content"]
            except Empty:
                if not await self.is_alive():
                    raise KernelDied from None

    async def warm_up(self) -> None:
        """Pay the costs of a kernel's first execute request now (ipykernel and IPython set up
        on first use: several times a later request), with the import adoption needs and
        the parts IPython builds on the first user cell; for kernels started ahead of time,
        so that these costs come off a session's critical path.

        The kernel is then on hold: it refuses user code until a session's setup succeeds
        in it, so a session may send its setup and its first code together.
        """
        await self.run_internal(WARM_UP)
        self.on_hold = True

    async def run_internal(self, code: str) -> Collector:
        """Run Weaver's own code (silently: no history, no execution hooks); raise on error."""
        return await self.finish_internal(self.submit(code, silent=True, artifacts_dir=None))

    async def finish_internal(self, collector: Collector) -> Collector:
        """Wait for Weaver's own request ``collector`` (submitted silently); raise on error."""
        await self.wait_setting_up(collector)
        if collector.error is not None:
            raise KernelStartError(
                f"setting up the kernel failed: {collector.error.type}: {collector.error.message}",
                log=collector.error.traceback,
            )
        return collector

    async def wait_setting_up(self, collector: Collector, until: Callable[[Collector], bool] | None = None) -> None:
        """:meth:`wait` for a request that sets the kernel up, within the start-up time limit;
        raise :class:`KernelStartError` if the kernel stops answering meanwhile."""
        try:
            await self.wait(collector, self.config.startup_timeout_s, until)
        except (TimeoutError, KernelDied):
            raise KernelStartError("the kernel stopped answering while Weaver set it up", log=self.log_tail()) from None

    # ---- process -----------------------------------------------------------------------

    async def is_alive(self) -> bool:
        return self.km is not None and await self.km.is_alive()

    async def interrupt(self) -> None:
        if self.km is not None:
            await self.km.interrupt_kernel()

    def exit_description(self) -> str:
        """How the process ended: an exit code or a signal, with a hint for SIGKILL."""
        process = getattr(self.km.provisioner, "process", None) if self.km is not None else None
        code = process.poll() if process is not None else None
        if code is None:
            return "the kernel stopped answering"
        if code < 0 or (self.sandboxed and code > 128):
            number = -code if code < 0 else code - 128
            name = signal.Signals(number).name if number in signal.Signals._value2member_map_ else str(number)
            hint = " (for example by the out-of-memory killer or a CPU time limit)" if name == "SIGKILL" else ""
            return f"the kernel process was killed by {name}{hint}"
        return f"the kernel process exited with code {code}"

    def log_tail(self) -> str:
        """The end of what the kernel process wrote outside of Jupyter's channels."""
        try:
            text = (self.dir / "kernel.log").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return text[-LOG_TAIL:].strip()

    async def shutdown(self) -> None:
        """Kill the kernel and everything in its process group; remove its directory."""
        if self.client is not None:
            self.client.stop_channels()
        if self.pid:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self.km is not None and self.km.has_kernel:
            await self.km.shutdown_kernel(now=True)
        if self.pid:
            lifecycle.forget(self.pid)
        if self._log is not None:
            self._log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        self.km = None


def install_code(setup: dict[str, Any]) -> str:
    """The code that installs the runtime into a kernel; binds no name in the namespace."""
    return f"__import__('weaver.execution.runtime', fromlist=['install']).install({json.dumps(json.dumps(setup))})"
