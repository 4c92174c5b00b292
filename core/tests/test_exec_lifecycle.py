"""No kernel, and nothing a kernel started, outlives its host: closing, a normal exit,
Ctrl-C and SIGKILL of the host, in the sandbox and without.

The code under test leaves a daemon behind the way a careless library does: it forks,
the child calls ``setsid`` (leaving the kernel's process group) and forks again, so the
daemon's parent is gone and only a process tree (a subreaper, a pid namespace) still
knows where it came from.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from weaver.execution import lifecycle
from weaver.execution.lifecycle import RUNTIME_PREFIX
from weaver.execution.sandbox import bwrap_status
from weaver.testing.kernels import LIVENESS_S, descendants, kernel_app, reachable_dir, reachable_python, wait_gone

DAEMON = textwrap.dedent(
    """
    import os, time
    child = os.fork()
    if child == 0:
        os.setsid()
        if os.fork() == 0:
            time.sleep(600)
        os._exit(0)
    os.waitpid(child, 0)
    'left a daemon'
    """
)

HOST = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from weaver.execution import lifecycle
    from weaver.testing.kernels import descendants, kernel_app

    app = kernel_app(Path(sys.argv[1]), execution=json.loads(sys.argv[2]))
    session = app.session()
    result = app.run(session.execute(sys.argv[3]))
    (pid,) = lifecycle.live_pids()
    print(json.dumps({"kernel": pid, "below": sorted(descendants(pid)), "value": result.value_repr}), flush=True)
    if sys.argv[4] == "exit":
        sys.exit(0)  # without closing anything: atexit must clean up
    time.sleep(600)
    """
)


@pytest.fixture(params=["bwrap", "none"])
def mode(request: pytest.FixtureRequest) -> Iterator[tuple[dict[str, Any], Path]]:
    """``[execution]`` values for a mode, and a project directory any user may enter."""
    if request.param == "bwrap":
        available, detail = bwrap_status()
        if not available:
            if os.environ.get("CI") == "true":
                pytest.fail(detail)
            pytest.skip(detail)
        execution: dict[str, Any] = {"sandbox": "bwrap"}
    else:
        python = reachable_python()
        if python is None:
            if os.environ.get("CI") == "true":
                pytest.fail("no Python here that another user may run: the plain launcher goes untested")
            pytest.skip("no Python here that another user may run")
        execution = {"sandbox": "none", "python": python}
    with reachable_dir() as project:
        yield execution, project


def runtime_dirs(host: int) -> list[Path]:
    return sorted(Path(lifecycle.tempfile.gettempdir()).glob(f"{RUNTIME_PREFIX}{host}-*"))


def all_gone(pids: list[int]) -> bool:
    return all(wait_gone(pid) for pid in pids)


def start_host(project: Path, execution: dict[str, Any], how: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """A subprocess host that starts a kernel, runs :data:`DAEMON` and reports the pids."""
    script = project / "host.py"
    script.write_text(HOST)
    host = subprocess.Popen(
        [sys.executable, str(script), str(project), json.dumps(execution), DAEMON, how],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = host.stdout.readline() if host.stdout else ""
    try:
        report = json.loads(line)
    except json.JSONDecodeError:
        host.kill()
        pytest.fail(f"the host did not report its kernel: {line!r} {host.stderr.read() if host.stderr else ''}")
    assert report["value"] == "'left a daemon'" and report["below"], report
    return host, report


def test_closing_the_app_ends_the_kernel_and_everything_it_started(mode: tuple[dict[str, Any], Path]) -> None:
    execution, project = mode
    app = kernel_app(project, execution=execution)
    result = app.run(app.session().execute(DAEMON))
    (pid,) = lifecycle.live_pids()
    below = sorted(descendants(pid))
    assert result.value_repr == "'left a daemon'" and below
    assert runtime_dirs(os.getpid())
    app.close()
    assert all_gone([pid, *below])
    assert pid not in lifecycle.live_pids()
    assert runtime_dirs(os.getpid()) == []


@pytest.mark.slow
def test_closing_while_code_runs_does_not_wait_for_it(mode: tuple[dict[str, Any], Path]) -> None:
    """What a SIGTERM handler does: close at once, from the event loop, mid-execution."""
    from weaver.execution.executor import ExecutorSetup
    from weaver.execution.kernel import LocalExecutor

    execution, project = mode
    app = kernel_app(project, execution={**execution, "timeout_s": 600})

    async def scenario() -> tuple[str, list[int], int]:
        executor = LocalExecutor.create(project / ".weaver" / "sessions" / "s", app.config, ExecutorSetup("s"))
        await executor.start()
        pid = executor.kernel_pid or 0
        before = descendants(pid)
        running = asyncio.ensure_future(executor.execute(DAEMON.replace("'left a daemon'", "time.sleep(600)")))
        for _ in range(int(LIVENESS_S * 10)):
            if descendants(pid) - before:  # the daemon is there
                break
            await asyncio.sleep(0.1)
        below = sorted(descendants(pid))
        await asyncio.wait_for(executor.close(), LIVENESS_S)
        result = await asyncio.wait_for(running, LIVENESS_S)
        return result.outcome, below, pid

    try:
        outcome, below, pid = app.run(scenario())
    finally:
        app.close()
    assert outcome == "kernel_died"
    assert all_gone([pid, *below])


@pytest.mark.slow
def test_a_host_that_exits_without_closing_takes_its_kernel_along(mode: tuple[dict[str, Any], Path]) -> None:
    execution, project = mode
    host, report = start_host(project, execution, "exit")
    assert host.wait(LIVENESS_S) == 0
    assert all_gone([report["kernel"], *report["below"]])
    assert runtime_dirs(host.pid) == []


@pytest.mark.slow
def test_ctrl_c_on_the_host_ends_its_kernel(mode: tuple[dict[str, Any], Path]) -> None:
    execution, project = mode
    host, report = start_host(project, execution, "sleep")
    host.send_signal(signal.SIGINT)
    host.wait(LIVENESS_S)
    assert all_gone([report["kernel"], *report["below"]])


@pytest.mark.slow
def test_a_sigkilled_host_takes_its_kernel_and_its_daemons_along(mode: tuple[dict[str, Any], Path]) -> None:
    execution, project = mode
    host, report = start_host(project, execution, "sleep")
    assert not wait_gone(report["kernel"], timeout=0.5)
    os.kill(host.pid, signal.SIGKILL)
    host.wait(LIVENESS_S)
    assert all_gone([report["kernel"], *report["below"]]), "a process of the kernel outlived its SIGKILLed host"
    # What the dead host left in the temporary directory goes when the next host starts a kernel.
    app = kernel_app(project, execution=execution)
    try:
        app.run(app.session().execute("1"))
        assert runtime_dirs(host.pid) == []
    finally:
        app.close()
