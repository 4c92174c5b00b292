"""The session store: an append-only event log per session, read back and rebuilt on resume."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from weaver.errors import SessionNotFoundError
from weaver.events import Event, EventType
from weaver.model import USER, Post, Round, RoundState, Usage
from weaver.serde import to_data
from weaver.store import INTERRUPTED, SessionPaths, SessionStore, read_log, rebuild_rounds, session_ids
from weaver.testing import echo_extension


@pytest.fixture
def echo_app(make_app: Callable[..., Any], register_plugin: Callable[..., Any]) -> Callable[..., Any]:
    register_plugin(echo_extension)
    return lambda: make_app(session={"roles": ["echo"]})


def events_for_round(session_id: str, round: Round, *, end: bool) -> list[Event]:
    events = [Event(EventType.round_start, session_id, round.id, data={"user_query": round.user_query})]
    events += [Event(EventType.post_end, session_id, round.id, p.id, {"post": to_data(p)}) for p in round.posts]
    if end:
        events.append(Event(EventType.round_end, session_id, round.id, data={"round": to_data(round)}))
    return events


def test_append_and_read(tmp_path: Path) -> None:
    paths = SessionPaths(tmp_path / "sessions" / "s1")
    store = SessionStore(paths)
    assert paths.cwd.is_dir() and paths.artifacts.is_dir()
    written = [
        Event(EventType.round_start, "s1", "r1", data={"user_query": "q"}),
        Event(EventType.post_end, "s1", "r1", "p1", {"post": to_data(Post(USER, "Echo", "q"))}),
    ]
    for event in written:
        store.append(event)
    assert len(paths.log.read_text().splitlines()) == 2, "each event is on disk as soon as it is appended"
    store.close()
    contents = read_log(paths.log)
    assert contents.events == tuple(written)
    assert contents.problems == ()

    reopened = SessionStore(paths)
    reopened.append(Event(EventType.round_end, "s1", "r1", data={"round": to_data(Round("q"))}))
    reopened.close()
    assert [e.type for e in read_log(paths.log).events] == [EventType.round_start, EventType.post_end, EventType.round_end]


def test_torn_last_line_is_reported_and_skipped(tmp_path: Path) -> None:
    paths = SessionPaths(tmp_path / "s")
    store = SessionStore(paths)
    good = Event(EventType.round_start, "s", "r1", data={"user_query": "q"})
    store.append(good)
    store.close()
    with open(paths.log, "a", encoding="utf-8") as handle:
        handle.write('{"type":"post_end","session_id":"s","round_id":"r1","data":{"post":{"send_f')
    contents = read_log(paths.log)
    assert contents.events == (good,)
    assert len(contents.problems) == 1
    assert f"{paths.log}:2" in contents.problems[0]
    assert "torn last line" in contents.problems[0]


def test_corrupt_middle_line_is_reported_and_the_rest_kept(tmp_path: Path) -> None:
    paths = SessionPaths(tmp_path / "s")
    store = SessionStore(paths)
    first = Event(EventType.round_start, "s", "r1", data={"user_query": "q"})
    store.append(first)
    store._file.write(b"not json at all\n")
    store._file.write(b'{"type":"no_such_event","session_id":"s"}\n')
    last = Event(EventType.status, "s", "r1", data={"message": "m"})
    store.append(last)
    store.close()
    contents = read_log(paths.log)
    assert contents.events == (first, last)
    assert [p.split(": ")[0] for p in contents.problems] == [f"{paths.log}:2", f"{paths.log}:3"]
    assert not any("torn" in p for p in contents.problems)


def test_appending_after_a_torn_line_starts_a_new_line(tmp_path: Path) -> None:
    paths = SessionPaths(tmp_path / "s")
    paths.create()
    paths.log.write_text('{"type":"round_start","sess')
    store = SessionStore(paths)
    event = Event(EventType.round_start, "s", "r2", data={"user_query": "after the crash"})
    store.append(event)
    store.close()
    contents = read_log(paths.log)
    assert contents.events == (event,), "the event written after a crash is readable"
    assert len(contents.problems) == 1


def test_rebuild_rounds_finished_and_interrupted() -> None:
    done = Round(
        "first",
        state=RoundState.finished,
        reason="Completed",
        posts=(Post(USER, "Echo", "first"), Post("Echo", USER, "echo: first")),
        answer="echo: first",
        usage=Usage(prompt_tokens=5, llm_calls=1),
    )
    unfinished = Round("second", posts=(Post(USER, "Echo", "second"),))
    events = events_for_round("s", done, end=True) + events_for_round("s", unfinished, end=False)
    rounds = rebuild_rounds(tuple(events))
    assert rounds[0] == done
    assert rounds[1].id == unfinished.id
    assert rounds[1].posts == unfinished.posts
    assert rounds[1].state is RoundState.failed
    assert rounds[1].reason == INTERRUPTED
    assert rounds[1].reason.startswith("interrupted")


def test_resume_rebuilds_rounds(echo_app: Callable[..., Any]) -> None:
    app = echo_app()
    session = app.session()
    first = session.send_message("one")
    second = session.send_message("two")
    session_id = session.id
    app.close()

    again = echo_app()
    resumed = again.resume(session_id)
    assert resumed.rounds == (first, second)
    assert resumed.problems == ()
    third = resumed.send_message("three")
    assert third.answer == "echo: three"
    assert [r.user_query for r in echo_app().resume(session_id).rounds] == ["one", "two", "three"]


def test_resume_marks_an_unfinished_round_interrupted(echo_app: Callable[..., Any]) -> None:
    app = echo_app()
    session = app.session()
    finished = session.send_message("one")
    session.send_message("two")
    session.close()
    log = session.paths.log
    lines = log.read_text().splitlines()
    assert json.loads(lines[-1])["type"] == "round_end"
    log.write_text("\n".join(lines[:-1]) + "\n")

    resumed = echo_app().resume(session.id)
    assert resumed.rounds[0] == finished
    interrupted = resumed.rounds[1]
    assert interrupted.state is RoundState.failed
    assert interrupted.reason == INTERRUPTED
    assert [(p.send_from, p.message) for p in interrupted.posts] == [(USER, "two"), ("Echo", "echo: two")]


def test_resume_of_an_unknown_session(echo_app: Callable[..., Any]) -> None:
    app = echo_app()
    with pytest.raises(SessionNotFoundError) as caught:
        app.resume("session-nope")
    assert caught.value.session_id == "session-nope"


def test_sessions_of_one_app_keep_their_own_files(echo_app: Callable[..., Any], tmp_path: Path) -> None:
    app = echo_app()
    upload_a = tmp_path / "a.csv"
    upload_a.write_text("a")
    upload_b = tmp_path / "b.csv"
    upload_b.write_text("b")
    first, second = app.session(), app.session()
    first.send_message("from first", files=[upload_a])
    second.send_message("from second", files=[upload_b])

    assert first.paths.root != second.paths.root
    assert sorted(p.name for p in first.cwd.iterdir()) == ["a.csv"]
    assert sorted(p.name for p in second.cwd.iterdir()) == ["b.csv"]
    for session in (first, second):
        assert session.paths.root.parent == app.workspace / "sessions"
        events = read_log(session.paths.log).events
        assert {e.session_id for e in events} == {session.id}
    assert sorted(app.session_ids()) == sorted([first.id, second.id])
    assert session_ids(app.workspace) == app.session_ids()
    assert [r.user_query for r in echo_app().resume(first.id).rounds] == ["from first"]
    assert [r.user_query for r in echo_app().resume(second.id).rounds] == ["from second"]


def test_only_durable_events_are_stored(echo_app: Callable[..., Any]) -> None:
    app = echo_app()
    seen: list[Event] = []
    app.subscribe(seen.append)
    session = app.session()
    session.send_message("hi")
    stored = read_log(session.paths.log).events
    assert stored == tuple(e for e in seen if e.durable)
    assert {e.type for e in seen} - {e.type for e in stored} == {EventType.post_start, EventType.message_delta}


def test_workspace_is_under_the_project_and_configurable(
    make_app: Callable[..., Any], register_plugin: Callable[..., Any], tmp_path: Path
) -> None:
    register_plugin(echo_extension)
    app = make_app(tmp_path, session={"roles": ["echo"]}, workspace={"dir": "state"})
    session = app.session()
    session.send_message("hi")
    assert app.workspace == (tmp_path / "state").resolve()
    assert session.paths.log.is_file()
    assert session.paths.log.is_relative_to(tmp_path / "state" / "sessions")


def test_an_event_is_serialised_once_and_as_the_converter_would(echo_app: Callable[..., Any]) -> None:
    """``Event.json`` (what the log stores) is the converter's JSON, built once however often it is read."""
    from weaver.serde import to_json

    app = echo_app()
    seen: list[Event] = []
    app.subscribe(seen.append)
    session = app.session()
    session.send_message("ünïcode, \"quotes\" and a \u2028 separator")
    assert seen and all(event.json == to_json(event) for event in seen)
    assert seen[-1].json is seen[-1].json
    logged = session.paths.log.read_text(encoding="utf-8").split("\n")[:-1]  # not at U+2028
    assert logged == [event.json for event in seen if event.durable]


def test_an_event_whose_data_holds_an_attrs_value_still_serialises() -> None:
    from weaver.serde import to_json

    event = Event(EventType.state, "s1", data={"key": "k", "value": Usage(prompt_tokens=3)})
    assert event.json == to_json(event)
    assert json.loads(event.json)["data"]["value"]["prompt_tokens"] == 3
