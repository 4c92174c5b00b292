"""Streamed text reaches subscribers at a bounded rate, whole, in order, before what closes it.

A role here streams the way the Planner and the CodeInterpreter do (``PostBuilder.stream``
and ``message_delta``), into a real session whose events a subscriber records. What is
checked is what a UI relies on: the deltas of each part add up to its final text, no delta
of a part arrives after the attachment, post or round that closes it, parts keep their
order, a stream that pauses is still shown, and far fewer events go out than deltas came in.
"""

from __future__ import annotations

import asyncio
import io
import re
import threading
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from rich.console import Console

from weaver.console import LiveView
from weaver.engine.deltas import MAX_CHARS
from weaver.errors import ConfigError
from weaver.events import Event, EventType
from weaver.hookspecs import hookimpl
from weaver.model import USER, AttachmentType, Post, RoundState
from weaver.roles import RoleContext
from weaver.specs import RoleSpec

LIVENESS = 30.0
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\]8;[^\x1b]*\x1b\\")
PLAN = "".join(f"{n}. step number {n} of the plan\n" for n in range(1, 41))
THOUGHT = "I will think out loud for a while. " * 20
MESSAGE = "The answer, as it is written. " * 10


class Streamer:
    """Streams a thought, a plan and its message in small pieces, the way a model's tokens come.

    ``script`` decides what happens between pieces: the default adds nothing (a burst, as
    an instant model streams); a test can pause, or interleave two parts.
    """

    script: Callable[[Any], Any] | None = None

    async def reply(self, ctx: RoleContext) -> Post:
        post = ctx.new_post(send_to=USER)
        if Streamer.script is not None:
            await Streamer.script(post)
        else:
            for kind, text in ((AttachmentType.thought, THOUGHT), (AttachmentType.plan, PLAN)):
                stream = post.stream(kind)
                for piece in pieces(text):
                    stream.append(piece)
                stream.close()
            for piece in pieces(MESSAGE):
                post.message_delta(piece)
        post.attach(AttachmentType.stop, "Completed")
        return post.build()


def pieces(text: str, size: int = 4) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


@hookimpl
def _roles() -> list[RoleSpec]:
    return [RoleSpec(name="streamer", alias="Streamer", factory=Streamer)]


@pytest.fixture
def app_with(make_app, register_plugin):
    register_plugin(SimpleNamespace(weaver_roles=_roles))
    yield lambda **session: make_app(session={"roles": ["streamer"], **session})
    Streamer.script = None


def recorded(app: Any) -> list[Event]:
    events: list[Event] = []
    app.subscribe(events.append)
    return events


def streamed(events: list[Event]) -> dict[str, str]:
    """Each part's deltas joined: attachment ids, and ``message`` for the post's message."""
    parts: dict[str, str] = {}
    for event in events:
        if event.type is EventType.attachment_delta:
            parts[event.data["attachment_id"]] = parts.get(event.data["attachment_id"], "") + event.data["delta"]
        elif event.type is EventType.message_delta:
            parts["message"] = parts.get("message", "") + event.data["delta"]
    return parts


def deltas_of(events: list[Event]) -> list[Event]:
    return [e for e in events if e.type in (EventType.attachment_delta, EventType.message_delta)]


def test_a_burst_of_deltas_is_joined_and_adds_up_to_each_part(app_with) -> None:
    app = app_with()
    events = recorded(app)
    round = app.session().send_message("go")
    assert round.state is RoundState.finished
    post = round.posts[-1]
    assert streamed(events) == {
        post.attachment(AttachmentType.thought).id: THOUGHT,
        post.attachment(AttachmentType.plan).id: PLAN,
        "message": MESSAGE,
    }
    came_in = len(pieces(THOUGHT)) + len(pieces(PLAN)) + len(pieces(MESSAGE))
    assert len(deltas_of(events)) <= 6 < came_in  # one event per part (or two past MAX_CHARS)


def test_no_delta_of_a_part_arrives_after_what_closes_it(app_with) -> None:
    app = app_with()
    events = recorded(app)
    app.session().send_message("go")
    closed: set[str] = set()
    post_closed = False
    for event in events:
        if event.type is EventType.attachment:
            closed.add(event.data["attachment"]["id"])
        elif event.type is EventType.post_end and event.data["post"]["send_from"] == "Streamer":
            post_closed = True
        elif event.type is EventType.attachment_delta:
            assert event.data["attachment_id"] not in closed and not post_closed
        elif event.type is EventType.message_delta:
            assert not post_closed
    assert events[-1].type is EventType.round_end


def test_interleaved_parts_keep_their_order(app_with) -> None:
    async def alternate(post: Any) -> None:
        first, second = post.stream(AttachmentType.thought), post.stream(AttachmentType.plan)
        for n in range(6):
            first.append(f"a{n} ")
            second.append(f"b{n} ")
            post.message_delta(f"m{n} ")
        first.close()
        second.close()

    Streamer.script = alternate
    app = app_with()
    events = recorded(app)
    app.session().send_message("go")
    order = [e.data["delta"] for e in deltas_of(events)]
    # Nothing can be joined across another part's delta, so every piece stays where it was.
    assert order == [piece for n in range(6) for piece in (f"a{n} ", f"b{n} ", f"m{n} ")]


