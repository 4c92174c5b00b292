"""``weaver run`` with the real Planner and CodeInterpreter, a scripted model over HTTP and a
real kernel: the Round JSON of a round that ran code, and the exit status when the model
fails (1) or the user presses Ctrl-C (130)."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from weaver.model import AttachmentType, Round, RoundState
from weaver.serde import from_json
from weaver.testing import FakeError, FakeOpenAIServer
from weaver.testing.kernels import wait_gone
from weaver.testing.wire import code_reply, planner_reply

pytestmark = pytest.mark.slow

PLAN = "1. Compute the sum\n2. Report it"
LIVENESS = 60.0


def command(project: Path, server: FakeOpenAIServer, *args: str) -> tuple[list[str], dict[str, str]]:
    (project / "weaver.toml").write_text(
        f'[llm]\nbase_url = "{server.base_url}"\napi_key = "test"\nmodel = "fake-model"\nmax_retries = 0\n'
        '[session]\nroles = ["planner", "code_interpreter"]\n'
    )
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("WEAVER_", "OPENAI_"))}
    environ |= {"WEAVER_CONFIG": os.devnull, "WEAVER_LOAD_EXTENSIONS": "planner,code_interpreter,code_verifier"}
    return [sys.executable, "-m", "weaver.cli", "-p", str(project), "run", *args], environ


def test_json_round_of_a_round_that_ran_code(tmp_path):
    replies = [
        planner_reply("Compute 2 + 3 and print it.", plan=PLAN),
        code_reply("x = 2 + 3\nprint(x)", thought="Plain arithmetic."),
        planner_reply("2 + 3 = 5", send_to="User", stop="Completed", plan=PLAN, step="2. Report it"),
    ]
    with FakeOpenAIServer(replies) as server:
        args, environ = command(tmp_path, server, "what is 2 + 3", "--json")
        result = subprocess.run(args, env=environ, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    round = from_json(result.stdout, Round)
    assert (round.state, round.reason, round.answer) == (RoundState.finished, "Completed", "2 + 3 = 5")
    assert [(p.send_from, p.send_to) for p in round.posts] == [
        ("User", "Planner"),
        ("Planner", "CodeInterpreter"),
        ("CodeInterpreter", "Planner"),
        ("Planner", "User"),
    ]
    code_post = round.posts[2]
    assert code_post.attachment(AttachmentType.reply_content).content == "x = 2 + 3\nprint(x)"
    assert code_post.attachment(AttachmentType.execution_result).extra["stdout"] == "5\n"
    assert round.usage.llm_calls == 3
    assert "▶ 1. Compute the sum" in result.stderr and "x = 2 + 3" in result.stderr


def test_a_model_that_fails_makes_the_round_fail_with_exit_1(tmp_path):
    with FakeOpenAIServer([FakeError(500, "the model is down")] * 3) as server:
        args, environ = command(tmp_path, server, "what is 2 + 3", "--json")
        result = subprocess.run(args, env=environ, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 1, result.stderr
    round = from_json(result.stdout, Round)
    assert round.state is RoundState.failed
    assert "500" in round.reason
    assert "✗ failed" in result.stderr


def processes_under(folder: Path) -> list[int]:
    """Pids of the processes whose working directory is inside ``folder`` (a kernel's is its session's)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if Path(os.readlink(proc / "cwd")).is_relative_to(folder):
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


