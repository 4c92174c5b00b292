"""The session engine: routing by send_to, how rounds end, cancellation, files, events, usage."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from weaver.engine import RoundStopped
from weaver.errors import ConfigError, SessionNotFoundError, WeaverError
from weaver.events import Event, EventType
from weaver.hookspecs import hookimpl
from weaver.model import USER, AttachmentType, Post, Round, RoundState
from weaver.roles import RoleContext
from weaver.specs import RoleSpec
from weaver.testing import echo_extension

LIVENESS = 30.0
"""Generous bound for waits on another thread: only a hang can exceed it."""


class Relay:
    """Sends the incoming message on to the alias named by its first word, minus that word.

    ``"B C hello"`` sent to A goes to B as ``"C hello"``, then to C as ``"hello"``; a message
    with one word left goes back to ``User``.
    """

    async def reply(self, ctx: RoleContext) -> Post:
        head, _, rest = ctx.post.message.partition(" ")
        post = ctx.new_post()
        if rest:
            post.set_send_to(head)
            post.set_message(rest)
        else:
            post.set_send_to(USER)
            post.set_message(f"{ctx.alias} got {head}")
            post.attach(AttachmentType.stop, "Completed")
        return post.build()


class PingPong:
    """Always passes the post to the other player: a round that never ends by itself."""

    async def reply(self, ctx: RoleContext) -> Post:
        other = "Pong" if ctx.alias == "Ping" else "Ping"
        return ctx.new_post(send_to=other).build()


class Failing:
    async def reply(self, ctx: RoleContext) -> Post:
        raise ValueError(f"cannot handle {ctx.post.message!r}")


class Stopping:
    async def reply(self, ctx: RoleContext) -> Post:
        raise RoundStopped("token budget of 10 spent")


class Spender:
    """Reports two LLM calls with usage, as the LLM client does, then answers.

    The usage carries a key ``Usage`` does not have, as a newer client might send.
    """

    async def reply(self, ctx: RoleContext) -> Post:
        for prompt, completion in ((100, 10), (50, 5)):
            ctx.emit(
                EventType.llm_call,
                model="fake-model",
                role=ctx.alias,
                usage={
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "cost": 0.25,
                    "llm_calls": 1,
                    "reasoning_tokens": 3,
                },
                latency_s=0.01,
                outcome="ok",
            )
        return ctx.new_post(send_to=USER).build()


class Sleeper:
    """Marks that it started, then waits far longer than any test."""

    started: threading.Event

    async def reply(self, ctx: RoleContext) -> Post:
        type(self).started.set()
        ctx.status("sleeping")
        await asyncio.sleep(3600)
        return ctx.new_post(send_to=USER).build()


class Reader:
    """Answers with the names and contents of the files attached to the user's post."""

    async def reply(self, ctx: RoleContext) -> Post:
        files = [a for a in ctx.post.attachments if a.type is AttachmentType.file]
        return Post(ctx.alias, USER, "; ".join(f"{a.content}={Path(a.extra['path']).read_text()}" for a in files))


def spec(alias: str, factory: Callable[[], Any]) -> RoleSpec:
    return RoleSpec(name=alias.lower(), alias=alias, factory=factory, description=f"test role {alias}")


TEST_ROLES = [
    spec("A", Relay),
    spec("B", Relay),
    spec("C", Relay),
    spec("Ping", PingPong),
    spec("Pong", PingPong),
    spec("Failing", Failing),
    spec("Stopping", Stopping),
    spec("Spender", Spender),
    spec("Sleeper", Sleeper),
    spec("Reader", Reader),
]


@hookimpl
def _test_roles() -> list[RoleSpec]:
    return TEST_ROLES


@pytest.fixture
def app_with(make_app: Callable[..., Any], register_plugin: Callable[..., Any]) -> Callable[..., Any]:
    """``app_with("a", "b", max_hops=...)``: an App whose session enables those roles."""
    register_plugin(SimpleNamespace(weaver_roles=_test_roles))
    register_plugin(echo_extension)

    def make(*roles: str, **session: Any) -> Any:
        return make_app(session={"roles": list(roles), **session})

    return make


