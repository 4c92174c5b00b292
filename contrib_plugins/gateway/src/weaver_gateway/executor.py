"""The ``gateway`` executor: a session's kernel on a Jupyter gateway.

Everything a local kernel does is :class:`~weaver.execution.kernel.KernelExecutor`'s and
holds here unchanged (state across executions, the time limit with interrupt and restart,
a dead kernel replaced, cancel, the plugin runtime and its budget, the variable inventory,
output caps, displays saved as artifacts, resume by replay, the warm pool). What differs is
where the session's files are: the kernel has its own disk, so when a kernel takes the
session the executor stages the session there (:mod:`weaver_gateway.transfer`): its
directories, the plugin folders' sources, the project files and the uploads in the host's
``cwd/``. Before each execution, uploads new since then follow; after it, the files the
runtime reports in its ``artifacts/`` (figures, plugin outputs) come back to the host's
``artifacts/``. Files the code wrote elsewhere come back on request: :meth:`GatewayExecutor.fetch_file`.
"""

from __future__ import annotations

import functools
import logging
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from weaver.config import PROJECT_FILE, Config
from weaver.errors import ConfigError
from weaver.execution import files
from weaver.execution.boundary import site_for
from weaver.execution.channel import KernelChannel
from weaver.execution.executor import ExecutorSetup, KernelStartError
from weaver.execution.kernel import MAX_ARTIFACTS, KernelExecutor, KernelPlaces, KernelSource
from weaver.execution.limits import kernel_env, rlimits
from weaver.execution.output import Collector
from weaver.execution.pool import KernelPool, pool_of
from weaver.execution.runtime import REPORT_MIME
from weaver_gateway.channel import GatewayKernel
from weaver_gateway.config import GatewayConfig
from weaver_gateway.transfer import Staged, TransferError, local_files, pull, push, stage

log = logging.getLogger("weaver.gateway")

