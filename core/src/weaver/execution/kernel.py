"""Kernel executors: one Jupyter kernel per session, with a time limit and fault recovery.

:class:`KernelExecutor` is every kernel-backed executor's logic, over a
:class:`~weaver.execution.channel.KernelChannel` (whatever carries the kernel's messages):
the session's runtime set up in the kernel, the time limit, death and replacement, results
built from the kernel's reports, output caps, live output, cancel, the plugin budget. A
subclass says where its kernels come from and where a session's files are for them;
:class:`LocalExecutor` (the ``local`` executor) runs them as local processes.

The kernel starts lazily (taken from the warm pool when there is one). Each execution has
a wall-clock limit: on expiry the kernel is interrupted, and if it does not answer within
the grace period it is restarted. A kernel that dies is noticed while waiting and replaced
at once. Either way the result says what happened and which variables were lost, and the
session goes on.

Before a local kernel takes a session, :func:`prepare_session` gives the session's ``cwd/``
and ``artifacts/`` to the kernel's user (a root host) and links the project files into
``cwd/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import stat
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import attrs

from weaver.config import Config
from weaver.errors import PluginLoadError, WeaverError
from weaver.execution import files
from weaver.execution.boundary import KernelSite, site_for
from weaver.execution.channel import KernelChannel, KernelDied, install_code
from weaver.execution.config import ExecutionConfig
from weaver.execution.executor import ExecutionCancelled, ExecutorSetup, KernelStartError, plugin_payload
from weaver.execution.output import Collector, InputHandler, OutputCallback
from weaver.execution.pool import pool_for
from weaver.execution.process import KernelProcess
from weaver.execution.result import Artifact, ErrorInfo, ExecutionResult, VariableInfo
from weaver.execution.runtime import BUDGET_KEY, REPORT_MIME, SETUP_KEY, SETUP_MIME
from weaver.specs import PluginSpec
from weaver.store import SessionPaths

log = logging.getLogger("weaver.execution")

CANCEL_GRACE_S = 2.0
"""How long a cancelled execution's kernel has to report what the interrupt left."""
MAX_ARTIFACTS = 200
"""Files one execution's result lists at most (the rest are counted in ``truncated``)."""


class KernelSource(Protocol):
    """Where an executor takes its kernels from: a warm pool (:class:`weaver.execution.pool.KernelPool`)."""

    async def take(self) -> KernelChannel: ...


@attrs.frozen
class KernelPlaces:
    """A session's directories as its kernel sees them (the runtime's setup names them).

    A local kernel uses the session's own ``cwd/`` and ``artifacts/``; a kernel on another
    machine has copies there, and ``plugin_paths`` maps each host plugin folder to where the
    kernel has its copy.
    """

    cwd: str
    artifacts_dir: str
    home: str = ""
    """The kernel's ``HOME`` (default: ``cwd``)."""
    plugin_paths: Mapping[str, str] = attrs.field(factory=dict)


