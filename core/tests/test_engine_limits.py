"""What a session survives: text that is not valid Unicode, file names that are not UTF-8, a
10 MB message, a model that trickles bytes, a round that takes too long, ids that try to reach
outside the workspace. Each failure is a recorded round, never an exception, and the next
round of the same live session works."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from weaver.engine import App
from weaver.hookspecs import hookimpl
from weaver.model import USER, Post, RoundState
from weaver.roles import RoleContext
from weaver.specs import RoleSpec
from weaver.store import InvalidSessionId, read_log
from weaver.testing import FakeOpenAIServer, FakeReply, echo_extension


class Talker:
    """Asks the model, answers the user with its words."""

    async def reply(self, ctx: RoleContext) -> Post:
        text = (await ctx.llm.chat([{"role": "user", "content": ctx.post.message}])).text
        post = ctx.new_post(send_to=USER)
        post.set_message(text)
        return post.build()


class Slow:
    async def reply(self, ctx: RoleContext) -> Post:
        await asyncio.sleep(3600)
        return ctx.new_post(send_to=USER).build()


@hookimpl
def _roles() -> list[RoleSpec]:
    return [RoleSpec("talker", "Talker", Talker, "Talks."), RoleSpec("slow", "Slow", Slow, "Never done.", calls_llm=False)]


@pytest.fixture
def echo(make_app: Callable[..., Any], register_extension: Callable[..., Any]) -> App:
    register_extension(echo_extension)
    app: App = make_app(session={"roles": ["echo"]})
    return app


def test_a_lone_surrogate_in_a_message_is_a_recorded_failed_round_and_the_next_round_works(echo: App) -> None:
    session = echo.session()
    bad = session.send_message("chart this \ud83d please")
    assert bad.state is RoundState.failed
    assert "not valid Unicode" in (bad.reason or "") and "position 11" in (bad.reason or "")
    good = session.send_message("chart this please")
    assert good.state is RoundState.finished and good.answer == "echo: chart this please"
    contents = read_log(session.paths.log)
    assert contents.problems == ()
    assert [e.data["user_query"] for e in contents.events if e.type.value == "round_start"] == [
        "chart this \ud83d please",  # stored exactly, escaped on disk
        "chart this please",
    ]
    resumed = echo.resume(session.id)
    assert [r.state for r in resumed.rounds] == [RoundState.failed, RoundState.finished]


def test_a_file_name_that_is_not_utf8_is_a_recorded_failed_round(echo: App, tmp_path: Path) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    raw = os.fsencode(folder) + b"/sales-\xff.csv"
    with open(raw, "wb") as handle:
        handle.write(b"x\n1\n")
    session = echo.session()
    bad = session.send_message("load it", files=[os.fsdecode(raw)])
    assert bad.state is RoundState.failed and "is not valid Unicode" in (bad.reason or "")
    assert session.send_message("hello").state is RoundState.finished
    assert read_log(session.paths.log).problems == ()


def test_after_a_10_mb_message_the_next_round_runs_and_the_log_holds_it_once(echo: App) -> None:
    session = echo.session()
    huge = "row,value\n" + "x,1\n" * 2_600_000  # about 10 MB
    first = session.send_message(huge)
    assert first.state is RoundState.finished
    limit = echo.config.table("session").max_message_chars
    assert len(first.user_query) <= limit and "characters omitted; the whole text" in first.user_query
    assert all(len(p.message) <= limit for p in first.posts)
    kept = list((session.paths.root / "content").iterdir())
    assert any(path.read_text() == huge for path in kept)
    assert session.paths.log.stat().st_size < 2 * limit * 4, "the log keeps excerpts, not copies"
    second = session.send_message("and now something small")
    assert second.state is RoundState.finished and second.answer == "echo: and now something small"


def test_a_model_that_trickles_bytes_is_stopped_by_the_total_deadline(
    make_app: Callable[..., Any], register_extension: Callable[..., Any]
) -> None:
    register_extension(SimpleNamespace(weaver_roles=_roles))
    trickle = FakeReply("word " * 200, chunk_size=1, chunk_delay=0.1)  # alive every 0.1 s, done in ~100 s
    with FakeOpenAIServer([trickle, "fine"]) as server:
        # The limit leaves the second, ordinary reply plenty of time even on a loaded machine.
        llm = server.llm_config(read_timeout=5, total_timeout=4, max_retries=0)
        app = make_app(session={"roles": ["talker"]}, llm=llm)
        session = app.session()
        slow = session.send_message("hello")
        assert slow.state is RoundState.failed
        assert "no complete reply within 4 s ([llm] total_timeout)" in (slow.reason or "")
        assert session.send_message("again").answer == "fine"


def test_a_round_past_its_deadline_fails_and_the_session_goes_on(
    make_app: Callable[..., Any], register_extension: Callable[..., Any]
) -> None:
    register_extension(SimpleNamespace(weaver_roles=_roles))
    register_extension(echo_extension)
    app = make_app(session={"roles": ["slow", "echo"], "round_timeout_s": 0.5})
    session = app.session()
    late = session.send_message("never")
    assert late.state is RoundState.failed
    assert late.reason == "the round took longer than 0.5 s ([session] round_timeout_s)"


@pytest.mark.parametrize("session_id", ["../../outside", "/abs/path", "a/b", ".", "..", "", "x" * 200, "sess\x00ion"])
def test_session_ids_that_are_not_names_are_refused(echo: App, tmp_path: Path, session_id: str) -> None:
    with pytest.raises(InvalidSessionId):
        echo.session(session_id)
    with pytest.raises(InvalidSessionId):
        echo.resume(session_id)
    assert not (tmp_path.parent / "outside").exists() and not Path("/abs/path").exists()


def test_a_round_that_cannot_be_recorded_is_returned_failed_and_not_kept(echo: App) -> None:
    session = echo.session()
    assert session.send_message("first").state is RoundState.finished
    session._ensure_store()._file.close()  # the log's disk went away
    broken = session.send_message("second")
    assert broken.state is RoundState.failed and "could not be recorded" in (broken.reason or "")
    assert [r.user_query for r in session.rounds] == ["first"]
