"""Execution pieces that need no kernel: the result's JSON, config, environment, capping, restore."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from weaver.errors import ConfigError
from weaver.events import Event, EventType
from weaver.execution import Artifact, Display, ErrorInfo, ExecutionConfig, ExecutionResult, VariableInfo
from weaver.execution.feedback import format_result
from weaver.execution.limits import kernel_env, rlimits
from weaver.execution.output import CappedText
from weaver.execution.restore import cells_to_restore
from weaver.execution.runtime.capture import StreamCap
from weaver.execution.runtime.inventory import describe
from weaver.serde import from_json, to_data, to_json
from weaver.testing.kernels import kernel_app

FULL = ExecutionResult(
    ok=False,
    outcome="kernel_died",
    code="import os; os._exit(1)",
    value_repr=None,
    stdout="out",
    stderr="err",
    error=ErrorInfo("KernelDied", "the kernel process exited with code 1", "log tail"),
    displays=(Display(("text/html", "text/plain"), "<b>", "/s/artifacts/d.html"),),
    artifacts=(Artifact("/s/artifacts/d.html", "text/html"),),
    duration_s=1.5,
    state_lost=True,
    lost_variables=("df", "n"),
    truncated=("stdout: 10 characters cut",),
    variables=(VariableInfo("df", "DataFrame", "3x2", "columns: a (int64)"),),
    plugin_calls={"sql": 2},
)


def test_an_execution_result_round_trips_through_json() -> None:
    assert from_json(to_json(FULL), ExecutionResult) == FULL
    assert to_data(FULL)["error"]["type"] == "KernelDied"


def test_the_execution_table_is_validated(tmp_path: Path) -> None:
    app = kernel_app(tmp_path, execution={"timeout_s": 5})
    assert app.config.table("execution") == ExecutionConfig(timeout_s=5.0, pool_size=0)
    app.close()
    with pytest.raises(ConfigError, match=r"\[execution.sandbox\]: must be one of auto, none, bwrap, got .docker."):
        kernel_app(tmp_path, execution={"sandbox": "docker"})


def test_the_kernel_environment_is_an_allow_list(tmp_path: Path) -> None:
    host = {
        "PATH": "/usr/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C",
        "OPENAI_API_KEY": "sk-1",
        "AWS_SECRET_ACCESS_KEY": "x",
        "GITHUB_TOKEN": "t",
        "MY_DATA_DIR": "/data",
        "HOME": "/root",
    }
    env = kernel_env(ExecutionConfig(env_allow=("MY_*",), blas_threads=2), tmp_path, host)
    assert {"OPENAI_API_KEY", "AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN"}.isdisjoint(env)
    assert (env["PATH"], env["LANG"], env["LC_ALL"], env["MY_DATA_DIR"]) == ("/usr/bin", "C.UTF-8", "C", "/data")
    assert env["HOME"] == str(tmp_path) and env["MPLBACKEND"] == "Agg"
    assert env["OPENBLAS_NUM_THREADS"] == env["OMP_NUM_THREADS"] == "2"
    assert env["PYTHONPATH"].split(":")[0].endswith("src")


def test_rlimits_follow_the_config() -> None:
    limits = rlimits(ExecutionConfig(memory_mb=512, cpu_s=30, file_size_mb=0))
    assert limits == {"RLIMIT_AS": 512 * 1024 * 1024, "RLIMIT_CPU": 30, "RLIMIT_NPROC": 256, "RLIMIT_CORE": 0}
    # RLIMIT_NPROC counts a user's processes: a kernel of the host's own user would count the host's.
    assert "RLIMIT_NPROC" not in rlimits(ExecutionConfig(), own_user=False)


def test_capped_text_keeps_head_and_tail_within_its_limit() -> None:
    text = CappedText(100)
    for _ in range(1000):
        text.add("0123456789")
    text.add("END")
    kept = text.text()
    assert kept.startswith("0123456789" * 7) and kept.endswith("789END")
    assert text.cut == 10003 - 100
    assert "[... 9903 characters cut ...]" in kept


def test_a_stream_cap_passes_the_head_and_sends_the_tail_at_the_end() -> None:
    stream = io.StringIO()
    cap = StreamCap(40)
    cap.attach(stream)
    for n in range(100):
        stream.write(f"{n:03d}\n")
    assert cap.finish() == 400 - 40
    written = stream.getvalue()
    assert written.startswith("000\n001\n") and written.endswith("098\n099\n") and len(written) < 80
    assert "[... 360 characters cut ...]" in written
    stream.write("after")  # detached: writes pass again
    assert stream.getvalue().endswith("after")


def test_inventory_lines_stay_short() -> None:
    row = describe("big", list(range(10_000)))
    assert row["shape_or_len"] == "10000" and len(row["preview"]) <= 120
    assert describe("text", "x" * 1000)["preview"].endswith("'")


def test_restore_reruns_successful_cells_after_the_last_loss() -> None:
    def event(code: str, ok: bool, lost: bool = False) -> Event:
        result = ExecutionResult(ok=ok, outcome="ok" if ok else "error", code=code, state_lost=lost)
        return Event(EventType.execution, "s", data={"result": to_data(result)})

    events = [
        event("a = 1", True),
        event("crash", False, lost=True),
        event("b = 2", True),
        event("bad", False),
        Event(EventType.round_start, "s", "r", data={"user_query": "q"}),
        event("c = b", True),
    ]
    assert cells_to_restore(events) == ["b = 2", "c = b"]


def test_feedback_reports_everything_untrimmed() -> None:
    text = format_result(FULL)
    assert text.startswith("The execution crashed the kernel (1.50 s).")
    for part in (
        "variables to recreate: df, n",
        "Traceback:\nlog tail",
        "stdout:\nout",
        "stderr:\nerr",
        "- /s/artifacts/d.html (text/html)",
        "Plugin calls: sql x2.",
        "- df: DataFrame [3x2] columns: a (int64)",
        "Cut from this output:\n- stdout: 10 characters cut",
    ):
        assert part in text
