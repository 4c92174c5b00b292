"""The API over real HTTP: ``weaver serve`` in a subprocess, the real Planner and CodeInterpreter,
the default verifier, real kernels, and the real ``openai`` client talking to the fake model.

One service for the whole module (starting one costs seconds); each test makes its own
sessions. Requests are made with httpx2, as any client would.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

import httpx2
import nbformat
import pytest

from weaver.events import DURABLE, EventType
from weaver.store import read_log
from weaver_server.testing import ServiceProcess, scripted_service

pytestmark = pytest.mark.slow

ALICE = "alice-token-0123456789abcdef"
BOB = "bob-token-0123456789abcdef00"
LIVENESS = 90.0
MAX_REQUEST = 100_000
MAX_UPLOAD = 1_000_000
WAIT_FOR_GO = "run: import pathlib, time\nwhile not pathlib.Path('go').exists(): time.sleep(0.02)\nx = 42\nprint('went')"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    limits = {"max_request_bytes": MAX_REQUEST, "max_upload_bytes": MAX_UPLOAD, "heartbeat_s": 0.5}
    directory = tmp_path_factory.mktemp("project")
    with scripted_service(directory, tokens={"alice": ALICE, "bob": BOB}, execution={"pool_size": 1}, server=limits) as running:
        yield running


def http(service: ServiceProcess, token: str | None = ALICE) -> httpx2.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx2.Client(base_url=service.url + "/v1", headers=headers, timeout=httpx2.Timeout(LIVENESS))


@pytest.fixture
def alice(service: ServiceProcess) -> Iterator[httpx2.Client]:
    with http(service) as client:
        yield client


@pytest.fixture
def bob(service: ServiceProcess) -> Iterator[httpx2.Client]:
    with http(service, BOB) as client:
        yield client


def session_dir(service: ServiceProcess, user: str, session_id: str) -> Path:
    return service.workspace / "users" / user / "sessions" / session_id


def new_session(client: httpx2.Client) -> str:
    response = client.post("/sessions")
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def start(client: httpx2.Client, session_id: str, text: str, **body: Any) -> dict[str, Any]:
    response = client.post(f"/sessions/{session_id}/messages", json={"text": text, **body})
    assert response.status_code == 202, response.text
    return dict(response.json())


def events(
    client: httpx2.Client, session_id: str, *, after: int | None = None, round_id: str | None = None,
    headers: dict[str, str] | None = None, limit: int | None = None,
) -> list[tuple[str, str, dict[str, Any]]]:
    """``(id, type, envelope)`` of the session's events, until ``round_id`` ends (or ``limit`` are read).

    The id is ``""`` for an event that is not durable (the stream sends it none; an SSE parser
    would repeat the last id it saw).
    """
    params: dict[str, Any] = {}
    if after is not None:
        params["after"] = after
    if round_id is not None:
        params["round_id"] = round_id
    found = []
    with client.sse(f"/sessions/{session_id}/events", params=params, headers=headers or {}) as source:
        assert source.response.status_code == 200
        for message in source:
            if message.data:
                durable = EventType(message.event) in DURABLE
                found.append((message.id if durable else "", message.event, json.loads(message.data)))
            if limit is not None and len(found) >= limit:
                break
    return found


def sse_blocks(text: str) -> list[tuple[str, str, dict[str, Any]]]:
    """``(id, type, envelope)`` of each event in a raw stream, the id as sent (``""`` for none)."""
    found = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":") and ": " in line)
        if "data" in fields:
            found.append((fields.get("id", ""), fields["event"], json.loads(fields["data"])))
    return found


def run_round(client: httpx2.Client, session_id: str, text: str, **body: Any) -> dict[str, Any]:
    """Start a round, follow it to its end, return it as the API shows it."""
    started = start(client, session_id, text, **body)
    events(client, session_id, after=started["after"], round_id=started["round_id"])
    return dict(client.get(f"/sessions/{session_id}/rounds/{started['round_id']}").json())


# ---- a round, as a front end drives it ------------------------------------------------


def test_a_round_starts_at_once_runs_in_the_background_and_streams(service: ServiceProcess, alice: httpx2.Client) -> None:
    session_id = new_session(alice)
    started = start(alice, session_id, WAIT_FOR_GO)
    round_id = started["round_id"]
    # The round waits for a file only this test writes: whatever the machine's speed, it is
    # still running when the POST has answered.
    shown = alice.get(f"/sessions/{session_id}").json()
    assert shown["running_round"] == round_id
    assert shown["round_list"][-1]["state"] == "running"
    assert alice.get(f"/sessions/{session_id}/rounds/{round_id}").json()["state"] == "running"
    params = {"after": started["after"], "round_id": round_id}
    with alice.stream("GET", f"/sessions/{session_id}/events", params=params) as raw:
        (session_dir(service, "alice", session_id) / "cwd" / "go").touch()
        seen = sse_blocks("".join(raw.iter_text()))

    assert seen[0][1] == "round_start" and seen[-1][1] == "round_end"
    assert all(envelope["type"] == kind and envelope["v"] >= 2 for _, kind, envelope in seen)
    durable = [int(i) for i, _, _ in seen if i]
    assert durable == list(range(started["after"] + 1, started["after"] + 1 + len(durable)))
    assert all(bool(i) == (EventType(kind) in DURABLE) for i, kind, _ in seen), "an id exactly on what the log holds"
    assert {kind for i, kind, _ in seen if not i} >= {"attachment_delta", "post_start"}, "live deltas too"
    logged = read_log(session_dir(service, "alice", session_id) / "events.jsonl").events
    assert [e.type.value for e in logged[started["after"] :]] == [kind for i, kind, _ in seen if i]

    round = alice.get(f"/sessions/{session_id}/rounds/{round_id}").json()
    assert round["state"] == "finished" and round["answer"] == "Done: went"
    shown = alice.get(f"/sessions/{session_id}").json()
    assert shown["running_round"] is None and shown["rounds"] == 1 and shown["last_state"] == "finished"
    assert shown["plan"]["text"].startswith("1. Run the code") and shown["plan"]["current_step"].startswith("2.")
    assert shown["plan"]["structure"]["steps"][0]["text"] == "Run the code"
    assert {"name": "x", "type": "int"}.items() <= next(v for v in shown["variables"] if v["name"] == "x").items()
    assert shown["usage"]["llm_calls"] == 3 and shown["last_event_id"] == len(logged)
    cost = alice.get(f"/sessions/{session_id}/cost").json()
    assert cost["total"]["llm_calls"] == 3
    assert {role: usage["llm_calls"] for role, usage in cost["by_role"].items()} == {"Planner": 2, "CodeInterpreter": 1}
    assert [row["round_id"] for row in cost["by_round"]] == [round_id]
    assert session_id in [row["id"] for row in alice.get("/sessions").json()]


def test_a_second_message_while_a_round_runs_is_refused(service: ServiceProcess, alice: httpx2.Client) -> None:
    session_id = new_session(alice)
    started = start(alice, session_id, WAIT_FOR_GO)
    refused = alice.post(f"/sessions/{session_id}/messages", json={"text": "run: print(1)"})
    assert refused.status_code == 409 and refused.json()["error_type"] == "Busy"
    assert started["round_id"] in refused.json()["detail"]
    (session_dir(service, "alice", session_id) / "cwd" / "go").touch()
    events(alice, session_id, after=started["after"], round_id=started["round_id"])
    assert run_round(alice, session_id, "run: print(2)")["answer"] == "Done: 2"


# ---- the event stream: ids, reconnects, heartbeats ---------------------------------------


def test_reconnecting_with_last_event_id_replays_exactly_what_was_missed(service: ServiceProcess, alice: httpx2.Client) -> None:
    session_id = new_session(alice)
    started = start(alice, session_id, WAIT_FOR_GO)
    first = events(alice, session_id, after=started["after"], limit=2)  # round_start, the user's post_end
    assert [kind for _, kind, _ in first] == ["round_start", "post_end"]
    last_id = [i for i, _, _ in first if i][-1]
    (session_dir(service, "alice", session_id) / "cwd" / "go").touch()
    # The connection is gone; the round goes on. A browser reconnects with the last id it saw.
    rest = events(alice, session_id, round_id=started["round_id"], headers={"Last-Event-ID": last_id})
    ids = [int(i) for i, _, _ in first + rest if i]
    assert ids == list(range(ids[0], ids[-1] + 1)), "no gap and no duplicate"
    logged = read_log(session_dir(service, "alice", session_id) / "events.jsonl").events
    assert [kind for i, kind, _ in first + rest if i] == [e.type.value for e in logged[started["after"] :]]

    # Replayed from the log, a finished round's events are those that were sent live.
    again = events(alice, session_id, after=started["after"], round_id=started["round_id"])
    live = {i: envelope for i, _, envelope in first + rest if i}
    assert {i: envelope for i, _, envelope in again if i} == live
    # A client that claims more than the log holds is at its end: it gets only what comes next.
    after_end = events(alice, session_id, headers={"Last-Event-ID": "999999"}, limit=0)
    assert after_end == []


def test_an_idle_stream_sends_heartbeats(service: ServiceProcess, alice: httpx2.Client) -> None:
    session_id = new_session(alice)
    lines: list[str] = []
    with alice.stream("GET", f"/sessions/{session_id}/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            lines.append(line)
            if lines.count(": heartbeat") >= 2:
                break
    assert lines[0].startswith(": weaver events") and any(line.startswith("retry: ") for line in lines)


@pytest.mark.parametrize("bad", ["-1", "abc", "1e3", "9" * 40])
def test_a_malformed_last_event_id_is_refused(alice: httpx2.Client, bad: str) -> None:
    session_id = new_session(alice)
    response = alice.get(f"/sessions/{session_id}/events", headers={"Last-Event-ID": bad})
    assert response.status_code == 422


# ---- cancel ---------------------------------------------------------------------------


def test_cancel_stops_the_round_and_the_session_goes_on(service: ServiceProcess, alice: httpx2.Client) -> None:
    session_id = new_session(alice)
    started = start(alice, session_id, "run: import time\nwhile True: time.sleep(0.05)")
    # Wait until the code runs (its execution is what cancelling must interrupt).
    with alice.sse(f"/sessions/{session_id}/events", params={"after": started["after"]}) as source:
        for message in source:
            if message.event == "status" and "executing" in json.loads(message.data)["data"].get("message", ""):
                break
    response = alice.post(f"/sessions/{session_id}/rounds/{started['round_id']}/cancel")
    assert response.status_code == 200 and response.json() == {"cancelled": True}
    seen = events(alice, session_id, after=started["after"], round_id=started["round_id"])
    assert seen[-1][2]["data"]["round"]["state"] == "cancelled"
    assert alice.post(f"/sessions/{session_id}/rounds/{started['round_id']}/cancel").json() == {"cancelled": False}
    assert alice.post(f"/sessions/{session_id}/rounds/round-19990101-000000-000000/cancel").status_code == 404
    assert run_round(alice, session_id, "run: print('after')")["answer"] == "Done: after"


# ---- files ----------------------------------------------------------------------------


PLOT = (
    "run: import pandas as pd\nimport matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
    "df = pd.read_csv('sales data.csv')\ndf.plot(x='month', y='revenue')\nplt.savefig('../artifacts/revenue.png')\n"
    "print(int(df.revenue.sum()))"
)


def test_upload_then_artifacts_listed_and_downloaded(service: ServiceProcess, alice: httpx2.Client) -> None:
    session_id = new_session(alice)
    csv = b"month,revenue\n1,10\n2,30\n3,20\n"
    put = alice.put(f"/sessions/{session_id}/uploads/sales data.csv", content=csv)
    assert put.status_code == 201 and put.json()["size"] == len(csv)
    assert [f["path"] for f in alice.get(f"/sessions/{session_id}/uploads").json()] == ["sales data.csv"]
    round = run_round(alice, session_id, PLOT)
    assert round["answer"] == "Done: 60", round
    user_post = round["posts"][0]
    assert [(a["type"], a["content"]) for a in user_post["attachments"]] == [("file", "sales data.csv")]
    assert alice.get(f"/sessions/{session_id}/uploads").json() == [], "taken into the session"
    assert "sales data.csv" in [f["path"] for f in alice.get(f"/sessions/{session_id}/files").json()]
    assert alice.get(f"/sessions/{session_id}/files/sales data.csv").content == csv

    listed = {f["path"]: f for f in alice.get(f"/sessions/{session_id}/artifacts").json()}
    assert listed["revenue.png"]["media_type"] == "image/png"
    image = alice.get(f"/sessions/{session_id}/artifacts/revenue.png")
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert image.headers["content-type"] == "image/png" and image.headers["content-disposition"].startswith("inline")
    assert image.headers["content-security-policy"] == "sandbox"
    saved = alice.get(f"/sessions/{session_id}/artifacts/revenue.png", params={"download": True})
    assert saved.headers["content-disposition"].startswith("attachment") and saved.content == image.content


def test_named_uploads_go_with_the_message_and_the_rest_wait(service: ServiceProcess, alice: httpx2.Client) -> None:
    session_id = new_session(alice)
    for name in ("a.txt", "b.txt"):
        assert alice.put(f"/sessions/{session_id}/uploads/{name}", content=name.encode()).status_code == 201
    round = run_round(alice, session_id, "run: from pathlib import Path\nprint(Path('a.txt').read_text())", files=["a.txt"])
    assert round["answer"] == "Done: a.txt"
    assert [f["path"] for f in alice.get(f"/sessions/{session_id}/uploads").json()] == ["b.txt"]
    missing = alice.post(f"/sessions/{session_id}/messages", json={"text": "hi", "files": ["nope.csv"]})
    assert missing.status_code == 404 and "nope.csv" in missing.json()["detail"]
    assert alice.delete(f"/sessions/{session_id}/uploads/b.txt").status_code == 204
    assert alice.delete(f"/sessions/{session_id}/uploads/b.txt").status_code == 404


def test_links_fifos_and_folders_the_kernel_makes_are_never_followed(service: ServiceProcess, alice: httpx2.Client) -> None:
    session_id = new_session(alice)
    config = service.project / "weaver.toml"
    code = (
        "run: from pathlib import Path\nPath('../artifacts/sub').mkdir(parents=True)\n"
        f"Path('../artifacts/config.txt').symlink_to({str(config)!r})\n"
        "Path('../artifacts/up').symlink_to('..')\n"
        "Path('../artifacts/sub/etc').symlink_to('/etc')\n"
        "Path('../artifacts/sub/real.txt').write_text('real')\n"
        "print('made')"
    )
    assert run_round(alice, session_id, code)["answer"] == "Done: made"
    # The verifier keeps os.mkfifo from generated code, but it is a linter, not the boundary:
    # a FIFO made by any other means must not hang a reader.
    os.mkfifo(session_dir(service, "alice", session_id) / "artifacts" / "pipe.csv")
    assert [f["path"] for f in alice.get(f"/sessions/{session_id}/artifacts").json()] == ["sub/real.txt"]
    assert alice.get(f"/sessions/{session_id}/artifacts/sub/real.txt").content == b"real"
    for path in ("config.txt", "up/events.jsonl", "sub/etc/passwd", "pipe.csv", "sub"):
        response = alice.get(f"/sessions/{session_id}/artifacts/{path}")
        assert response.status_code == 404, (path, response.status_code)
        assert response.json()["error_type"] == "FileNotInSession"


# ---- export ---------------------------------------------------------------------------


def test_export_as_markdown_json_and_a_valid_notebook(service: ServiceProcess, alice: httpx2.Client) -> None:
    session_id = new_session(alice)
    assert alice.put(f"/sessions/{session_id}/uploads/sales data.csv", content=b"month,revenue\n1,5\n2,7\n").status_code == 201
    run_round(alice, session_id, PLOT)
    run_round(alice, session_id, "run: print('second')\nraise ValueError('on purpose')")

    markdown = alice.get(f"/sessions/{session_id}/export", params={"format": "markdown"})
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert f"{session_id}.md" in markdown.headers["content-disposition"]
    assert "## Round 1: run: import pandas" in markdown.text and "Done: 12" in markdown.text
    rounds = alice.get(f"/sessions/{session_id}/export", params={"format": "json"}).json()
    assert [r["state"] for r in rounds] == ["finished", "finished"]

    response = alice.get(f"/sessions/{session_id}/export", params={"format": "ipynb"})
    notebook = nbformat.reads(response.text, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    markdown_cells = [cell.source for cell in notebook.cells if cell.cell_type == "markdown"]
    assert code[0].source.startswith("import pandas as pd") and code[0].execution_count == 1
    outputs = code[0].outputs
    assert {"output_type": "stream", "name": "stdout", "text": "12\n"}.items() <= dict(outputs[0]).items()
    figures = [o for o in outputs if o.output_type == "display_data" and "image/png" in o.data]
    assert figures and figures[0].data["image/png"].startswith("iVBORw0KGgo"), "the figure, embedded"
    failed = code[-1]
    assert [o.output_type for o in failed.outputs] == ["stream", "error"] and failed.outputs[1].ename == "ValueError"
    assert "weaver-failed" in failed.metadata["tags"]
    assert any(source.startswith("## 1. run: import pandas") for source in markdown_cells)
    assert any(source.startswith("**Plan** (Planner)") for source in markdown_cells)
    assert sum(source.startswith("**Plan**") for source in markdown_cells) == 1, "shown again only when it changes"
    assert "Files: `sales data.csv`" in markdown_cells
    assert any(source.startswith("**Answer** (Planner)\n\nDone: 12") for source in markdown_cells)
    assert alice.get(f"/sessions/{session_id}/export", params={"format": "docx"}).status_code == 422


# ---- users: tokens and isolation -------------------------------------------------------


def routes(service: ServiceProcess) -> list[tuple[str, str]]:
    schema = httpx2.get(service.url + "/openapi.json").json()
    return [(method.upper(), path) for path, ops in schema["paths"].items() for method in ops if path.startswith("/v1")]


def test_every_route_needs_a_valid_token(service: ServiceProcess, alice: httpx2.Client) -> None:
    session_id = new_session(alice)
    found = routes(service)
    assert len(found) >= 20
    refused = (
        None, "Bearer", "Basic YWxpY2U6c2VjcmV0", ALICE, "Bearer not-a-token", f"Bearer {ALICE[:-1]}", f"Bearer {ALICE}x",
        f"Bearer {ALICE} {BOB}", f"Token {ALICE}",
    )  # fmt: skip
    for authorization in refused:
        with httpx2.Client(base_url=service.url, timeout=LIVENESS) as client:
            headers = {"Authorization": authorization} if authorization is not None else {}
            for method, path in found:
                if path in ("/v1/login", "/v1/logout"):  # a token is what logging in takes; logging out clears a cookie
                    continue
                url = path.format(session_id=session_id, round_id="round-x", request_id="appr-x", name="a.csv", path="a.png")
                response = client.request(method, url, headers=headers, json={} if method in ("POST", "PUT") else None)
                assert response.status_code == 401, (authorization, method, path, response.status_code)
                assert response.headers["www-authenticate"] == "Bearer"
    assert httpx2.get(service.url + "/healthz").json() == {"status": "ok"}
    assert httpx2.get(service.url + "/docs").status_code == 200
    assert httpx2.post(service.url + "/v1/login", json={"token": "wrong-token-0123456"}).status_code == 401


def test_a_browser_logs_in_for_a_cookie(service: ServiceProcess) -> None:
    with httpx2.Client(base_url=service.url + "/v1", timeout=LIVENESS) as browser:
        response = browser.post("/login", json={"token": BOB})
        assert response.status_code == 204
        cookie = response.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
        assert browser.get("/me").json() == {"user": "bob"}
        browser.post("/logout")
        browser.cookies.clear()
        assert browser.get("/me").status_code == 401


def test_one_user_never_reaches_anothers_sessions(service: ServiceProcess, alice: httpx2.Client, bob: httpx2.Client) -> None:
    session_id = new_session(alice)
    assert alice.put(f"/sessions/{session_id}/uploads/private.csv", content=b"secret\n").status_code == 201
    started = start(alice, session_id, WAIT_FOR_GO, files=[])
    assert bob.get("/me").json() == {"user": "bob"}
    assert session_id not in [row["id"] for row in bob.get("/sessions").json()]
    # Every route of a session the schema lists, so a route added later is held to this too.
    ids = {"session_id": session_id, "round_id": started["round_id"], "request_id": "appr-20260101-000000-000000",
           "name": "private.csv", "path": "private.csv"}  # fmt: skip
    schema = httpx2.get(service.url + "/openapi.json", timeout=LIVENESS).json()
    attempts = [
        (method.upper(), template.removeprefix("/v1").format(**ids) + ("?format=ipynb" if template.endswith("/export") else ""))
        for template, operations in schema["paths"].items()
        if template.startswith("/v1/sessions/{session_id}")
        for method in operations
    ]
    assert len(attempts) >= 17 and ("GET", f"/sessions/{session_id}/artifacts/private.csv") in attempts
    bodies = {"messages": {"text": "run: print(1)"}, "appr-": {"decision": "approved"}}
    for method, path in attempts:
        body = next((b for key, b in bodies.items() if key in path), None)
        response = bob.request(method, path, json=body, content=b"x" if method == "PUT" else None)
        assert response.status_code == 404, (method, path, response.status_code)
        assert response.json()["error_type"] == "SessionNotFoundError"
    assert alice.get(f"/sessions/{session_id}").json()["running_round"] == started["round_id"], "not cancelled by bob"
    assert [f["path"] for f in alice.get(f"/sessions/{session_id}/uploads").json()] == ["private.csv"]
    (session_dir(service, "alice", session_id) / "cwd" / "go").touch()
    events(alice, session_id, after=started["after"], round_id=started["round_id"])
    assert not (service.workspace / "users" / "bob" / "sessions" / session_id).exists()


# ---- hostile input ----------------------------------------------------------------------


def files_in(root: Path) -> set[Path]:
    return {path for path in root.rglob("*") if not path.is_dir()}


@pytest.mark.parametrize(
    "name",
    ["..", ".", ".hidden", "%2e%2e", "..%2Fevents.jsonl", "%2Fetc%2Fpasswd", "a%00b.csv", "a%0Ab.csv", "a%5Cb.csv",
     "x" * 300, "%ff%fe.csv", "%ED%A0%80.csv"],
)  # fmt: skip
def test_hostile_upload_names_are_refused_and_write_nothing(service: ServiceProcess, alice: httpx2.Client, name: str) -> None:
    session_id = new_session(alice)
    users = service.workspace / "users"
    before = files_in(users)
    response = alice.put(f"/sessions/{session_id}/uploads/{name}", content=b"payload")
    assert response.status_code in (404, 405, 422), (name, response.status_code, response.text)
    assert files_in(users) == before
    assert not (service.project / "events.jsonl").exists()


def test_an_upload_name_outside_ascii_is_kept_as_given(alice: httpx2.Client) -> None:
    session_id = new_session(alice)
    assert alice.put(f"/sessions/{session_id}/uploads/données 2024 é.csv", content=b"x").status_code == 201
    assert [f["path"] for f in alice.get(f"/sessions/{session_id}/uploads").json()] == ["données 2024 é.csv"]


@pytest.mark.parametrize("session_id", ["%2E%2E", "%2E", "a.b", "x" * 200, "%00", "a%2F..", "---%20", "%ff"])
def test_hostile_session_ids_are_refused(alice: httpx2.Client, session_id: str) -> None:
    # Dots are sent percent-encoded: a client would otherwise drop "." and ".." segments itself.
    for method, path in (("GET", ""), ("DELETE", ""), ("GET", "/events"), ("GET", "/artifacts"), ("GET", "/export")):
        response = alice.request(method, f"/sessions/{session_id}{path}")
        assert response.status_code in (404, 422), (session_id, path, response.status_code)


HOSTILE_PATHS = [
    "../events.jsonl", "../../../../../../etc/passwd", "/etc/passwd", "sub/../../events.jsonl", "./../events.jsonl",
    "%2E%2E/events.jsonl", "%2E%2E%2F%2E%2E%2Fweaver.toml", "%2Fetc%2Fpasswd", "a%00b", "%2E", "up%5C..%5Cevents.jsonl",
]  # fmt: skip


def raw_get(service: ServiceProcess, path: str, token: str = ALICE) -> tuple[int, bytes]:
    """A GET sent exactly as written: no client-side removal of ``.`` and ``..`` segments."""
    host, port = service.url.removeprefix("http://").split(":")
    connection = HTTPConnection(host, int(port), timeout=LIVENESS)
    try:
        connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.mark.parametrize("path", HOSTILE_PATHS)
def test_hostile_artifact_paths_are_refused(service: ServiceProcess, alice: httpx2.Client, path: str) -> None:
    session_id = new_session(alice)
    run_round(alice, session_id, "run: from pathlib import Path\nPath('../artifacts/sub').mkdir()\nprint('ok')")
    for area in ("artifacts", "files"):
        status, body = raw_get(service, f"/v1/sessions/{session_id}/{area}/{path}")
        assert status in (404, 422), (area, path, status)
        assert b"[llm]" not in body and b"root:" not in body and b"round_start" not in body


def test_oversized_bodies_are_refused_and_leave_nothing(service: ServiceProcess, alice: httpx2.Client) -> None:
    session_id = new_session(alice)
    huge = alice.post(f"/sessions/{session_id}/messages", json={"text": "x" * (10 * 2**20)})
    assert huge.status_code == 413
    assert alice.get(f"/sessions/{session_id}").json()["rounds"] == 0

    too_big = alice.put(f"/sessions/{session_id}/uploads/big.bin", content=b"0" * (MAX_UPLOAD + 1))
    assert too_big.status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while the body streams
        for _ in range(MAX_UPLOAD // 65536 + 2):
            yield b"1" * 65536

    streamed = alice.put(f"/sessions/{session_id}/uploads/streamed.bin", content=chunks())
    assert streamed.status_code == 413
    uploads = session_dir(service, "alice", session_id) / "uploads"
    assert not uploads.exists() or list(uploads.iterdir()) == [], "no partial file is kept"
    assert alice.put(f"/sessions/{session_id}/uploads/fits.bin", content=b"0" * MAX_UPLOAD).status_code == 201


@pytest.mark.parametrize(
    "body",
    [b"{", b"[]", b'{"text": 1}', b'{"text": "\\ud800"}', b'{"text": "hi", "extra": 1}', b'{"text": "hi", "files": "a.csv"}',
     b'{"text": "hi", "files": ["../../weaver.toml"]}'],
)  # fmt: skip
def test_malformed_messages_are_refused(alice: httpx2.Client, body: bytes) -> None:
    session_id = new_session(alice)
    response = alice.post(f"/sessions/{session_id}/messages", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code in (404, 422), (body, response.status_code, response.text)
    assert alice.get(f"/sessions/{session_id}").json()["rounds"] == 0


# ---- lifecycle --------------------------------------------------------------------------


def test_delete_removes_the_session_and_ends_its_streams(service: ServiceProcess, alice: httpx2.Client) -> None:
    session_id = new_session(alice)
    started = start(alice, session_id, "run: import time\nwhile True: time.sleep(0.05)")
    with http(service) as watcher, watcher.sse(f"/sessions/{session_id}/events", params={"after": started["after"]}) as source:
        assert alice.delete(f"/sessions/{session_id}").status_code == 204
        kinds = [message.event for message in source if message.data]  # ends when the session is gone
    assert kinds[-1] == "round_end"
    assert alice.get(f"/sessions/{session_id}").status_code == 404
    assert not session_dir(service, "alice", session_id).exists()
    assert session_id not in [row["id"] for row in alice.get("/sessions").json()]


def test_a_stored_session_is_listed_shown_and_continued(service: ServiceProcess, alice: httpx2.Client) -> None:
    """Sessions the server has not opened (stored before it started, or closed to make room) work the same."""
    session_id = new_session(alice)
    run_round(alice, session_id, "run: y = 7\nprint(y)")
    listed = {row["id"]: row for row in alice.get("/sessions").json()}
    assert listed[session_id]["rounds"] == 1 and listed[session_id]["first_request"].startswith("run: y = 7")
    assert run_round(alice, session_id, "run: print(y * 6)")["answer"] == "Done: 42", "the kernel kept y"


def test_the_schema_and_the_defaults_of_the_service(service: ServiceProcess) -> None:
    assert service.url.startswith("http://127.0.0.1:"), "binds this machine only by default"
    schema = httpx2.get(service.url + "/openapi.json").json()
    assert schema["info"]["title"] == "Weaver"
    assert "HTTPBearer" in schema["components"]["securitySchemes"]
    preflight = httpx2.options(
        service.url + "/v1/sessions", headers={"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "GET"}
    )
    assert "access-control-allow-origin" not in preflight.headers, "CORS is off unless origins are configured"