class KernelExecutor:
    """One session's code in one kernel at a time, reached through a :class:`KernelChannel`.

    A subclass implements :meth:`_start_kernel` and may override :meth:`_adopt` (where the
    session's files are for the kernel), :meth:`_before_execution` and
    :meth:`_after_execution` (moving files between the host and a kernel that does not
    share its disk). ``kernels``, when given, is asked for a kernel instead (a warm pool).
    """

    def __init__(
        self, session_dir: Path, config: Config, setup: ExecutorSetup, kernels: KernelSource | None = None
    ) -> None:
        self.paths = SessionPaths(Path(session_dir))
        self.config: ExecutionConfig = config.table("execution")
        self.setup = setup
        self.pool = kernels
        self._kernel: KernelChannel | None = None
        self._variables: tuple[VariableInfo, ...] = ()
        self._lock = asyncio.Lock()
        self._closed = False

    def variables(self) -> tuple[VariableInfo, ...]:
        return self._variables

    async def start(self) -> None:
        """Start (or adopt) the kernel now rather than at the first execution."""
        async with self._lock:
            await self._ensure_kernel()

    async def execute(
        self,
        code: str,
        *,
        plugin_budget: dict[str, Any] | None = None,
        on_output: OutputCallback | None = None,
        host_calls: InputHandler | None = None,
    ) -> ExecutionResult:
        """Run ``code``; ``on_output(stream_name, text)`` is called as its stdout and stderr
        arrive (within the same caps as the result's), and ``host_calls`` answers the host
        plugin calls the code makes (:mod:`weaver.plugins.host`)."""
        async with self._lock:
            budget = {BUDGET_KEY: plugin_budget} if plugin_budget is not None else {}
            kernel, collector = await self._ensure_kernel(code, budget, on_output, host_calls)
            if collector is None:
                await self._before_execution(kernel)
                collector = self._submit(kernel, code, metadata=budget, on_output=on_output, on_input=host_calls)
            started = time.monotonic()
            outcome, state_lost, note = "ok", False, None
            try:
                await kernel.wait(collector, self.config.timeout_s)
            except TimeoutError:
                outcome, state_lost, note = await self._after_timeout(kernel, collector)
            except asyncio.CancelledError:
                # The round was cancelled: stop the code too, or it would run on unseen, and
                # keep what it printed until then.
                await self._after_cancel(kernel, collector)
                raise ExecutionCancelled(
                    self._result(code, collector, "cancelled", None, (), time.monotonic() - started)
                ) from None
            except KernelDied:
                outcome, state_lost = "kernel_died", True

                note = ErrorInfo(
                    "KernelDied",
                    f"{kernel.exit_description()}; a new kernel was started and every variable was lost",
                    kernel.log_tail(),
                )
            lost = tuple(v.name for v in self._variables) if state_lost else ()
            if state_lost and not self._closed:
                try:
                    await self._replace_kernel()
                except WeaverError as exc:
                    # The result is still the session's to record; the next execution starts a kernel again.
                    collector.stderr.add(f"\n[weaver] a new kernel could not be started yet: {exc}\n")
            elif not state_lost:
                await self._after_execution(kernel, collector)
            return self._result(code, collector, outcome, note, lost, time.monotonic() - started)

    async def close(self) -> None:
        """Stop the kernel and every process it started; safe to call at any time, also from
        a shutdown a signal started: a running execution is not waited for, it ends with
        ``kernel_died``."""
        self._closed = True
        if self._kernel is not None and self._lock.locked():
            self._kernel.kill()
        async with self._lock:
            if self._kernel is not None:
                kernel, self._kernel = self._kernel, None
                await kernel.shutdown()

    # ---- what a subclass provides --------------------------------------------------------

    async def _start_kernel(self) -> KernelChannel:
        """A new kernel for this session (no warm pool had one)."""
        raise NotImplementedError

    async def _adopt(self, kernel: KernelChannel) -> KernelPlaces:
        """Make ``kernel`` able to work in this session; where its directories are for it."""
        self.paths.create()
        return KernelPlaces(str(self.paths.cwd), str(self.paths.artifacts))

    async def _before_execution(self, kernel: KernelChannel) -> None:
        """Called before each execution's request after the first (files to send, say)."""

    async def _after_execution(self, kernel: KernelChannel, collector: Collector) -> None:
        """Called when an execution ended with the kernel's state kept, before its result is
        built from ``collector`` (files to fetch, say); must not raise."""

    # ---- kernels -----------------------------------------------------------------------

    async def _ensure_kernel(
        self,
        code: str | None = None,
        metadata: dict[str, Any] | None = None,
        on_output: OutputCallback | None = None,
        on_input: InputHandler | None = None,
    ) -> tuple[KernelChannel, Collector | None]:
        """The session's kernel, started or taken and set up if there is none yet.

        ``code`` is the execution that needs the kernel. A kernel on hold (a pool kernel)
        gets it in one request with the session's setup (see
        :class:`weaver.execution.runtime.session.Hold`), which saves a round trip: this
        waits only until the setup is reported, and returns that request's collector for
        the caller to wait on. Otherwise the caller submits the code.
        """
        if self._closed:
            raise RuntimeError("this executor is closed")
        if self._kernel is not None:
            return self._kernel, None
        kernel = await self._new_kernel()
        first = None
        try:
            setup = self._setup(await self._adopt(kernel))
            if code is not None and kernel.on_hold:
                first = self._submit(
                    kernel, code, metadata={**(metadata or {}), SETUP_KEY: setup}, on_output=on_output, on_input=on_input
                )
                await kernel.wait_setting_up(first, until=lambda c: bool(c.reports[SETUP_MIME]))
                if not first.reports[SETUP_MIME]:
                    # This kernel's ipykernel does not pass request metadata on: it refused
                    # the code unrun. Set it up the other way; the caller sends the code.
                    first = None
            if first is None:
                setup_request = kernel.submit(install_code(setup), silent=True, artifacts_dir=None)
                self._check_setup(await kernel.finish_internal(setup_request))
            else:
                self._check_setup(first)
        except BaseException:
            await kernel.shutdown()
            raise
        kernel.on_hold = False
        self._kernel = kernel
        return kernel, first

    def _submit(
        self,
        kernel: KernelChannel,
        code: str,
        metadata: dict[str, Any] | None = None,
        on_output: OutputCallback | None = None,
        on_input: InputHandler | None = None,
    ) -> Collector:
        return kernel.submit(
            code,
            silent=False,
            artifacts_dir=self.paths.artifacts,
            metadata=metadata,
            on_output=on_output,
            on_input=on_input,
        )

    async def _new_kernel(self) -> KernelChannel:
        self.paths.create()
        if self.pool is not None:
            return await self.pool.take()
        return await self._start_kernel()

    def _setup(self, places: KernelPlaces) -> dict[str, Any]:
        """What makes a kernel this session's: its directories, plugins, budget and caps."""
        return {
            "session_id": self.setup.session_id,
            "cwd": places.cwd,
            "home": places.home or places.cwd,
            "artifacts_dir": places.artifacts_dir,
            "plugins": [_placed(p, places) for p in self.setup.plugins],
            "plugin_call_budget": self.setup.plugin_call_budget,
            "max_output_chars": self.config.max_output_chars,
            "max_value_chars": self.config.max_value_chars,
        }

    def _check_setup(self, collector: Collector) -> None:
        """Raise :class:`PluginLoadError` if a plugin failed to load in the kernel, and
        :class:`KernelStartError` if the setup itself failed."""
        failures: dict[str, str] = {}
        for report in collector.reports[SETUP_MIME]:
            if "error" in report:
                raise KernelStartError(
                    f"setting up the kernel failed: {report['error']}", log=report.get("traceback", "")
                )
            failures.update(report.get("plugin_errors", {}))
        if failures:
            targets = {p.name: p.target for p in self.setup.plugins}
            name = min(failures)
            others = "".join(f"; plugin {n!r} ({targets.get(n, '?')}) too: {failures[n]}" for n in sorted(failures)[1:])
            raise PluginLoadError(
                f"failed to load in the kernel, so no code was run: {failures[name]}{others}",
                name=name,
                source=targets.get(name, ""),
            )

    async def _replace_kernel(self) -> None:
        old, self._kernel = self._kernel, None
        if old is not None:
            await old.shutdown()
        self._variables = ()
        await self._ensure_kernel()

    async def _after_cancel(self, kernel: KernelChannel, collector: Collector) -> None:
        """Interrupt a cancelled execution and take what the kernel still sends, briefly."""
        with contextlib.suppress(Exception):
            await kernel.interrupt()
        with contextlib.suppress(TimeoutError, KernelDied, asyncio.CancelledError):
            await kernel.wait(collector, min(self.config.interrupt_grace_s, CANCEL_GRACE_S))

    async def _after_timeout(self, kernel: KernelChannel, collector: Collector) -> tuple[str, bool, ErrorInfo]:
        limit = self.config.timeout_s
        await kernel.interrupt()
        try:
            await kernel.wait(collector, self.config.interrupt_grace_s)
        except (TimeoutError, KernelDied):
            return (
                "timeout_restarted",
                True,
                ErrorInfo(
                    "TimeoutError",
                    f"the execution took longer than {limit:g} s ([execution] timeout_s) and did not stop when "
                    "interrupted; the kernel was restarted and every variable was lost",
                ),
            )
        traceback = collector.error.traceback if collector.error is not None else ""
        return (
            "timeout_interrupted",
            False,
            ErrorInfo(
                "TimeoutError",
                f"the execution took longer than {limit:g} s ([execution] timeout_s) and was interrupted; "
                "variables assigned before the interrupt are kept",
                traceback,
            ),
        )

    # ---- the result --------------------------------------------------------------------

    def _result(
        self,
        code: str,
        collector: Collector,
        outcome: str,
        note: ErrorInfo | None,
        lost: tuple[str, ...],
        duration: float,
    ) -> ExecutionResult:
        report: dict[str, Any] = collector.reports[REPORT_MIME][-1] if collector.reports[REPORT_MIME] else {}
        for problem in report.get("problems", ()):
            collector.stderr.add(f"\n[weaver] the kernel could not report {problem}\n")
        if "variables" in report:
            self._variables = tuple(VariableInfo(**v) for v in report["variables"])
        error = note or collector.error
        if error is collector.error and error is not None and report.get("error_mro"):
            error = ErrorInfo(error.type, error.message, error.traceback, tuple(report["error_mro"]))
        if outcome == "ok" and error is not None:
            outcome = "error"
        truncated = [
            f"{name}: {count} characters cut in the kernel (head and tail kept)"
            for name, count in report.get("cut", {}).items()
            if count and name != "value"
        ]
        if report.get("cut", {}).get("value"):
            truncated.append(f"value: {report['cut']['value']} characters of the repr cut in the kernel")
        truncated += collector.truncated()
        # The kernel says which files it wrote; only plain files in artifacts/ are believed,
        # and only so many are looked at.
        reported = list(report.get("artifacts", ()))
        if len(reported) > MAX_ARTIFACTS:
            truncated.append(f"artifacts: {len(reported) - MAX_ARTIFACTS} more files than the {MAX_ARTIFACTS} reported")
        artifacts = {
            a["path"]: Artifact(a["path"], str(a.get("mime", "")))
            for a in reported[:MAX_ARTIFACTS]
            if isinstance(a, dict) and files.regular_file_beneath(self.paths.artifacts, str(a.get("path", "")))
        }
        for path, mime in collector.saved:
            artifacts.setdefault(path, Artifact(path, mime))
        return ExecutionResult(
            ok=outcome == "ok",
            outcome=outcome,
            code=code,
            value_repr=collector.value,
            stdout=collector.stdout.text(),
            stderr=collector.stderr.text(),
            error=error,
            displays=tuple(collector.displays),
            artifacts=tuple(artifacts.values()),
            duration_s=round(duration, 6),
            state_lost=bool(lost) or outcome in ("kernel_died", "timeout_restarted"),
            lost_variables=lost,
            truncated=tuple(truncated),
            variables=self._variables,
            plugin_calls=dict(report.get("plugin_calls", {})),
        )


