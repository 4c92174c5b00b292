"""Back-pressure: a client that reads slowly, or not at all, never slows a round and never makes
the service buffer without bound; once it reads again it gets every durable event, in order,
exactly once, after a ``resync`` notice."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx2
import pytest

from weaver.events import Event, EventType
from weaver.store import SessionStore, read_log, session_paths
from weaver.testing import FakeOpenAIServer
from weaver_server.stream import RESYNC, EventHub
from weaver_server.testing import ServiceProcess, scripted_model, serve, write_project

ALICE = "alice-token-0123456789abcdef"
LIVENESS = 90.0
BUFFER = 16


def emitter(store: SessionStore, hub: EventHub) -> Callable[[int, EventType], None]:
    """``emit(n, kind)`` as a session does it: a durable event is written to the log, then published."""

    def emit(number: int, kind: EventType) -> None:
        event = Event(kind, "s-1", "round-1", data={"n": number})
        if event.durable:
            store.append(event)
        hub.publish(event)

    return emit


def test_publishing_never_waits_for_a_client_and_keeps_a_bounded_buffer(tmp_path: Path) -> None:
    paths = session_paths(tmp_path, "s-1")
    store = SessionStore(paths)
    hub = EventHub(paths.log, BUFFER)
    emit = emitter(store, hub)
    loop = asyncio.new_event_loop()  # the client's loop, which never runs: the client reads nothing
    try:
        subscriber = hub.subscribe(loop)
        publisher = threading.Thread(target=lambda: [emit(n, EventType.post_end if n % 3 else EventType.status) for n in range(3000)])
        publisher.start()
        publisher.join(LIVENESS)
        assert not publisher.is_alive(), "publishing waited for a client that does not read"
        assert len(subscriber.items) <= BUFFER and subscriber.overflowed
        assert hub.seq == 2000 == len(read_log(paths.log).events), "ids count the log's events"
        assert EventHub(paths.log, BUFFER).seq == 2000, "a hub made later counts what the log holds"
    finally:
        store.close()
        loop.close()


def test_a_reader_that_fell_behind_is_resynced_from_the_log(tmp_path: Path) -> None:
    paths = session_paths(tmp_path, "s-1")
    store = SessionStore(paths)
    hub = EventHub(paths.log, BUFFER)
    emit = emitter(store, hub)

    async def scenario() -> list[tuple[str | None, str | None]]:
        stream = hub.follow(0, heartbeat_s=LIVENESS, until=lambda item: item.type == "round_end")
        first = asyncio.ensure_future(stream.__anext__())
        await asyncio.sleep(0.05)  # the reader has subscribed and waits
        for number in range(500):  # emitted while the reader is not scheduled: it falls behind
            emit(number, EventType.post_end if number % 2 else EventType.status)
        emit(500, EventType.round_end)
        message = await first
        got = [(message.event, message.id)]
        async for message in stream:
            got.append((message.event, message.id))
        return got

    got = asyncio.run(scenario())
    store.close()
    assert got[0] == (RESYNC, None), "told that live events were dropped"
    ids = [int(i) for _, i in got if i]
    assert ids == list(range(1, len(read_log(paths.log).events) + 1)), "every durable event once, in order"
    assert got[-1][0] == "round_end"


# ---- over HTTP --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    with FakeOpenAIServer(scripted_model) as model:
        # Every streamed token its own event (no joining at ~30 a second): thousands a round,
        # as a fast model and a chatty kernel make, to fill a stalled client's buffer.
        project = write_project(
            tmp_path_factory.mktemp("project"),
            model.base_url,
            execution={"pool_size": 0},
            server={"stream_buffer": BUFFER},
            session={"delta_interval_s": 0},
        )
        with serve(project, tokens={"alice": ALICE}) as running:
            yield running


@pytest.mark.slow
def test_a_client_that_stops_reading_does_not_hold_rounds_back(service: ServiceProcess) -> None:
    http = httpx2.Client(base_url=service.url + "/v1", headers={"Authorization": f"Bearer {ALICE}"}, timeout=LIVENESS)
    session_id = http.post("/sessions").json()["id"]
    host, port = service.url.removeprefix("http://").split(":")
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fills after a few events
    stalled.connect((host, int(port)))
    request = f"GET /v1/sessions/{session_id}/events HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {ALICE}\r\n\r\n"
    stalled.sendall(request.encode())
    rounds = 3
    for _ in range(rounds):  # each round streams thousands of deltas at a client that reads none
        started = http.post(f"/sessions/{session_id}/messages", json={"text": "run: print(len('" + "a" * 20000 + "'))"}).json()
        with http.sse(f"/sessions/{session_id}/events", params={"after": started["after"], "round_id": started["round_id"]}) as source:
            last = [json.loads(m.data) for m in source if m.data and m.event != RESYNC][-1]
        assert last["data"]["round"]["answer"] == "Done: 20000"

    stalled.settimeout(LIVENESS)
    received = b""
    while b"".join(received.split(b"\n\n")[:-1]).count(b"event: round_end") < rounds:  # whole events only
        chunk = stalled.recv(1 << 16)
        assert chunk, "the stream closed"
        received += chunk
    stalled.close()
    http.close()
    blocks = received.decode("utf-8").split("\n\n")[:-1]
    ends = [n for n, block in enumerate(blocks) if "event: round_end" in block]
    blocks = blocks[: ends[rounds - 1] + 1]  # up to the last round's end (background work may follow)
    assert any("event: resync" in block for block in blocks), "the stalled client fell behind and was told so"
    ids = [int(line[4:]) for block in blocks for line in block.splitlines() if line.startswith("id: ")]
    durable = read_log(service.workspace / "users" / "alice" / "sessions" / session_id / "events.jsonl").events
    last_end = max(n for n, e in enumerate(durable, 1) if e.type is EventType.round_end)
    assert ids == list(range(1, last_end + 1)), "every durable event once, in order, up to the last round's end"