@pytest.fixture
def sleeper() -> type[Sleeper]:
    Sleeper.started = threading.Event()
    return Sleeper


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + LIVENESS
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def route(round: Round) -> list[tuple[str, str]]:
    return [(p.send_from, p.send_to) for p in round.posts]


# ---- rounds that finish -----------------------------------------------------------------------


def test_echo_round(app_with: Callable[..., Any]) -> None:
    session = app_with("echo").session()
    round = session.send_message("hello")
    assert round.state is RoundState.finished
    assert round.reason == "Completed"
    assert round.answer == "echo: hello"
    assert route(round) == [(USER, "Echo"), ("Echo", USER)]
    assert round.user_query == "hello"
    assert round.ended_at is not None and round.ended_at >= round.created_at
    assert session.rounds == (round,)

    second = session.send_message("again")
    assert second.answer == "echo: again"
    assert [r.id for r in session.rounds] == [round.id, second.id]


def test_routing_among_roles_by_send_to(app_with: Callable[..., Any]) -> None:
    session = app_with("a", "b", "c").session()
    round = session.send_message("C B A done")
    assert route(round) == [(USER, "A"), ("A", "C"), ("C", "B"), ("B", "A"), ("A", USER)]
    assert [p.message for p in round.posts] == ["C B A done", "B A done", "A done", "done", "A got done"]
    assert round.answer == "A got done"
    assert round.state is RoundState.finished


def test_entry_role_is_configurable(app_with: Callable[..., Any]) -> None:
    session = app_with("echo", "a", entry="a").session()
    round = session.send_message("Echo hi")
    assert route(round) == [(USER, "A"), ("A", "Echo"), ("Echo", USER)]
    assert round.answer == "echo: hi"


def test_a_role_that_is_not_installed_is_named(app_with: Callable[..., Any]) -> None:
    app = app_with("echo", "no_such_rol")
    with pytest.raises(ConfigError, match="no_such_rol") as caught:
        app.session()
    assert (caught.value.table, caught.value.key, caught.value.source) == ("session", "roles", "overrides")
    assert "did you mean" not in str(caught.value)
    close = app_with("echo", "pingg")
    with pytest.raises(ConfigError, match="did you mean 'ping'"):
        close.session()


# ---- rounds that end otherwise ----------------------------------------------------------------


def test_hop_limit_ends_the_round_with_the_reason(app_with: Callable[..., Any]) -> None:
    session = app_with("ping", "pong", max_hops=5).session()
    round = session.send_message("serve")
    assert round.state is RoundState.failed
    assert "hop limit" in round.reason and "5" in round.reason and "max_hops" in round.reason
    role_posts = [p for p in round.posts if p.send_from != USER]
    assert len(role_posts) == 5, "the roles were asked exactly max_hops times"
    assert round.answer is None


def test_post_to_an_unknown_role_fails_with_the_reason(app_with: Callable[..., Any]) -> None:
    session = app_with("a", "b").session()
    round = session.send_message("B Nobody hi")
    assert round.state is RoundState.failed
    assert "'Nobody'" in round.reason and "not an enabled role" in round.reason
    assert "B sent a post" in round.reason and "A, B" in round.reason
    assert route(round) == [(USER, "A"), ("A", "B"), ("B", "Nobody")], "the stray post is kept"


def test_a_role_that_raises_fails_the_round_without_raising(app_with: Callable[..., Any]) -> None:
    app = app_with("failing")
    events: list[Event] = []
    app.subscribe(events.append)
    session = app.session()
    round = session.send_message("data.csv")
    assert round.state is RoundState.failed
    assert round.reason == "ValueError: cannot handle 'data.csv'"
    errors = [e for e in events if e.type is EventType.error]
    assert len(errors) == 1
    assert errors[0].data == {"message": "cannot handle 'data.csv'", "error_type": "ValueError"}
    assert session.rounds == (round,)
    assert session.send_message("again").state is RoundState.failed, "the session stays usable"


