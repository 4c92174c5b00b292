"""No kernel outlives its host: closing, a normal exit, Ctrl-C and SIGKILL of the host."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from weaver.execution import lifecycle
from weaver.testing.kernels import LIVENESS_S, kernel_app, wait_gone

HOST = textwrap.dedent(
    """
    import sys, time
    from weaver.testing.kernels import kernel_app

    app = kernel_app(sys.argv[1])
    session = app.session()
    result = app.run(session.execute("import os; os.getpid()"))
    print(result.value_repr, flush=True)
    if sys.argv[2] == "exit":
        sys.exit(0)  # without closing anything: atexit must clean up
    time.sleep(600)
    """
)


def start_host(tmp_path: Path, how: str) -> tuple[subprocess.Popen[str], int]:
    """A subprocess host that starts a kernel and prints its pid."""
    script = tmp_path / "host.py"
    script.write_text(HOST)
    host = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path), how],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = host.stdout.readline() if host.stdout else ""
    if not line.strip().isdigit():
        host.kill()
        pytest.fail(f"the host did not report a kernel pid: {line!r} {host.stderr.read() if host.stderr else ''}")
    return host, int(line)


def test_closing_the_app_ends_the_kernel(tmp_path: Path) -> None:
    app = kernel_app(tmp_path)
    result = app.run(app.session().execute("import os; os.getpid()"))
    pid = int(result.value_repr or 0)
    assert pid in lifecycle.live_pids()
    app.close()
    assert wait_gone(pid)
    assert pid not in lifecycle.live_pids()


@pytest.mark.slow
def test_a_host_that_exits_without_closing_takes_its_kernel_along(tmp_path: Path) -> None:
    host, pid = start_host(tmp_path, "exit")
    assert host.wait(LIVENESS_S) == 0
    assert wait_gone(pid)


@pytest.mark.slow
def test_ctrl_c_on_the_host_ends_its_kernel(tmp_path: Path) -> None:
    host, pid = start_host(tmp_path, "sleep")
    host.send_signal(signal.SIGINT)
    host.wait(LIVENESS_S)
    assert wait_gone(pid)


@pytest.mark.slow
def test_a_sigkilled_host_takes_its_kernel_along(tmp_path: Path) -> None:
    host, pid = start_host(tmp_path, "sleep")
    assert not wait_gone(pid, timeout=0.5)
    os.kill(host.pid, signal.SIGKILL)
    host.wait(LIVENESS_S)
    assert wait_gone(pid), f"kernel {pid} outlived its SIGKILLed host"
