"""The warm pool and restoring kernel state when a session is resumed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from weaver.config import Config
from weaver.events import EventType
from weaver.execution import lifecycle
from weaver.execution.boundary import KernelSite
from weaver.execution.channel import install_code
from weaver.execution.config import ExecutionConfig
from weaver.execution.executor import ExecutorSetup
from weaver.execution.kernel import LocalExecutor, prepare_session
from weaver.execution.output import Collector
from weaver.execution.process import KernelProcess
from weaver.execution.restore import RestoreReport
from weaver.execution.result import ExecutionResult
from weaver.execution.runtime import REPORT_MIME, SETUP_KEY, SETUP_MIME
from weaver.serde import from_data
from weaver.store import SessionPaths
from weaver.testing.kernels import kernel_app, wait_gone


@pytest.mark.slow
def test_pooled_sessions_start_warm_and_never_share_a_kernel(tmp_path: Path) -> None:
    app = kernel_app(tmp_path, execution={"pool_size": 1})
    try:
        app.warm_up(wait=True)
        (pooled,) = lifecycle.live_pids()
        first, second = app.session(), app.session()
        a = app.run(first.execute("import os\nsecret = 'first'\nos.getcwd()"))
        b = app.run(second.execute("import os\n'secret' in globals(), os.getcwd()"))
        first.close()
        first_was_pooled = wait_gone(pooled)  # the first session adopted the warm kernel
        (other,) = lifecycle.live_pids()  # the second got the refill, not the first's kernel
    finally:
        app.close()
    seen, cwd_b = eval(b.value_repr or "")
    assert first_was_pooled and other != pooled
    assert (eval(a.value_repr or ""), cwd_b) == (str(first.cwd), str(second.cwd))  # each moved to its cwd
    assert not seen
    assert wait_gone(other)
    assert lifecycle.live_pids() == ()  # closing the app also shut the pool's refill


def test_a_warm_kernel_refuses_user_code_until_a_session_is_set_up_in_it(tmp_path: Path) -> None:
    site, paths = _site(tmp_path)
    marker = paths.cwd / "ran.txt"
    user_code = f"open({str(marker)!r}, 'a').write('ran')"
    setup = _setup(paths)

    async def scenario() -> tuple[str, str, str | None, str | None]:
        kernel = await KernelProcess.start(ExecutionConfig(), site)
        try:
            prepare_session(paths, kernel)
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


def test_a_kernel_on_hold_takes_a_sessions_setup_with_its_first_code(tmp_path: Path) -> None:
    site, paths = _site(tmp_path)
    marker = paths.cwd / "ran.txt"
    user_code = f"open({str(marker)!r}, 'a').write('ran'); __import__('os').getcwd()"
    setup = _setup(paths)
    broken = {**setup, "cwd": str(paths.cwd / "missing")}

    async def scenario() -> tuple[Collector, Collector]:
        kernel = await KernelProcess.start(ExecutionConfig(), site)
        try:
            prepare_session(paths, kernel)
            await kernel.warm_up()
            failed = kernel.submit(user_code, silent=False, artifacts_dir=None, metadata={SETUP_KEY: broken})
            await kernel.wait(failed, 30)
            adopted = kernel.submit(user_code, silent=False, artifacts_dir=None, metadata={SETUP_KEY: setup})
            await kernel.wait(adopted, 30)
            return failed, adopted
        finally:
            await kernel.shutdown()

    failed, adopted = asyncio.run(scenario())
    ((failure,),) = [failed.reports[SETUP_MIME]]
    assert failure["error"].startswith("FileNotFoundError:") and "missing" in failure["error"]
    assert failed.error is not None and failed.error.type == "InputRejected"  # refused unrun
    ((report,),) = [adopted.reports[SETUP_MIME]]
    assert report["plugin_errors"] == {}
    assert adopted.error is None and adopted.value == repr(str(paths.cwd))  # set up, then run there
    assert adopted.reports[REPORT_MIME]  # the runtime's hooks ran for this very cell
    assert marker.read_text() == "ran"  # once


def test_a_pool_kernel_that_drops_request_metadata_is_set_up_before_its_code(tmp_path: Path) -> None:
    """ipykernel and IPython pass request metadata on to the shell only in recent versions
    (simulated here by an ipykernel that drops it); with older ones the first code is
    refused, and the session sets the kernel up first."""
    session_dir = tmp_path / "session"

    class OneKernel:
        """The pool interface (``take``), handing out one prepared kernel."""

        def __init__(self, kernel: KernelProcess) -> None:
            self.kernel = kernel

        async def take(self) -> KernelProcess:
            return self.kernel

    async def scenario() -> tuple[ExecutionResult, ExecutionResult]:
        kernel = await KernelProcess.start(ExecutionConfig(), KernelSite(sessions=str(tmp_path), project_dir=str(tmp_path)))
        await kernel.warm_up()
        await kernel.run_internal(DROP_CELL_META)
        executor = LocalExecutor(
            session_dir, Config({"execution": ExecutionConfig()}, {}, tmp_path), ExecutorSetup("s1"), OneKernel(kernel)
        )
        try:
            first = await executor.execute("runs = globals().get('runs', 0) + 1\nruns, __import__('os').getcwd()")
            again = await executor.execute("runs")
        finally:
            await executor.close()
        return first, again

    first, again = asyncio.run(scenario())
    assert first.ok and eval(first.value_repr or "") == (1, str(session_dir / "cwd"))
    assert again.value_repr == "1"  # the code ran once: the refused request did nothing


DROP_CELL_META = """
def _drop_cell_meta():
    kernel = get_ipython().kernel
    do_execute = kernel.do_execute

    def without_cell_meta(*args, cell_meta=None, **kwargs):
        assert cell_meta is not None  # else this test tests nothing
        return do_execute(*args, **kwargs)

    kernel.do_execute = without_cell_meta

_drop_cell_meta()
del _drop_cell_meta
"""


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


def _site(tmp_path: Path) -> tuple[KernelSite, SessionPaths]:
    """A site for kernels of any session under ``tmp_path``, and one such session."""
    paths = SessionPaths(tmp_path / "sessions" / "s1")
    paths.create()
    return KernelSite(sessions=str(paths.root.parent), project_dir=str(tmp_path)), paths


def _setup(paths: SessionPaths) -> dict[str, object]:
    """A session's setup as the kernel receives it, with no plugins."""
    return {
        "session_id": "s1",
        "cwd": str(paths.cwd),
        "home": str(paths.cwd),
        "artifacts_dir": str(paths.artifacts),
        "plugins": [],
        "plugin_call_budget": None,
        "max_output_chars": 1000,
        "max_value_chars": 1000,
    }