def test_round_stopped_from_a_role(app_with: Callable[..., Any]) -> None:
    round = app_with("stopping").session().send_message("go")
    assert round.state is RoundState.failed
    assert round.reason == "token budget of 10 spent"


def test_no_roles_enabled(app_with: Callable[..., Any]) -> None:
    round = app_with().session().send_message("anyone?")
    assert round.state is RoundState.failed
    assert "no roles are enabled" in round.reason


def test_a_missing_file_fails_the_round_without_raising(app_with: Callable[..., Any], tmp_path: Path) -> None:
    round = app_with("reader").session().send_message("read", files=[tmp_path / "absent.csv"])
    assert round.state is RoundState.failed
    assert "absent.csv" in round.reason


# ---- cancellation -----------------------------------------------------------------------------


def test_cancel_from_another_thread(app_with: Callable[..., Any], sleeper: type[Sleeper]) -> None:
    session = app_with("a", "sleeper").session()
    assert session.cancel() is False, "nothing to cancel yet"
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(session.send_message, "Sleeper nap")
        assert sleeper.started.wait(LIVENESS)
        assert session.cancel() is True
        round = future.result(timeout=LIVENESS)
    assert round.state is RoundState.cancelled
    assert round.reason == "cancelled"
    assert route(round) == [(USER, "A"), ("A", "Sleeper")], "posts so far are kept"
    assert session.rounds[-1] == round
    assert session.cancel() is False


def test_asend_message_from_the_callers_own_loop(app_with: Callable[..., Any]) -> None:
    session = app_with("echo").session()

    async def main() -> tuple[Round, Round]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        background = asyncio.create_task(ticker())
        first = await session.asend_message("one")
        second = await session.asend_message("two")
        background.cancel()
        assert ticks > 0, "the caller's loop kept running while the round ran on Weaver's loop"
        return first, second

    first, second = asyncio.run(main())
    assert (first.answer, second.answer) == ("echo: one", "echo: two")
    assert [r.state for r in session.rounds] == [RoundState.finished, RoundState.finished]


def test_cancelling_the_awaiting_task_cancels_the_round(app_with: Callable[..., Any], sleeper: type[Sleeper]) -> None:
    session = app_with("a", "sleeper").session()

    async def main() -> None:
        task = asyncio.create_task(session.asend_message("Sleeper nap"))
        while not sleeper.started.is_set():
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(asyncio.wait_for(main(), LIVENESS))
    wait_for(lambda: len(session.rounds) == 1, "the cancelled round to be recorded")
    round = session.rounds[0]
    assert round.state is RoundState.cancelled
    assert route(round) == [(USER, "A"), ("A", "Sleeper")]
    assert session.send_message("done").answer == "A got done", "the session takes the next round"


def test_one_round_at_a_time(app_with: Callable[..., Any], sleeper: type[Sleeper]) -> None:
    session = app_with("sleeper").session()
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(session.send_message, "nap")
        assert sleeper.started.wait(LIVENESS)
        with pytest.raises(WeaverError, match="already running a round"):
            session.send_message("me too")
        session.cancel()
        assert future.result(timeout=LIVENESS).state is RoundState.cancelled


# ---- files, events, usage ---------------------------------------------------------------------


def test_files_are_copied_into_the_session_cwd_and_attached(app_with: Callable[..., Any], tmp_path: Path) -> None:
    data = tmp_path / "inbox" / "data.csv"
    data.parent.mkdir()
    data.write_text("x\n1\n2\n")
    notes = tmp_path / "inbox" / "notes.txt"
    notes.write_text("hello")
    session = app_with("reader").session()
    round = session.send_message("read these", files=(data, str(notes)))
    copied = session.cwd / "data.csv"
    assert copied.read_text() == "x\n1\n2\n"
    assert (session.cwd / "notes.txt").read_text() == "hello"
    assert session.cwd.is_relative_to(session.app.workspace)
    user_post = round.posts[0]
    assert [(a.type, a.content) for a in user_post.attachments] == [
        (AttachmentType.file, "data.csv"),
        (AttachmentType.file, "notes.txt"),
    ]
    assert user_post.attachments[0].extra == {"path": str(copied)}
    assert round.answer == "data.csv=x\n1\n2\n; notes.txt=hello"
    data.write_text("changed")
    assert copied.read_text() == "x\n1\n2\n", "a copy, not a link"