class LocalExecutor(KernelExecutor):
    """Runs a session's code in a local ipykernel (the ``local`` executor)."""

    def __init__(
        self, session_dir: Path, config: Config, setup: ExecutorSetup, pool: KernelSource | None = None
    ) -> None:
        super().__init__(session_dir, config, setup, pool)
        self.site: KernelSite = site_for(config, session=self.paths.root, plugin_dirs=self._plugin_dirs())

    @classmethod
    def create(cls, session_dir: Path, config: Config, setup: ExecutorSetup) -> LocalExecutor:
        """The ``weaver_executors`` factory: uses the warm pool of the running event loop."""
        executor = cls(session_dir, config, setup)
        executor.pool = pool_for(executor.config, executor.site)
        return executor

    def _plugin_dirs(self) -> list[str]:
        # A host plugin's folder stays out of the kernel's reach: only its stub is there.
        return [str(Path(p.path).resolve()) for p in self.setup.plugins if p.path and not p.host]

    @property
    def kernel_pid(self) -> int | None:
        """The kernel's process id, once it is running."""
        return self._kernel.pid if isinstance(self._kernel, KernelProcess) else None

    async def _start_kernel(self) -> KernelChannel:
        return await KernelProcess.start(self.config, self.site)

    async def _adopt(self, kernel: KernelChannel) -> KernelPlaces:
        assert isinstance(kernel, KernelProcess)
        prepare_session(self.paths, kernel)
        return await super()._adopt(kernel)


