"""One kernel process: started through Weaver's launcher, talked to with jupyter_client.

A :class:`KernelProcess` owns a private runtime directory and knows how to run a request
and collect its messages within a deadline, interrupt, and shut down. Sessions, timeouts
and restarts are the executor's business (:mod:`weaver.execution.kernel`).

The runtime directory belongs to the host; the kernel may write only two directories in
it (see :mod:`weaver.execution.boundary`)::

    weaver-kernel-XXXX/        the host's (0711 when the kernel is another user)
        channels/              connection file and IPC sockets: the kernel may only create
                               sockets here, and only until it is ready
        kernel/                the kernel's own: HOME at start, temporary files, IPython

The kernel's stdout and stderr go to a pipe the host drains (:mod:`weaver.execution.logtail`).
A root host starts the kernel as a user of its own (:mod:`weaver.execution.identity`),
outside a sandbox under a supervisor that ends whatever the kernel starts.
"""

from __future__ import annotations

import ctypes
import functools
import json
import logging
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from queue import Empty
from typing import Any

import zmq
import zmq.asyncio
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager

from weaver.execution import identity, lifecycle
from weaver.execution.boundary import KernelSite, kernel_access, sandbox_of, unreachable
from weaver.execution.channel import KernelChannel
from weaver.execution.config import ExecutionConfig
from weaver.execution.executor import KernelStartError
from weaver.execution.identity import KernelUser
from weaver.execution.limits import kernel_env, rlimits
from weaver.execution.logtail import LogTail
from weaver.execution.runtime import landlock
from weaver.execution.runtime.launch import FAILED
from weaver.execution.runtime.supervisor import kill_tree
from weaver.execution.sandbox import bwrap_command
from weaver.store import SessionPaths

log = logging.getLogger("weaver.execution")

LOG_TAIL = 2000
_PR_SET_DUMPABLE = 4


class _SpecOf(KernelSpecManager):
    """Serves exactly one kernel spec: Weaver's launcher command, never an installed kernel."""

    def __init__(self, spec: KernelSpec) -> None:
        super().__init__()
        self._spec = spec

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return self._spec

    def find_kernel_specs(self) -> dict[str, str]:
        return {}


