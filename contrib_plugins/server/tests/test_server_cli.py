"""``weaver run --server URL`` and ``weaver chat --server URL`` behave as they do locally: the same
answer on stdout, the same live view on stderr, the same exit statuses (0, 1, 2, 130)."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from weaver.model import Round
from weaver.serde import from_json
from weaver.testing import FakeOpenAIServer, run_weaver
from weaver_server.testing import ServiceProcess, clean_environment, scripted_model, serve, write_project

pytestmark = pytest.mark.slow

ALICE = "alice-token-0123456789abcdef"
LIVENESS = 90.0


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, ServiceProcess]]:
    with FakeOpenAIServer(scripted_model) as model:
        project = write_project(tmp_path_factory.mktemp("project"), model.base_url, execution={"pool_size": 0})
        with serve(project, tokens={"alice": ALICE}) as service:
            yield project, service


@pytest.fixture
def project(setup: tuple[Path, ServiceProcess]) -> Path:
    return setup[0]


@pytest.fixture
def service(setup: tuple[Path, ServiceProcess]) -> ServiceProcess:
    return setup[1]


def local(project: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return run_weaver("-p", str(project), *args, cwd=project, load=None, stdin=stdin, timeout=LIVENESS)


def remote(service: ServiceProcess, command: str, *args: str, token: str = ALICE, stdin: str | None = None,
           cwd: Path | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
    where = cwd or service.project.parent
    return run_weaver(command, "--server", service.url, "--token", token, *args, cwd=where, stdin=stdin, timeout=LIVENESS)


def view(stderr: str) -> list[str]:
    """The live view without what differs from run to run (ids, timings) or from place to place (warnings)."""
    lines = [line for line in stderr.splitlines() if not line.startswith("warning: ")]
    lines = [re.sub(r"(session|round|post|atta|appr)-\d{8}-\d{6}-[0-9a-f]{6}", r"\1-ID", line) for line in lines]
    return [re.sub(r"\d+\.\d+ s\b", "T s", line).rstrip() for line in lines]


@pytest.mark.parametrize("request_text", ["run: print(6 * 7)", "run: x = 3\nprint(x + 4)"])
def test_run_gives_the_same_answer_view_and_status(project: Path, service: ServiceProcess, request_text: str) -> None:
    here, there = local(project, "run", request_text), remote(service, "run", request_text)
    assert here.returncode == there.returncode == 0, there.stderr
    assert here.stdout == there.stdout and there.stdout.startswith("Done: ")
    assert view(here.stderr) == view(there.stderr)


def test_run_json_is_the_round(project: Path, service: ServiceProcess) -> None:
    here, there = local(project, "run", "--json", "run: print(1)"), remote(service, "run", "--json", "run: print(1)")
    ours, theirs = from_json(here.stdout, Round), from_json(there.stdout, Round)
    assert (theirs.state, theirs.answer, theirs.reason) == (ours.state, ours.answer, ours.reason)
    # A post that reports an execution says how long it took, which differs from run to run.
    posts = [[(p.send_from, p.send_to, re.sub(r"\d+\.\d+ s\b", "T s", p.message)) for p in r.posts] for r in (theirs, ours)]
    assert posts[0] == posts[1]
    assert theirs.usage.llm_calls == ours.usage.llm_calls == 3


def test_a_file_goes_with_the_request(project: Path, service: ServiceProcess, tmp_path: Path) -> None:
    data = tmp_path / "numbers.csv"
    data.write_text("n\n1\n2\n3\n")
    code = "run: import pandas as pd\nprint(pd.read_csv('numbers.csv').n.sum())"
    here = local(project, "run", "-f", str(data), code)
    there = remote(service, "run", "-f", str(data), code)
    assert here.returncode == there.returncode == 0
    assert here.stdout == there.stdout == "Done: 6\n"


def test_a_failed_round_exits_1_as_locally(project: Path, service: ServiceProcess) -> None:
    here, there = local(project, "run", "fail: please"), remote(service, "run", "fail: please")
    assert here.returncode == there.returncode == 1, there.stderr
    assert here.stdout == there.stdout == ""
    assert view(here.stderr)[-2:] == view(there.stderr)[-2:]


def test_usage_errors_exit_2_with_nothing_run(project: Path, service: ServiceProcess, tmp_path: Path) -> None:
    missing = remote(service, "run", "--session", "session-20200101-000000-000000", "hi")
    assert missing.returncode == 2 and "no session" in missing.stderr
    assert local(project, "run", "--session", "session-20200101-000000-000000", "hi").returncode == 2
    assert remote(service, "run", "--session", "../etc", "hi").returncode == 2
    refused = remote(service, "run", "hi", token="wrong-token-0123456789")
    assert refused.returncode == 2 and "refused the token" in refused.stderr and "wrong-token" not in refused.stderr
    nobody = run_weaver("run", "--server", "http://127.0.0.1:9", "--token", ALICE, "hi", cwd=tmp_path, timeout=LIVENESS)
    assert nobody.returncode == 2 and "cannot reach" in nobody.stderr
    token_from_env = run_weaver("run", "--server", service.url, "run: print(5)", cwd=tmp_path, env={"WEAVER_TOKEN": ALICE})
    assert token_from_env.returncode == 0 and token_from_env.stdout == "Done: 5\n"


def test_a_remote_session_is_continued_with_its_history(service: ServiceProcess) -> None:
    first = remote(service, "run", "--json", "run: kept = 'yes'\nprint(kept)")
    session_id = re.search(r"session (session-\S+) ·", first.stderr)
    assert session_id is not None
    again = remote(service, "run", "--session", session_id.group(1), "run: print(kept)")
    assert again.returncode == 0 and again.stdout == "Done: yes\n"


def test_ctrl_c_cancels_the_remote_round_and_exits_130(service: ServiceProcess, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "weaver.cli", "run", "--server", service.url, "--token", ALICE,
               "run: from pathlib import Path\nPath('running').touch()\nimport time\nwhile True: time.sleep(0.05)"]  # fmt: skip
    process = subprocess.Popen(command, cwd=tmp_path, env=clean_environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    users = service.workspace / "users" / "alice" / "sessions"
    deadline = time.monotonic() + LIVENESS
    while not any(users.glob("*/cwd/running")):
        assert time.monotonic() < deadline and process.poll() is None, "the code never ran"
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=LIVENESS)
    assert process.returncode == 130, stderr
    assert "cancelling the round" in stderr and "cancelled" in stderr.splitlines()[-2]


def test_chat_over_the_service(project: Path, service: ServiceProcess) -> None:
    script = "run: print(2 + 2)\n/plan\n/cost\n/exit\n"
    here, there = local(project, "chat", stdin=script), remote(service, "chat", stdin=script)
    assert here.returncode == there.returncode == 0, there.stderr
    assert "Done: 4" in there.stdout and "▶ 2. Report what it printed" in there.stdout
    strip = lambda out: [line for line in view(out) if not line.startswith("Weaver chat")]
    assert strip(here.stdout) == strip(there.stdout)
    assert f"project {service.url}" in there.stdout
