"""A kernel health check for ``weaver doctor``: start a kernel, run ``1+1``, time both."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import attrs

from weaver.execution.config import ExecutionConfig


@attrs.frozen
class KernelCheck:
    """Whether a kernel started and computed ``1+1``; seconds for each step; what went wrong."""

    ok: bool
    start_s: float = 0.0
    execute_s: float = 0.0
    detail: str = ""


async def check_kernel(config: ExecutionConfig | None = None) -> KernelCheck:
    """Start a kernel as ``config`` says (default settings if None; in the sandbox when it
    names one, with a throw-away session directory) and run ``1+1`` in it."""
    from weaver.execution.process import KernelProcess
    from weaver.store import SessionPaths

    config = config or ExecutionConfig()
    with tempfile.TemporaryDirectory(prefix="weaver-doctor-") as scratch:
        sandbox = SessionPaths(Path(scratch)) if config.sandbox != "none" else None
        started = time.monotonic()
        try:
            kernel = await KernelProcess.start(config, sandbox_paths=sandbox)
        except Exception as exc:  # noqa: BLE001 - the check reports any failure as text
            return KernelCheck(False, time.monotonic() - started, detail=f"{type(exc).__name__}: {exc}")
        start_s = time.monotonic() - started
        try:
            collector = kernel.submit("1+1", silent=False, artifacts_dir=None)
            begun = time.monotonic()
            await kernel.wait(collector, config.timeout_s)
            execute_s = time.monotonic() - begun
        except Exception as exc:  # noqa: BLE001
            return KernelCheck(False, start_s, detail=f"1+1 did not complete: {type(exc).__name__}: {exc}")
        finally:
            await kernel.shutdown()
    ok = collector.value == "2"
    return KernelCheck(ok, start_s, execute_s, "1+1 = 2" if ok else f"1+1 gave {collector.value!r} ({collector.error})")