class KernelProcess(KernelChannel):
    """A started kernel and its client. Create with :meth:`start`."""

    def __init__(self, config: ExecutionConfig, site: KernelSite, runtime_dir: Path) -> None:
        super().__init__(config)
        self.site = site
        self.dir = runtime_dir
        self.sandbox = sandbox_of(config)
        self.user: KernelUser | None = None
        """The kernel's own user (a root host), or ``None``: the host's."""
        self.km: AsyncKernelManager | None = None
        self.client: Any = None
        self.pid = 0
        self.started_at = time.monotonic()
        self._log = LogTail()
        self._poller: zmq.asyncio.Poller | None = None
        """IOPub and stdin at once: a host-plugin call waits on stdin while output flows."""

    @property
    def sandboxed(self) -> bool:
        return self.sandbox == "bwrap"

    @property
    def channels(self) -> Path:
        return self.dir / "channels"

    @property
    def private(self) -> Path:
        return self.dir / "kernel"

    @classmethod
    async def start(cls, config: ExecutionConfig, site: KernelSite) -> KernelProcess:
        """Start a kernel with the scrubbed environment, limits and boundary of ``config``
        for ``site``: for its one session, or (``site.session`` is ``None``) for whichever
        session of its workspace takes it."""
        kernel = cls(config, site, lifecycle.runtime_dir())
        try:
            await kernel._launch()
        except BaseException:
            await kernel.shutdown()
            raise
        return kernel

    def _prepare_dirs(self) -> None:
        """The runtime directory's layout, owned as the module docstring says, and the
        directories the kernel is to write."""
        if self.site.session is not None:
            SessionPaths(Path(self.site.session)).create()
        else:
            Path(self.site.sessions).mkdir(parents=True, exist_ok=True)
        self.channels.mkdir()
        for name in ("home", "tmp"):
            (self.private / name).mkdir(parents=True)
        if self.user is not None:
            os.chmod(self.dir, 0o711)
            os.chown(self.channels, 0, self.user.gid)
            os.chmod(self.channels, 0o770)
            for path in (self.private, self.private / "home", self.private / "tmp"):
                os.chown(path, self.user.uid, self.user.gid)
                os.chmod(path, 0o700)

    async def _launch(self) -> None:
        root = identity.host_is_root()
        if root:
            try:
                self.user = identity.allocate()
            except OSError as exc:
                raise KernelStartError(f"no user could be reserved for the kernel: {exc}") from None
        elif not self.sandboxed and not landlock.abi():
            _host_not_dumpable()
        self._prepare_dirs()
        env = kernel_env(self.config, self.private / "home")
        env["IPYTHONDIR"] = str(self.private / "ipython")
        env["TMPDIR"] = str(self.private / "tmp")
        python = self.config.python or sys.executable
        access = kernel_access(self.site, python=python, env=env, private=self.private, channels=self.channels)
        if self.user is not None and not self.sandboxed:
            blocked = unreachable((*access.read, *access.write), self.user.uid, self.user.gid)
            if blocked is not None:
                # A kernel that cannot start helps nobody (the first run of a fresh machine,
                # whose Python is under /root, has no bubblewrap yet): it stays root, but with
                # no capability and, where there is Landlock, only its session's files.
                _warn_root_kernel(blocked, bool(landlock.abi()))
                self.user.release()
                self.user = None
                for path in (self.channels, self.private, self.private / "home", self.private / "tmp"):
                    os.chown(path, 0, 0)  # root without capabilities enters only what root owns
        plan = {
            "limits": rlimits(self.config, own_user=self.user is not None),
            "supervise": not self.sandboxed,
            "host_pid": os.getpid(),
            "runtime_dir": str(self.dir),
            "landlock": access.landlock_rules(sandboxed=self.sandboxed) if landlock.abi() else None,
            "user": [self.user.uid, self.user.gid] if self.user is not None else None,
            "drop_capabilities": root and self.user is None,
            "chdir": str(self.private / "home"),
        }
        cmd = [
            python,
            "-m",
            "weaver.execution.runtime.launch",
            "--plan",
            json.dumps(plan),
            "-f",
            "{connection_file}",
            "--HistoryManager.enabled=False",
        ]
        if self.sandboxed:
            cmd = bwrap_command(cmd, access=access, chdir=self.channels, drops_to_user=self.user is not None)
        # Interrupts go over the control channel (ipykernel then signals itself): a signal
        # would reach bubblewrap or the supervisor, not the kernel.
        spec = KernelSpec(argv=cmd, display_name="Weaver", language="python", interrupt_mode="message")
        self.km = AsyncKernelManager(
            kernel_name="weaver",
            kernel_spec_manager=_SpecOf(spec),
            # Unix sockets in the private runtime directory: no port another local user
            # could reach, and the only way in from a sandbox without network.
            transport="ipc",
            ip=str(self.channels / "ipc"),
            connection_file=str(self.channels / "connection.json"),
        )
        self.km.write_connection_file()
        if self.user is not None:
            os.chown(self.km.connection_file, 0, self.user.gid)
            os.chmod(self.km.connection_file, 0o640)
        try:
            await self.km.start_kernel(
                env=env, cwd=str(self.channels), stdout=self._log.write_fd, stderr=self._log.write_fd
            )
        finally:
            self._log.start()
        self.pid = self.km.provisioner.pid  # type: ignore[union-attr]
        lifecycle.track(self.pid, self.dir)
        self.client = self.km.client()
        self.client.start_channels()
        try:
            await self.client.wait_for_ready(timeout=self.config.startup_timeout_s)
        except RuntimeError as exc:
            raise KernelStartError(f"the kernel did not start: {exc}", log=self.log_tail()) from None
        # The sockets exist now; from here on the kernel must not replace them with links
        # to other sockets for the host to connect to.
        if self.user is not None:
            os.chmod(self.channels, 0o750)

    # ---- the channel's carrier: jupyter_client over ZeroMQ --------------------------------

    def _send_execute(self, content: dict[str, Any], metadata: dict[str, Any]) -> str:
        msg = self.client.session.msg("execute_request", content, metadata=metadata or None)
        self.client.shell_channel.send(msg)
        return str(msg["header"]["msg_id"])

    async def _next_output(self, timeout: float) -> tuple[str, dict[str, Any]]:
        if self._poller is None:
            self._poller = zmq.asyncio.Poller()
            self._poller.register(self.client.iopub_channel.socket, zmq.POLLIN)
            self._poller.register(self.client.stdin_channel.socket, zmq.POLLIN)
        ready = dict(await self._poller.poll(int(timeout * 1000)))
        if self.client.stdin_channel.socket in ready:
            return "stdin", await self.client.get_stdin_msg(timeout=0)
        if ready:
            return "iopub", await self.client.get_iopub_msg(timeout=0)
        raise Empty

    def _send_input(self, value: str, request: dict[str, Any]) -> None:
        self.client.input(value)

    async def _next_shell(self, timeout: float) -> dict[str, Any]:
        return await self.client.get_shell_msg(timeout=timeout)

    # ---- process -----------------------------------------------------------------------

    async def is_alive(self) -> bool:
        return self.km is not None and await self.km.is_alive()

    async def interrupt(self) -> None:
        if self.km is not None:
            await self.km.interrupt_kernel()

    def exit_description(self) -> str:
        """How the process ended: an exit code or a signal, with a hint for SIGKILL.

        The kernel's status comes through bubblewrap or the supervisor, which both report a
        signal ``n`` as the exit code 128 + n.
        """
        process = getattr(self.km.provisioner, "process", None) if self.km is not None else None
        code = process.poll() if process is not None else None
        if code is None:
            return "the kernel stopped answering"
        if code == FAILED:
            return "the kernel's boundary could not be arranged"
        if code < 0 or code > 128:
            number = -code if code < 0 else code - 128
            name = signal.Signals(number).name if number in signal.Signals._value2member_map_ else str(number)
            hint = " (for example by the out-of-memory killer or a CPU time limit)" if name == "SIGKILL" else ""
            return f"the kernel process was killed by {name}{hint}"
        return f"the kernel process exited with code {code}"

    def log_tail(self) -> str:
        """The end of what the kernel process wrote outside of Jupyter's channels."""
        return self._log.text(LOG_TAIL)

    def kill(self) -> None:
        """Kill the kernel's process tree now; :meth:`shutdown` still has to clean up."""
        if self.pid:
            kill_tree(self.pid)

    async def shutdown(self) -> None:
        """Kill the kernel and every process it started; remove its directory."""
        if self.client is not None:
            self.client.stop_channels()
        if self.pid:
            kill_tree(self.pid)
        if self.km is not None and self.km.has_kernel:
            await self.km.shutdown_kernel(now=True)
        if self.pid:
            lifecycle.forget(self.pid)
        self._log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        if self.user is not None:
            self.user.release()
        self.km = None


def _host_not_dumpable() -> None:
    """Keep a kernel of the host's own user out of the host's ``/proc/<pid>/environ`` and
    memory: a process that is not dumpable can be inspected only with CAP_SYS_PTRACE. (With
    Landlock that is not needed: a confined process may not inspect one outside its domain.
    It has a price for the host's user, who can no longer debug or profile the process.)"""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)


@functools.cache
def _warn_root_kernel(blocked: str, landlocked: bool) -> None:
    """Say once per process and cause why kernels run as root without capabilities."""
    confined = "Landlock keeps it to its session's files" if landlocked else "nothing keeps it from root's files"
    log.warning(
        "kernels run as root without capabilities (%s): a user of their own cannot enter %s. For a "
        "kernel of its own user, install bubblewrap (apt install bubblewrap), or put the project and "
        "Python where other users may enter, or set [execution] python to such an interpreter; "
        "'weaver doctor' shows what a kernel can reach",
        confined,
        blocked,
    )
