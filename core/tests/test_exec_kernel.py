"""The local executor with real kernels: state, time limits, crashes, limits, output, artifacts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from weaver.engine import App, Session
from weaver.events import EventType
from weaver.execution import ExecutionResult
from weaver.serde import from_data
from weaver.store import read_log
from weaver.testing.kernels import LIVENESS_S, kernel_app

MB = 1024 * 1024


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """One App for the module: its session's kernel is shared by the tests that keep it alive."""
    app = kernel_app(
        tmp_path_factory.mktemp("exec_kernel"),
        execution={"timeout_s": 5, "interrupt_grace_s": 3, "memory_mb": 1536, "max_output_chars": 4000},
    )
    yield app
    app.close()


@pytest.fixture(scope="module")
def session(app: App) -> Session:
    return app.session()


def run(session: Session, code: str) -> ExecutionResult:
    return session.app.run(session.execute(code))


def test_a_dataframe_from_one_execution_is_used_in_the_next(session: Session) -> None:
    first = run(session, "import pandas as pd\ndf = pd.DataFrame({'x': [1, 2, 3], 'y': ['a', 'b', 'c']})")
    second = run(session, "df['x'].sum() * 2")
    assert first.ok and first.outcome == "ok"
    assert second.ok, second.error
    assert second.value_repr is not None and "12" in second.value_repr
    assert first.code.startswith("import pandas")


def test_the_kernel_works_in_the_session_cwd_with_its_own_home(session: Session) -> None:
    result = run(session, "import os\nprint(os.getcwd())\nprint(os.environ['HOME'])")
    assert result.stdout.split() == [str(session.cwd), str(session.cwd)]
    (session.cwd / "data.csv").write_text("a,b\n1,2\n3,4\n")
    loaded = run(session, "import pandas as pd\nlen(pd.read_csv('data.csv'))")
    assert loaded.value_repr == "2"


def test_variable_inventory_describes_user_variables(session: Session) -> None:
    result = run(
        session,
        "import numpy as np\nimport pandas as pd\nframe = pd.DataFrame({'a': [1.5, 2.5]})\nmatrix = np.zeros((3, 4))\n"
        "names = ['x', 'y', 'z']\ntitle = 'hello'\ndef helper(n: int) -> int:\n    return n\n_private = 1",
    )
    found = {v.name: v for v in result.variables}
    assert found["frame"].type == "DataFrame" and found["frame"].shape_or_len == "2x1"
    assert "a (float64)" in found["frame"].preview
    assert found["matrix"].shape_or_len == "3x4" and "float64" in found["matrix"].preview
    assert found["names"].shape_or_len == "3" and found["names"].preview == "['x', 'y', 'z']"
    assert found["title"].preview == "'hello'"
    assert found["helper"].type == "function" and "(n: int) -> int" in found["helper"].preview
    assert "_private" not in found and "np" not in found and "pd" not in found
    assert session.variables() == result.variables


def test_an_error_is_reported_with_type_message_and_plain_traceback(session: Session) -> None:
    result = run(session, "def f():\n    return 1 / 0\nf()")
    assert not result.ok and result.outcome == "error"
    assert result.error is not None and result.error.type == "ZeroDivisionError"
    assert result.error.message == "division by zero"
    assert "return 1 / 0" in result.error.traceback
    assert "\x1b[" not in result.error.traceback


def test_stdout_stderr_and_value_are_separate(session: Session) -> None:
    result = run(session, "import sys\nprint('out')\nprint('err', file=sys.stderr)\n40 + 2")
    assert (result.stdout, result.stderr, result.value_repr) == ("out\n", "err\n", "42")


def test_a_matplotlib_figure_becomes_a_png_artifact(session: Session) -> None:
    result = run(session, "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.title('t')\nplt.show()")
    assert result.ok, result.error
    pngs = [a for a in result.artifacts if a.mime == "image/png"]
    assert len(pngs) == 1
    path = Path(pngs[0].path)
    assert path.parent == session.artifacts_dir
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert result.stderr == ""  # Agg's "cannot show the figure" warning is not passed on
    again = run(session, "1")
    assert again.artifacts == ()  # figures are closed once saved


def test_files_written_to_artifacts_are_reported_with_their_type(session: Session) -> None:
    target = session.artifacts_dir / "frame.csv"
    code = f"import pandas as pd\npd.DataFrame({{'a': [1]}}).to_csv({str(target)!r}, index=False)"
    result = run(session, code)
    assert [(Path(a.path).name, a.mime) for a in result.artifacts] == [("frame.csv", "text/csv")]


def test_rich_displays_are_kept_as_text_and_saved_as_files(session: Session) -> None:
    result = run(session, "from IPython.display import display, HTML\ndisplay(HTML('<b>bold</b>'))")
    (shown,) = result.displays
    assert "text/html" in shown.mimes and shown.artifact is not None
    assert Path(shown.artifact).read_text() == "<b>bold</b>"
    assert any(a.path == shown.artifact and a.mime == "text/html" for a in result.artifacts)


def test_every_execution_is_a_durable_event(session: Session) -> None:
    run(session, "marker = 'durable'")
    executions = [e for e in read_log(session.paths.log).events if e.type is EventType.execution]
    last = from_data(executions[-1].data["result"], ExecutionResult)
    assert last.code == "marker = 'durable'" and last.ok


