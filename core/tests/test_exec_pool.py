"""The warm pool and restoring kernel state when a session is resumed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from weaver.events import EventType
from weaver.execution import lifecycle
from weaver.execution.config import ExecutionConfig
from weaver.execution.process import KernelProcess, install_code
from weaver.execution.restore import RestoreReport
from weaver.serde import from_data
from weaver.testing.kernels import kernel_app, wait_gone


@pytest.mark.slow
def test_pooled_sessions_start_warm_and_never_share_a_kernel(tmp_path: Path) -> None:
    app = kernel_app(tmp_path, execution={"pool_size": 1})
    try:
        app.warm_up(wait=True)
        (pooled,) = lifecycle.live_pids()
        first, second = app.session(), app.session()
        a = app.run(first.execute("import os\nsecret = 'first'\nos.getpid(), os.getcwd()"))
        b = app.run(second.execute("import os\n'secret' in globals(), os.getpid(), os.getcwd()"))
    finally:
        app.close()
    pid_a, cwd_a = eval(a.value_repr or "")
    seen, pid_b, cwd_b = eval(b.value_repr or "")
    assert pid_a == pooled  # the first session adopted the warm kernel ...
    assert (cwd_a, cwd_b) == (str(first.cwd), str(second.cwd))  # ... and moved it to its cwd
    assert pid_b != pid_a and not seen  # the second got the refill, not the first's kernel
    assert wait_gone(pid_a) and wait_gone(pid_b)
    assert lifecycle.live_pids() == ()  # closing the app also shut the pool's refill


def test_a_warm_kernel_refuses_user_code_until_a_session_is_set_up_in_it(tmp_path: Path) -> None:
    marker = tmp_path / "ran.txt"
    user_code = f"open({str(marker)!r}, 'a').write('ran')"
    setup = {
        "session_id": "s1",
        "cwd": str(tmp_path),
        "home": str(tmp_path),
        "artifacts_dir": str(tmp_path / "artifacts"),
        "plugins": [],
        "plugin_call_budget": None,
        "max_output_chars": 1000,
        "max_value_chars": 1000,
    }

    async def scenario() -> tuple[str, str, str | None, str | None]:
        kernel = await KernelProcess.start(ExecutionConfig())
        try:
            await kernel.warm_up()
            refused = kernel.submit(user_code, silent=False, artifacts_dir=None)
            await kernel.wait(refused, 30)
            assert refused.error is not None
            internal = await kernel.run_internal("__import__('os').getpid()")  # Weaver's own code runs
            # The setup and the code sent back to back, as a session does with a pool kernel.
            setup_request = kernel.submit(install_code(setup), silent=True, artifacts_dir=None)
            accepted = kernel.submit(user_code, silent=False, artifacts_dir=None)
            await kernel.finish_internal(setup_request)
            await kernel.wait(accepted, 30)
            return refused.error.type, refused.error.message, internal.error, accepted.error
        finally:
            await kernel.shutdown()

    refused_type, refused_message, internal_error, accepted_error = asyncio.run(scenario())
    assert refused_type == "InputRejected" and "not been set up for a session" in refused_message
    assert internal_error is None and accepted_error is None
    assert marker.read_text() == "ran"  # once: the refused request never ran


@pytest.mark.slow
def test_a_resumed_session_restores_its_successful_cells(tmp_path: Path) -> None:
    app = kernel_app(tmp_path)
    session = app.session()
    session.paths.create()
    (session.cwd / "data.txt").write_text("some text")
    cells = (
        "lost = 'before the crash'",
        "import os; os._exit(3)",
        "x = 1",
        "text = open('data.txt').read()",
        "y = x + 1",
        "1 / 0",
        "z = [x, y]",
    )
    for code in cells:
        app.run(session.execute(code))
    session_id = session.id
    app.close()
    (session.cwd / "data.txt").unlink()  # so that re-running that cell fails

    events = []
    resumed_app = kernel_app(tmp_path, execution={"restore_on_resume": True})
    resumed_app.subscribe(events.append)
    try:
        resumed = resumed_app.resume(session_id)
        result = resumed_app.run(resumed.execute("sorted(k for k in ('lost', 'x', 'y', 'z') if k in globals()), z"))
    finally:
        resumed_app.close()
    assert result.value_repr == "(['x', 'y', 'z'], [1, 2])"
    (status,) = [e for e in events if e.type is EventType.status]
    assert status.data["message"] == "restored kernel state: re-ran 4 cell(s), 1 failed"
    report = from_data(status.data["restore"], RestoreReport)
    assert report.rerun == ("x = 1", "text = open('data.txt').read()", "y = x + 1", "z = [x, y]")
    ((code, error),) = report.failed
    assert code == "text = open('data.txt').read()" and error.startswith("FileNotFoundError:")


def test_without_restore_a_resumed_kernel_starts_empty(tmp_path: Path) -> None:
    app = kernel_app(tmp_path)
    session = app.session()
    app.run(session.execute("x = 1"))
    app.close()
    resumed_app = kernel_app(tmp_path)
    try:
        resumed = resumed_app.resume(session.id)
        result = resumed_app.run(resumed.execute("'x' in globals()"))
    finally:
        resumed_app.close()
    assert result.value_repr == "False"