def _placed(plugin: PluginSpec, places: KernelPlaces) -> dict[str, Any]:
    """``plugin`` as the runtime receives it, its folder as the kernel sees it."""
    payload = plugin_payload(plugin)
    if plugin.path:
        payload["path"] = places.plugin_paths.get(plugin.path, plugin.path)
    return payload


def prepare_session(paths: SessionPaths, kernel: KernelProcess) -> None:
    """Make ``paths`` the session of ``kernel``: its ``cwd/`` and ``artifacts/`` (and what
    is in them) become the kernel's own user's, the session directory one only that user
    may enter, and the project files appear in ``cwd/``. Nothing here follows a link."""
    paths.create()
    user = kernel.user
    if user is not None:
        with files.directory(paths.root.parent) as sessions:
            os.fchmod(sessions, 0o711)  # enter by name, never list
            _close_other_sessions(sessions)
        with files.directory(paths.root) as root:
            os.fchown(root, 0, user.gid)
            os.fchmod(root, 0o710)
            with contextlib.suppress(FileNotFoundError):
                log_fd = os.open(paths.log.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=root)
                os.fchmod(log_fd, 0o600)
                os.close(log_fd)
        for directory in (paths.cwd, paths.artifacts):
            files.chown_tree(directory, user.uid, user.gid)
            with files.directory(directory) as fd:
                os.fchmod(fd, 0o700)
    link_project_files(paths.cwd, kernel.site.project_files, user.uid if user else None)


def _close_other_sessions(sessions: int) -> None:
    """Make session directories others may enter (from before sessions were private) the
    host's alone; those given to a kernel (0710, its group) stay as they are."""
    for entry in os.scandir(sessions):
        with contextlib.suppress(OSError):
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(info.st_mode) and info.st_mode & 0o007:
                fd = os.open(entry.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=sessions)
                os.fchmod(fd, 0o700)
                os.close(fd)


def link_project_files(cwd: Path, project_files: tuple[tuple[str, str], ...], owner: int | None) -> None:
    """``cwd/<name>`` as a link to each project folder, where nothing else has that name."""
    for name, target in project_files:
        parts = files.relative_parts(name)
        with files.directory(cwd) as top:
            try:
                parent = files.open_beneath(top, parts[:-1], create=True, owner=owner)
            except files.UnsafePathError as exc:
                log.info("project folder %s not linked into %s: %s", name, cwd, exc)
                continue
            try:
                os.symlink(target, parts[-1], dir_fd=parent)
                if owner is not None:
                    os.chown(parts[-1], owner, owner, dir_fd=parent, follow_symlinks=False)
            except FileExistsError:
                pass
            finally:
                os.close(parent)