def test_printing_100_mb_is_capped_and_host_memory_stays_flat(session: Session) -> None:
    status = Path("/proc/self/status")
    if not status.exists():
        pytest.skip("needs /proc to read this process's peak memory")

    def peak_rss() -> int:
        return int(re.search(r"VmHWM:\s+(\d+) kB", status.read_text()).group(1)) * 1024

    # Reset the peak so the measurement covers this execution only (Linux >= 4.0).
    Path("/proc/self/clear_refs").write_text("5")
    before = peak_rss()
    result = run(session, "for i in range(100):\n    print(str(i % 10) * (1024 * 1024 - 1))\nprint('the end')")
    growth = peak_rss() - before
    assert result.ok, result.error
    assert len(result.stdout) < 4000 + 1000
    assert result.stdout.startswith("0000") and result.stdout.rstrip().endswith("the end")
    assert "characters cut" in result.stdout
    assert any(note.startswith("stdout:") for note in result.truncated)
    assert growth < 50 * MB, f"the host's peak memory grew by {growth / MB:.0f} MB"


def test_a_long_value_repr_is_capped(session: Session) -> None:
    result = run(session, "'v' * 100_000")
    assert result.value_repr is not None and len(result.value_repr) < 6000
    assert any(note.startswith("value:") for note in result.truncated)


def test_the_kernel_cannot_read_host_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-host-secret-123")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-host-secret-456")
    app = kernel_app(tmp_path)
    try:
        result = run(
            app.session(),
            "import os\nprint(sorted(k for k in os.environ if 'KEY' in k or 'SECRET' in k))\n"
            "print(b'host-secret' in open('/proc/self/environ', 'rb').read())",
        )
    finally:
        app.close()
    assert result.stdout.split("\n")[:2] == ["[]", "False"]


def test_allocating_far_beyond_the_memory_limit_fails_inside_the_kernel(session: Session) -> None:
    run(session, "survivor = 'still here'")
    result = run(session, "import numpy as np\nhuge = np.ones((4 * 1024, 1024, 1024))")
    assert result.outcome == "error" and result.error is not None
    assert result.error.type == "MemoryError"
    assert "Unable to allocate 32.0 GiB" in result.error.message
    raw = run(session, "block = bytearray(16 * 1024 ** 3)")
    assert raw.error is not None and raw.error.type == "MemoryError"
    after = run(session, "survivor")
    assert after.ok and after.value_repr == "'still here'" and not after.state_lost


@pytest.mark.slow
def test_an_infinite_loop_is_interrupted_at_the_time_limit(session: Session) -> None:
    result = run(session, "counter = 0\nwhile True:\n    counter += 1")
    assert result.outcome == "timeout_interrupted" and not result.ok
    assert result.error is not None and result.error.type == "TimeoutError"
    assert "KeyboardInterrupt" in result.error.traceback
    assert 5 <= result.duration_s < LIVENESS_S
    after = run(session, "counter > 0")
    assert after.ok and after.value_repr == "True"


@pytest.mark.slow
def test_a_kernel_that_ignores_interrupts_is_restarted(tmp_path: Path) -> None:
    app = kernel_app(tmp_path, execution={"timeout_s": 2, "interrupt_grace_s": 1})
    session = app.session()
    try:
        run(session, "kept = 1")
        result = run(
            session,
            "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    time.sleep(0.05)",
        )
        after = run(session, "'kept' in globals(), 2 + 2")
    finally:
        app.close()
    assert result.outcome == "timeout_restarted" and result.state_lost
    assert result.lost_variables == ("kept",)
    assert result.duration_s < LIVENESS_S
    assert after.ok and after.value_repr == "(False, 4)"


@pytest.mark.slow
def test_a_kernel_that_dies_is_replaced_and_the_loss_reported(tmp_path: Path) -> None:
    app = kernel_app(tmp_path)
    session = app.session()
    try:
        run(session, "a = 1\nb = [1, 2]")
        died = run(session, "import os\nos._exit(1)")
        after = run(session, "'a' in globals(), 1 + 1")
        crashed = run(session, "import ctypes\nctypes.string_at(0)")
        final = run(session, "3 * 3")
    finally:
        app.close()
    assert died.outcome == "kernel_died" and not died.ok and died.state_lost
    assert died.lost_variables == ("a", "b")
    assert died.error is not None and "exited with code 1" in died.error.message
    assert after.ok and after.value_repr == "(False, 2)"
    assert crashed.outcome == "kernel_died"
    assert crashed.error is not None and "SIGSEGV" in crashed.error.message
    assert final.ok and final.value_repr == "9"


def test_a_closed_session_refuses_to_execute(tmp_path: Path) -> None:
    from weaver.errors import WeaverError

    app = kernel_app(tmp_path)
    session = app.session()
    session.close()
    with pytest.raises(WeaverError, match="closed"):
        run(session, "1")
    app.close()


def test_cancelling_an_execution_interrupts_the_kernel(session: Session) -> None:
    import asyncio

    async def cancel_a_long_execution() -> None:
        task = asyncio.ensure_future(session.execute("import time\nfor _ in range(600):\n    time.sleep(0.05)"))
        await asyncio.sleep(1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_a_long_execution())
    after = run(session, "'still answering'")
    assert after.ok and after.value_repr == "'still answering'"
    assert after.duration_s < LIVENESS_S / 2
