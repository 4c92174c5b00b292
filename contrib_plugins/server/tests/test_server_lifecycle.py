"""Starting and stopping ``weaver serve`` as a deployment does: configuration errors exit 2
before anything listens, SIGTERM records running rounds as cancelled and closes every kernel,
and a restarted service picks every session up from its log."""

from __future__ import annotations

import json
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

import httpx2
import psutil
import pytest

from weaver.store import read_log
from weaver.testing import FakeOpenAIServer, run_weaver
from weaver.testing.kernels import wait_gone
from weaver_server.testing import scripted_model, serve, write_project

pytestmark = pytest.mark.slow

ALICE = "alice-token-0123456789abcdef"
LIVENESS = 90.0
FOREVER = "run: from pathlib import Path\nPath('running').touch()\nimport time\nwhile True: time.sleep(0.05)"


def api(url: str, token: str = ALICE) -> httpx2.Client:
    return httpx2.Client(base_url=url + "/v1", headers={"Authorization": f"Bearer {token}"}, timeout=LIVENESS)


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + LIVENESS
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_sigterm_cancels_running_rounds_records_them_and_closes_every_kernel(tmp_path: Path) -> None:
    with FakeOpenAIServer(scripted_model) as model:
        project = write_project(tmp_path / "project", model.base_url, execution={"pool_size": 1})
        with serve(project, tokens={"alice": ALICE}) as service, api(service.url) as http:
            sessions = []
            for _ in range(2):
                session_id = http.post("/sessions").json()["id"]
                started = http.post(f"/sessions/{session_id}/messages", json={"text": FOREVER}).json()
                running = service.workspace / "users" / "alice" / "sessions" / session_id / "cwd" / "running"
                wait_for(running.exists, "the code to run in the session's kernel")
                sessions.append((session_id, started))
            kernels = psutil.Process(service.process.pid).children(recursive=True)
            assert len(kernels) >= 2, "a kernel per session (and the warm pool's)"
            watcher = http.sse(f"/sessions/{sessions[0][0]}/events", params={"after": sessions[0][1]["after"]})
            source = watcher.__enter__()
            try:
                assert service.stop(signal.SIGTERM) == 130, "".join(service.stderr)
                seen = [message.event for message in source if message.data]
            finally:
                watcher.__exit__(None, None, None)
            assert seen[-1] == "round_end", "the stream saw the round end before it closed"
            assert all(wait_gone(kernel.pid) for kernel in kernels), "no kernel outlives the service"
            for session_id, started in sessions:
                log = service.workspace / "users" / "alice" / "sessions" / session_id / "events.jsonl"
                ended = [e for e in read_log(log).events if e.type.value == "round_end"]
                assert [(e.round_id, e.data["round"]["state"]) for e in ended] == [(started["round_id"], "cancelled")]

        # A new service on the same workspace: the rounds are cancelled (not "interrupted"),
        # and the sessions go on.
        with serve(project, tokens={"alice": ALICE}) as service, api(service.url) as http:
            session_id = sessions[0][0]
            shown = http.get(f"/sessions/{session_id}").json()
            assert [r["state"] for r in shown["round_list"]] == ["cancelled"]
            started = http.post(f"/sessions/{session_id}/messages", json={"text": "run: print('again')"}).json()
            params = {"after": started["after"], "round_id": started["round_id"]}
            with http.sse(f"/sessions/{session_id}/events", params=params) as source:
                last = [json.loads(m.data) for m in source if m.data][-1]
            assert last["data"]["round"]["answer"] == "Done: again"