def test_sessions_of_one_app_in_workspaces_of_their_own(app_with: Callable[..., Any], tmp_path: Path) -> None:
    """A service with one App for many users keeps each user's sessions apart, even under one id."""
    app = app_with("echo")
    alice, bob = tmp_path / "users" / "alice", tmp_path / "users" / "bob"
    first = app.session("shared-id", workspace=alice)
    second = app.session("shared-id", workspace=bob)
    assert first.send_message("from alice").answer == "echo: from alice"
    assert second.send_message("from bob").answer == "echo: from bob"
    assert first.paths.root == alice / "sessions" / "shared-id"
    assert app.session_ids(workspace=alice) == app.session_ids(workspace=bob) == ["shared-id"]
    assert app.session_ids() == [], "nothing in the App's own workspace"
    first.close()
    assert second.send_message("still open").answer == "echo: still open", "closing one forgets only that one"
    second.close()
    resumed = app.resume("shared-id", workspace=alice)
    assert [r.user_query for r in resumed.rounds] == ["from alice"]
    with pytest.raises(SessionNotFoundError):
        app.resume("shared-id")


def test_events_come_in_order_and_reach_the_event_hook(
    app_with: Callable[..., Any], register_plugin: Callable[..., Any]
) -> None:
    hooked: list[Event] = []

    @hookimpl
    def weaver_event(event: Event) -> None:
        hooked.append(event)

    register_plugin(SimpleNamespace(weaver_event=weaver_event))
    app = app_with("echo")
    subscribed: list[Event] = []
    unsubscribe = app.subscribe(subscribed.append)
    session = app.session()
    round = session.send_message("hi")

    assert [e.type for e in subscribed] == [
        EventType.round_start,
        EventType.post_end,
        EventType.post_start,
        EventType.message_delta,
        EventType.post_end,
        EventType.round_end,
    ]
    assert hooked == subscribed
    assert all(e.session_id == session.id and e.round_id == round.id for e in subscribed)
    assert subscribed[0].data == {"user_query": "hi"}
    assert subscribed[2].post_id == round.posts[1].id
    assert subscribed[2].data == {"send_from": "Echo", "send_to": USER}
    assert subscribed[3].data == {"delta": "echo: hi"}
    assert [e.post_id for e in subscribed if e.type is EventType.post_end] == [p.id for p in round.posts]
    assert subscribed[-1].data["round"]["state"] == "finished"
    assert subscribed[-1].data["round"]["id"] == round.id

    unsubscribe()
    session.send_message("again")
    assert len(subscribed) == 6
    assert len(hooked) == 12


@pytest.mark.parametrize("error", [RuntimeError("observer bug"), SystemExit(1)])
def test_a_broken_subscriber_does_not_break_the_round(app_with: Callable[..., Any], error: BaseException) -> None:
    app = app_with("echo")

    def broken(event: Event) -> None:
        raise error

    app.subscribe(broken)
    session = app.session()
    assert session.send_message("hi").state is RoundState.finished
    assert session.send_message("again").state is RoundState.finished, "the loop thread survived"


def test_usage_is_summed_from_llm_call_events(app_with: Callable[..., Any]) -> None:
    session = app_with("spender").session()
    first = session.send_message("spend")
    assert (first.usage.prompt_tokens, first.usage.completion_tokens, first.usage.llm_calls) == (150, 15, 2)
    assert first.usage.cost == pytest.approx(0.5)
    second = session.send_message("spend more")
    assert second.usage.llm_calls == 2, "usage is per round"
    assert session.usage.llm_calls == 4
    assert session.usage.prompt_tokens == 300