def kernels_of(host: int) -> list[int]:
    """Pids of the kernel launchers (or their sandboxes) that process ``host`` started."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0") if proc.name.isdigit() else []
        except OSError:
            continue
        if b"weaver.execution.runtime.launch" in argv and any(f'"host_pid": {host},'.encode() in a for a in argv):
            found.append(int(proc.name))
    return found


def test_a_round_that_runs_no_code_leaves_no_kernel_behind(tmp_path):
    # The session starts its kernel when it is created, so it is there while the Planner's
    # call is out (the reply waits for it); the round never needs it.
    seen: list[int] = []

    def respond(body: dict[str, object]) -> str:
        deadline = time.monotonic() + LIVENESS
        while not seen and time.monotonic() < deadline:
            seen.extend(kernels_of(process.pid))
            time.sleep(0.05)
        return planner_reply("Hello.", send_to="User", stop="Completed", plan=PLAN)

    with FakeOpenAIServer(respond) as server:
        args, environ = command(tmp_path, server, "say hello", "--json")
        process = subprocess.Popen(args, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        stdout, stderr = process.communicate(timeout=LIVENESS * 2)
    assert process.returncode == 0, stderr
    assert from_json(stdout, Round).answer == "Hello."
    assert seen, "no kernel was started while the first call was out"
    assert all(wait_gone(pid) for pid in seen) and kernels_of(process.pid) == []


def test_a_kernel_that_cannot_start_fails_the_round_with_exit_1_as_without_prestart(tmp_path):
    # The kernel starts while the Planner thinks; its failure is reported where the code
    # first needs it, with the same words and exit status as when it starts only then.
    outcomes = []
    for prestart in ("true", "false"):
        project = tmp_path / prestart
        project.mkdir()
        replies = [planner_reply("Compute 2 + 3.", plan=PLAN), code_reply("2 + 3")]
        with FakeOpenAIServer(replies) as server:
            args, environ = command(project, server, "what is 2 + 3", "--json")
            at = args.index("run")
            args[at:at] = ["--set", "execution.python=/nonexistent/python", "--set", f"execution.prestart={prestart}"]
            result = subprocess.run(args, env=environ, capture_output=True, text=True, timeout=300, check=False)
        round = from_json(result.stdout, Round)
        outcomes.append((result.returncode, round.state, round.reason.replace(str(project), "PROJECT")))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][:2] == (1, RoundState.failed) and "/nonexistent/python" in outcomes[0][2], outcomes


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_or_sigterm_cancels_the_round_and_exits_130(tmp_path, sig):
    replies = [
        planner_reply("Sum slowly.", plan=PLAN),
        code_reply("import time\ntime.sleep(600)", thought="Take a long time."),
    ]
    with FakeOpenAIServer(replies) as server:
        args, environ = command(tmp_path, server, "sum slowly", "--json")
        process = subprocess.Popen(args, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [lines.put(line) for line in process.stderr], daemon=True).start()
        try:
            # The code is printed once it is complete, as it starts running.
            while "time.sleep(600)" not in lines.get(timeout=LIVENESS):
                pass
            process.send_signal(sig)
            process.wait(timeout=LIVENESS)
            stdout = process.stdout.read()
        finally:
            process.kill()
    assert process.returncode == 130
    round = from_json(stdout, Round)
    assert (round.state, round.reason) == (RoundState.cancelled, "cancelled")
    assert len(server.requests) == 2
    (log,) = (tmp_path / ".weaver" / "sessions").glob("*/events.jsonl")
    assert '"type":"round_end"' in log.read_text()  # recorded, not lost with the process
    assert processes_under(tmp_path) == []  # the kernel went with it


def test_global_replay_options_run_a_recorded_session_without_a_model(tmp_path):
    from weaver_demo import CASSETTE, EXTENSIONS, REQUEST
    from weaver_demo.session import copy_project

    project = copy_project(tmp_path / "project")
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("WEAVER_", "OPENAI_"))}
    environ |= {"WEAVER_CONFIG": os.devnull, "WEAVER_LOAD_EXTENSIONS": ",".join(EXTENSIONS)}
    args = ["--llm-mode", "replay", "--cassette", CASSETTE, "-p", str(project), "run", REQUEST, "--json"]
    result = subprocess.run(
        [sys.executable, "-m", "weaver.cli", *args], env=environ, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr
    round = from_json(result.stdout, Round)
    assert round.state is RoundState.finished
    assert round.answer.startswith("West grew fastest in 2024")
    assert round.usage.llm_calls == 5
    artifacts = [post.attachment(AttachmentType.artifact_paths) for post in round.posts]
    (plot,) = [path for found in artifacts if found is not None for path in found.extra]
    assert Path(plot).is_file() and plot.endswith(".png")