def test_ctrl_c_cancels_a_running_round_and_one_waiting_for_approval(tmp_path: Path) -> None:
    with FakeOpenAIServer(scripted_model) as model:
        project = write_project(
            tmp_path / "project", model.base_url, execution={"pool_size": 0}, approval={"code": "always", "timeout_s": LIVENESS * 4}
        )
        with serve(project, tokens={"alice": ALICE}) as service, api(service.url) as http:
            started = {}
            for _ in range(2):
                session_id = http.post("/sessions").json()["id"]
                started[session_id] = http.post(f"/sessions/{session_id}/messages", json={"text": FOREVER}).json()
                wait_for(lambda session_id=session_id: http.get(f"/sessions/{session_id}/approvals").json() != [], "the code's approval request")
            running, waiting = started
            request = http.get(f"/sessions/{running}/approvals").json()[0]
            assert http.post(f"/sessions/{running}/approvals/{request['id']}", json={"decision": "approved"}).status_code == 200
            cwd = service.workspace / "users" / "alice" / "sessions" / running / "cwd"
            wait_for((cwd / "running").exists, "the approved code to run")
            kernels = psutil.Process(service.process.pid).children(recursive=True)
            assert kernels, "the running session's kernel"
            assert service.stop(signal.SIGINT) == 130, "".join(service.stderr)
            assert all(wait_gone(kernel.pid) for kernel in kernels), "no kernel outlives the service"
            for session_id, round in started.items():
                log = read_log(service.workspace / "users" / "alice" / "sessions" / session_id / "events.jsonl").events
                ended = [e for e in log if e.type.value == "round_end"]
                assert [(e.round_id, e.data["round"]["state"]) for e in ended] == [(round["round_id"], "cancelled")]
            assert not (cwd.parent.parent / waiting / "cwd" / "running").exists(), "the code nobody approved never ran"


def test_without_tokens_the_service_makes_one_and_refuses_everyone_else(tmp_path: Path) -> None:
    with FakeOpenAIServer(scripted_model) as model:
        project = write_project(tmp_path / "project", model.base_url, execution={"pool_size": 0})
        with serve(project) as service:
            printed = "".join(service.stderr)
            token = printed.split("export WEAVER_TOKEN=", 1)[1].split(")", 1)[0]
            with api(service.url, token) as http:
                assert http.get("/me").json() == {"user": "local"}
            assert httpx2.get(service.url + "/v1/sessions").status_code == 401
        stored = [p for p in project.rglob("*") if p.is_file() and token.encode() in p.read_bytes()]
        assert stored == [], "the made-up token is shown once and kept nowhere"


def test_configuration_errors_exit_2_before_anything_listens(tmp_path: Path) -> None:
    project = write_project(tmp_path / "project", "http://127.0.0.1:9/v1")
    cases = {
        "WEAVER_SERVER__TOKENS": ("alice", "[server.tokens]"),
        "WEAVER_SERVER__PORT": ("-1", "[server.port]"),
        "WEAVER_SERVER__MAX_REQUEST_BYTES": ("ten", "[server.max_request_bytes]"),
    }
    for variable, (value, named) in cases.items():
        done = run_weaver("-p", str(project), "serve", "--port", "0", cwd=tmp_path, load=None, env={variable: value})
        assert done.returncode == 2, (variable, done.stderr)
        assert named in done.stderr and "Traceback" not in done.stderr
    short = run_weaver(
        "-p", str(project), "serve", cwd=tmp_path, load=None, env={"WEAVER_SERVER__TOKENS": "alice:short"}
    )
    assert short.returncode == 2 and "at least 16 characters" in short.stderr
    twice = run_weaver(
        "-p", str(project), "serve", cwd=tmp_path, load=None,
        env={"WEAVER_SERVER__TOKENS": f"alice:{ALICE},bob:{ALICE}"},
    )  # fmt: skip
    assert twice.returncode == 2 and "both 'alice' and 'bob'" in twice.stderr
    file = tmp_path / "tokens"
    file.write_text("# the team\nalice:" + ALICE + "\n\nbob\n")
    bad_file = run_weaver(
        "-p", str(project), "serve", cwd=tmp_path, load=None, env={"WEAVER_SERVER__TOKENS_FILE": str(file)}
    )
    assert bad_file.returncode == 2 and f"{file}" in bad_file.stderr and "entry 2" in bad_file.stderr


def test_a_port_in_use_is_a_failure_with_a_message(tmp_path: Path) -> None:
    project = write_project(tmp_path / "project", "http://127.0.0.1:9/v1")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_weaver(
            "-p", str(project), "serve", "--port", str(port), cwd=tmp_path, load=None,
            env={"WEAVER_SERVER__TOKENS": f"alice:{ALICE}"},
        )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "address already in use" in done.stderr.lower()