def test_a_stream_that_pauses_is_shown_before_it_goes_on(app_with) -> None:
    resume = threading.Event()

    async def pause(post: Any) -> None:
        stream = post.stream(AttachmentType.thought)
        for piece in pieces("half of a thought, "):
            stream.append(piece)
        while not resume.is_set():  # the model stalls; nothing else happens in the session
            await asyncio.sleep(0.01)
        stream.append("and the rest.")
        stream.close()

    Streamer.script = pause
    app = app_with()
    events = recorded(app)
    session = app.session()
    worker = threading.Thread(target=session.send_message, args=("go",))
    worker.start()
    try:
        for _ in range(int(LIVENESS / 0.01)):
            if "".join(streamed(events).values()) == "half of a thought, ":
                break
            threading.Event().wait(0.01)
        else:
            raise AssertionError("the paused stream's text was never published")
    finally:
        resume.set()
        worker.join(LIVENESS)
    assert list(streamed(events).values()) == ["half of a thought, and the rest."]


def test_deltas_spaced_wider_than_the_interval_each_go_out(app_with) -> None:
    async def slow(post: Any) -> None:
        for n in range(4):
            post.message_delta(f"{n} ")
            await asyncio.sleep(0.1)  # after the 1/30 s timer, which was set first

    Streamer.script = slow
    app = app_with()
    events = recorded(app)
    app.session().send_message("go")
    assert [e.data["delta"] for e in deltas_of(events)] == ["0 ", "1 ", "2 ", "3 "]


def test_held_back_text_is_bounded_in_size(app_with) -> None:
    text = "x" * (MAX_CHARS * 3 + 10)

    async def flood(post: Any) -> None:
        for char in text:
            post.message_delta(char)

    Streamer.script = flood
    app = app_with()
    events = recorded(app)
    app.session().send_message("go")
    sizes = [len(e.data["delta"]) for e in deltas_of(events)]
    assert "".join(e.data["delta"] for e in deltas_of(events)) == text
    assert len(sizes) == 4 and max(sizes) == MAX_CHARS


def test_interval_zero_publishes_every_delta(app_with) -> None:
    app = app_with(delta_interval_s=0)
    events = recorded(app)
    app.session().send_message("go")
    assert [e.data["delta"] for e in deltas_of(events) if e.type is EventType.message_delta] == pieces(MESSAGE)


def test_a_cancelled_round_publishes_what_was_held_before_it_ends(app_with) -> None:
    async def stall(post: Any) -> None:
        for piece in pieces("written before the cancel"):
            post.message_delta(piece)
        await asyncio.sleep(3600)

    Streamer.script = stall
    app = app_with(delta_interval_s=600)  # only the round's end can publish the text
    events = recorded(app)
    session = app.session()
    result: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: result.setdefault("round", session.send_message("go")))
    worker.start()
    for _ in range(int(LIVENESS / 0.01)):
        if any(e.type is EventType.post_start for e in events):
            break
        threading.Event().wait(0.01)
    threading.Event().wait(0.05)
    assert not deltas_of(events)  # held back, not lost: published when the round ends
    assert session.cancel()
    worker.join(LIVENESS)
    assert result["round"].state is RoundState.cancelled
    types = [e.type for e in events]
    assert types.index(EventType.message_delta) < types.index(EventType.round_end)
    assert streamed(events) == {"message": "written before the cancel"}


def test_the_live_view_shows_text_while_it_streams(app_with) -> None:
    resume = threading.Event()

    async def pause(post: Any) -> None:
        stream = post.stream(AttachmentType.reply_content)
        for piece in pieces("total = sum(range(10))\n"):
            stream.append(piece)
        while not resume.is_set():
            await asyncio.sleep(0.01)
        stream.close()

    Streamer.script = pause
    app = app_with()
    out = io.StringIO()
    session = app.session()
    view = LiveView(Console(file=out, force_terminal=True, color_system=None, width=100), session_id=session.id, live=True)
    detach = view.attach(app)
    worker = threading.Thread(target=session.send_message, args=("go",))
    worker.start()
    try:
        for _ in range(int(LIVENESS / 0.05)):
            if "total = sum(range(10))" in ANSI.sub("", out.getvalue()):
                break
            threading.Event().wait(0.05)
        else:
            raise AssertionError("the live region never showed the streaming code")
        assert "reply_content …" in ANSI.sub("", out.getvalue())  # in the live region, not printed for good
    finally:
        resume.set()
        worker.join(LIVENESS)
        detach()
        view.close()


def test_a_negative_interval_is_a_config_error(make_app) -> None:
    with pytest.raises(ConfigError) as info:
        make_app(session={"delta_interval_s": -1})
    assert "delta_interval_s" in str(info.value)
