"""Approval over HTTP: with ``[approval] plan = true`` and ``code = "always"`` the API shows what
waits for the user, and the user's answer decides whether (and what) code runs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from weaver.events import EventType
from weaver.store import read_log
from weaver.testing import FakeOpenAIServer
from weaver_server.testing import ServiceProcess, scripted_model, scripted_service, serve, write_project

pytestmark = pytest.mark.slow

ALICE = "alice-token-0123456789abcdef"
BOB = "bob-token-0123456789abcdef00"
LIVENESS = 90.0
WRITES = "run: from pathlib import Path\nPath('ran.txt').write_text('ran')\nprint('wrote')"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    approval = {"code": "always", "plan": True, "timeout_s": LIVENESS * 4}
    directory = tmp_path_factory.mktemp("project")
    with scripted_service(directory, tokens={"alice": ALICE, "bob": BOB}, execution={"pool_size": 0}, approval=approval) as running:
        yield running


def client(service: ServiceProcess, token: str) -> httpx2.Client:
    return httpx2.Client(
        base_url=service.url + "/v1", headers={"Authorization": f"Bearer {token}"}, timeout=httpx2.Timeout(LIVENESS)
    )


@pytest.fixture
def alice(service: ServiceProcess) -> Iterator[httpx2.Client]:
    with client(service, ALICE) as http:
        yield http


@pytest.fixture
def bob(service: ServiceProcess) -> Iterator[httpx2.Client]:
    with client(service, BOB) as http:
        yield http


class Round:
    """A round started over HTTP, followed on its event stream from where it began."""

    def __init__(self, http: httpx2.Client, text: str) -> None:
        self.http = http
        self.session_id = http.post("/sessions").json()["id"]
        started = http.post(f"/sessions/{self.session_id}/messages", json={"text": text}).json()
        self.round_id = started["round_id"]
        self.after = started["after"]

    def next_request(self) -> dict[str, Any]:
        """The next approval request the stream shows."""
        with self.http.sse(f"/sessions/{self.session_id}/events", params={"after": self.after}) as source:
            for message in source:
                if message.data and message.id:
                    self.after = int(message.id)
                if message.event == "approval_request":
                    return dict(json.loads(message.data)["data"]["request"])
                assert message.event != "round_end", "the round ended without asking"
        raise AssertionError("the stream ended")

    def answer(self, request: dict[str, Any], decision: str, **body: Any) -> httpx2.Response:
        return self.http.post(
            f"/sessions/{self.session_id}/approvals/{request['id']}", json={"decision": decision, **body}
        )

    def end(self, reject: str | None = None) -> dict[str, Any]:
        """Follow the round to its end (rejecting, with ``reject`` as the reason, whatever it asks again)."""
        params = {"after": self.after, "round_id": self.round_id}
        with self.http.sse(f"/sessions/{self.session_id}/events", params=params) as source:
            for message in source:
                if message.event == "approval_request":
                    assert reject is not None, "the round asked for an approval nobody expected"
                    self.answer(json.loads(message.data)["data"]["request"], "rejected", reason=reject)
        return dict(self.http.get(f"/sessions/{self.session_id}/rounds/{self.round_id}").json())

    def cwd(self, service: ServiceProcess) -> Path:
        return service.workspace / "users" / "alice" / "sessions" / self.session_id / "cwd"


def test_approved_plan_and_code_run(service: ServiceProcess, alice: httpx2.Client) -> None:
    round = Round(alice, "run: print('approved')")
    plan = round.next_request()
    assert plan["kind"] == "plan" and plan["content"].startswith("1. Run the code")
    pending = alice.get(f"/sessions/{round.session_id}/approvals").json()
    assert [r["id"] for r in pending] == [plan["id"]]
    assert alice.get(f"/sessions/{round.session_id}").json()["pending_approvals"] == pending
    assert round.answer(plan, "approved").json() == {"answered": True}
    assert round.answer(plan, "approved").status_code == 404, "answered once"

    code = round.next_request()
    assert code["kind"] == "code" and code["content"] == "print('approved')" and code["reasons"]
    assert round.answer(code, "approved").status_code == 200
    assert round.end()["answer"] == "Done: approved"
    log = service.workspace / "users" / "alice" / "sessions" / round.session_id / "events.jsonl"
    answers = [e.data["answer"] for e in read_log(log).events if e.type is EventType.approval]
    assert [(a["decision"], a["by"]) for a in answers] == [("approved", "user"), ("approved", "user")]


def test_rejected_code_does_not_run_and_edited_code_runs_as_edited(service: ServiceProcess, alice: httpx2.Client) -> None:
    round = Round(alice, WRITES)
    round.answer(round.next_request(), "approved")  # the plan
    code = round.next_request()
    assert any("writes" in reason for reason in code["reasons"]) or code["reasons"]
    assert round.answer(code, "rejected", reason="no files, please").status_code == 200
    again = round.next_request()  # the model is told why and tries again
    assert again["id"] != code["id"]
    assert round.answer(again, "edited").status_code == 422, "an edit needs the edited code"
    assert round.answer(again, "maybe").status_code == 422
    assert round.answer(again, "edited", content="print('edited')").status_code == 200
    ended = round.end()
    assert ended["answer"] == "Done: edited"
    assert not (round.cwd(service) / "ran.txt").exists(), "the rejected code never ran"
    notebook = alice.get(f"/sessions/{round.session_id}/export", params={"format": "ipynb"}).json()
    sources = ["".join(cell["source"]) for cell in notebook["cells"]]
    assert "print('edited')" in sources
    assert any("rejected by the user: no files, please" in source for source in sources)


def test_another_user_can_neither_see_nor_answer(service: ServiceProcess, alice: httpx2.Client, bob: httpx2.Client) -> None:
    round = Round(alice, "run: print('mine')")
    plan = round.next_request()
    assert bob.get(f"/sessions/{round.session_id}/approvals").status_code == 404
    refused = bob.post(f"/sessions/{round.session_id}/approvals/{plan['id']}", json={"decision": "approved"})
    assert refused.status_code == 404
    # Bob's own session with that request id has nothing waiting either.
    own = bob.post("/sessions").json()["id"]
    assert bob.post(f"/sessions/{own}/approvals/{plan['id']}", json={"decision": "approved"}).status_code == 404
    assert [r["id"] for r in alice.get(f"/sessions/{round.session_id}/approvals").json()] == [plan["id"]]
    round.answer(plan, "rejected", reason="not now")
    ended = round.end(reject="not now")  # the Planner asks again with another plan, and gives up
    assert ended["state"] == "failed" and "rejected the plan: not now" in ended["reason"]
    assert alice.get(f"/sessions/{round.session_id}/approvals").json() == []


def test_cancelling_a_round_that_waits_for_approval(alice: httpx2.Client) -> None:
    round = Round(alice, "run: print('never')")
    round.next_request()
    assert alice.post(f"/sessions/{round.session_id}/rounds/{round.round_id}/cancel").json() == {"cancelled": True}
    assert round.end()["state"] == "cancelled"
    assert alice.get(f"/sessions/{round.session_id}/approvals").json() == []


def test_no_answer_in_time_is_a_recorded_rejection(tmp_path: Path) -> None:
    with FakeOpenAIServer(scripted_model) as model:
        project = write_project(
            tmp_path / "project", model.base_url, execution={"pool_size": 0}, approval={"code": "always", "timeout_s": 0.5}
        )
        with serve(project, tokens={"alice": ALICE}) as service, client(service, ALICE) as alice:
            round = Round(alice, WRITES)
            asked = round.next_request()
            params = {"after": round.after, "round_id": round.round_id}
            with alice.sse(f"/sessions/{round.session_id}/events", params=params) as source:
                seen = [message.event for message in source if message.data]  # nobody answers anything
            ended = alice.get(f"/sessions/{round.session_id}/rounds/{round.round_id}").json()
            assert round.answer(asked, "approved").status_code == 404, "too late: the request is gone"
            assert alice.get(f"/sessions/{round.session_id}/approvals").json() == []
            log = read_log(service.workspace / "users" / "alice" / "sessions" / round.session_id / "events.jsonl").events
            requests = [e.data["request"]["id"] for e in log if e.type is EventType.approval_request]
            answers = [e.data["answer"] for e in log if e.type is EventType.approval]
            assert [a["request_id"] for a in answers] == requests and requests[0] == asked["id"]
            assert {(a["decision"], a["by"]) for a in answers} == {("rejected", "timeout")}
            assert all("nobody answered within 0.5 s" in a["reason"] for a in answers)
            assert not (round.cwd(service) / "ran.txt").exists(), "code nobody approved never ran"
            assert seen.count("approval") == len(answers) and seen[-1] == "round_end", "each one on the stream too"
            # The model is told each time why nothing ran, and the round ends without the code's output.
            assert (ended["state"], ended["answer"]) == ("finished", "Done: no output")