SETTINGS = (
    "MPLBACKEND",
    "MALLOC_ARENA_MAX",
    "PYDEVD_DISABLE_FILE_VALIDATION",
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
"""Weaver's own settings of a local kernel's environment that a remote kernel gets too."""
_MB = 1024 * 1024


def gateway_config(config: Config) -> GatewayConfig:
    """``[gateway]``, refusing a token from the project's ``weaver.toml`` (a shared file)."""
    gateway: GatewayConfig = config.table("gateway")
    source = config.sources.get("gateway.token", "")
    if gateway.token and Path(source).name == PROJECT_FILE:
        raise ConfigError(
            "a token does not belong in the project's file, which is shared: set WEAVER_GATEWAY__TOKEN "
            "in the environment or [gateway] token in the user config",
            source=source,
            table="gateway",
            key="token",
        )
    return gateway


def gateway_pool(gateway: GatewayConfig, config: Config) -> KernelPool | None:
    """The running loop's warm pool of gateway kernels for these settings (``[execution] pool_size``)."""
    execution = config.table("execution")
    if execution.pool_size <= 0:
        return None
    start = functools.partial(GatewayKernel.start, gateway, execution)
    return pool_of(("gateway", gateway, execution), execution.pool_size, start)


async def warm_up(config: Config, wait: bool = False) -> None:
    """Start filling the gateway's warm pool (``App.warm_up()``); ``wait`` until it is full."""
    pool = gateway_pool(gateway_config(config), config)
    if pool is not None:
        pool.fill()
        if wait:
            await pool.wait_ready()


class GatewayExecutor(KernelExecutor):
    """Runs a session's code in a kernel on the gateway of ``[gateway]``."""

    def __init__(
        self, session_dir: Path, config: Config, setup: ExecutorSetup, pool: KernelSource | None = None
    ) -> None:
        super().__init__(session_dir, config, setup, pool)
        self.gateway = gateway_config(config)
        self.project_files = site_for(config, session=self.paths.root).project_files
        self._staged: Staged | None = None
        self._sent: dict[str, tuple[int, int]] = {}
        self._notes: list[str] = []

    @classmethod
    def create(cls, session_dir: Path, config: Config, setup: ExecutorSetup) -> GatewayExecutor:
        """The ``weaver_executors`` factory: uses the gateway's warm pool of the running loop."""
        executor = cls(session_dir, config, setup)
        executor.pool = gateway_pool(executor.gateway, config)
        return executor

    @property
    def kernel_id(self) -> str | None:
        """The gateway's id of the session's kernel, once it runs."""
        return self._kernel.kernel_id if isinstance(self._kernel, GatewayKernel) else None

    async def fetch_file(self, name: str) -> Path:
        """Bring the file ``name`` (relative to the kernel's working directory) to the same
        name in the host's ``cwd/``, replacing what is there; returns the host path."""
        parts = files.relative_parts(name)
        async with self._lock:
            kernel, _ = await self._ensure_kernel()
            assert self._staged is not None
            data = await pull(kernel, self._staged.root, "cwd/" + "/".join(parts), self.gateway.max_transfer_mb * _MB)
        with tempfile.NamedTemporaryFile(prefix="weaver-fetch-") as scratch:
            scratch.write(data)
            scratch.flush()
            return files.copy_in(scratch.name, self.paths.cwd, "/".join(parts))

    # ---- a session's files on the kernel's machine ----------------------------------------

    async def _start_kernel(self) -> KernelChannel:
        return await GatewayKernel.start(self.gateway, self.config, self.setup.session_id)

    async def _adopt(self, kernel: KernelChannel) -> KernelPlaces:
        self.paths.create()
        env = kernel_env(self.config, self.paths.cwd, environ={})
        request: dict[str, Any] = {
            "session_id": self.setup.session_id,
            "base": self.gateway.remote_dir,
            "env": {name: env[name] for name in SETTINGS if name in env},
            "limits": rlimits(self.config, own_user=False),
        }
        try:
            staged = await stage(kernel, request)
        except TransferError as exc:
            raise KernelStartError(f"the kernel on the gateway could not stage the session: {exc}") from None
        self._staged, self._sent = staged, {}
        folders = sorted({p.path for p in self.setup.plugins if p.path and not p.host})  # a host plugin stays home
        places = {folder: f"{staged.plugins}/{n}" for n, folder in enumerate(folders)}
        sources = [(f"plugins/{n}/{name}", path) for n, folder in enumerate(folders) for name, path, _ in local_files(Path(folder))]
        project = [
            (f"cwd/{name}/{relative}", path) for name, target in self.project_files for relative, path, _ in local_files(Path(target))
        ]
        errors = await push(kernel, staged.root, [*sources, *project], self.gateway.max_transfer_mb * _MB)
        failed = {name: why for name, why in errors.items() if name.startswith("plugins/")}
        if failed:
            name = min(failed)
            raise KernelStartError(f"a plugin source did not reach the kernel on the gateway: {name}: {failed[name]}")
        self._note(errors)
        await self._send_uploads(kernel)
        return KernelPlaces(staged.cwd, staged.artifacts_dir, staged.home, places)

    async def _before_execution(self, kernel: KernelChannel) -> None:
        await self._send_uploads(kernel)

    async def _send_uploads(self, kernel: KernelChannel) -> None:
        """Send the files of the host's ``cwd/`` that are new or changed since they were last sent."""
        assert self._staged is not None
        changed = {
            name: (path, (info.st_size, info.st_mtime_ns))
            for name, path, info in local_files(self.paths.cwd)
            if self._sent.get(name) != (info.st_size, info.st_mtime_ns)
        }
        if not changed:
            return
        items = [(f"cwd/{name}", path) for name, (path, _) in changed.items()]
        errors = await push(kernel, self._staged.root, items, self.gateway.max_transfer_mb * _MB)
        for name, (_, mark) in changed.items():
            if f"cwd/{name}" not in errors:
                self._sent[name] = mark
        self._note(errors)

    def _note(self, errors: dict[str, str]) -> None:
        self._notes += [f"{name.removeprefix('cwd/')} did not reach the kernel: {why}" for name, why in sorted(errors.items())]

    async def _after_execution(self, kernel: KernelChannel, collector: Collector) -> None:
        """Bring the artifacts the runtime reported to the host; the report then names the host's copies."""
        for note in self._notes:
            collector.stderr.add(f"\n[weaver] {note}\n")
        self._notes = []
        reports = collector.reports[REPORT_MIME]
        if not reports or self._staged is None:
            return
        remote = PurePosixPath(self._staged.artifacts_dir)
        budget = self.gateway.max_transfer_mb * _MB
        fetched = []
        for item in list(reports[-1].get("artifacts", ()))[:MAX_ARTIFACTS]:
            try:
                relative = PurePosixPath(str(item["path"])).relative_to(remote)
                parts = files.relative_parts(str(relative))
                data = await pull(kernel, self._staged.root, "artifacts/" + "/".join(parts), budget)
                budget -= len(data)
                host = files.write_new(self.paths.artifacts, "-".join(parts), data)
            except (KeyError, TypeError, ValueError, TransferError, KernelStartError, files.UnsafePathError, OSError) as exc:
                collector.stderr.add(f"\n[weaver] an artifact of the kernel was not brought back: {exc}\n")
                continue
            fetched.append({**item, "path": str(host)})
        reports[-1] = {**reports[-1], "artifacts": fetched}


def create(session_dir: Path, config: Config, setup: ExecutorSetup) -> GatewayExecutor:
    """The ``gateway`` executor's factory (``weaver_executors``)."""
    return GatewayExecutor.create(session_dir, config, setup)

