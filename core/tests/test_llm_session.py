"""The LLM layer inside rounds: a role calls ``ctx.llm.chat`` against the fake server.

Covers JSON modes, field streaming into attachments, usage and cost events, guards, model
aliases, secrets, and recording a session then replaying it with the server stopped.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import attrs
import pytest

from weaver import hookimpl
from weaver.events import Event, EventType
from weaver.llm import ChatMessage, ReplyFormatError, cost_report
from weaver.llm.backend import BackendRequest, Completion
from weaver.model import USER, AttachmentType, Post, Round, RoundState
from weaver.roles import RoleContext
from weaver.serde import to_data
from weaver.specs import ConfigTable, LLMBackendSpec, RoleSpec, Verdict
from weaver.store import read_log
from weaver.testing import FakeError, FakeReply

ANSWER_SCHEMA = {
    "type": "object",
    "properties": {"thought": {"type": "string"}, "answer": {"type": "string"}},
    "required": ["thought", "answer"],
    "additionalProperties": False,
}
GOOD = {"thought": "6 times 7 is \"42\".\nEasy.", "answer": "The answer is 42."}


class AnswerRole:
    """Asks the model for ``{"thought", "answer"}``, streams both, and corrects one bad reply.

    Its system prompt holds the current time and the round id, as real prompts do, so
    replay must not depend on them.
    """

    async def reply(self, ctx: RoleContext) -> Post:
        post = ctx.new_post(send_to=USER)
        streams: dict[str, Any] = {}

        def on_field(field: str, delta: str) -> None:
            if field not in streams:
                streams[field] = post.stream(AttachmentType.thought if field == "thought" else AttachmentType.text)
            streams[field].append(delta)

        now = datetime.now(timezone.utc).isoformat()
        messages = [
            ChatMessage("system", f"You answer questions. Current time: {now}. Round: {ctx.round.id}."),
            ChatMessage("user", ctx.post.message),
        ]
        for attempt in range(2):
            streams.clear()
            try:
                response = await ctx.llm.chat(messages, reply_schema=ANSWER_SCHEMA, schema_name="answer", on_field=on_field)
                break
            except ReplyFormatError as error:
                if attempt:
                    raise
                messages += [ChatMessage("assistant", error.raw), ChatMessage("user", error.feedback)]
        for field, stream in streams.items():
            stream.close(response.data[field])
        post.set_message(response.data["answer"])
        return post.build()


@attrs.frozen
class AnswererConfig:
    llm: str = ""


@hookimpl
def _roles() -> list[RoleSpec]:
    return [RoleSpec(name="answerer", alias="Answerer", factory=AnswerRole, description="Answers.")]


@hookimpl
def _tables() -> list[ConfigTable]:
    return [ConfigTable("answerer", AnswererConfig)]


answer_extension = SimpleNamespace(weaver_roles=_roles, weaver_config_tables=_tables)


@pytest.fixture
def answer_app(make_app, register_plugin, fake_llm):
    """``answer_app(project_dir=None, environ=None, **llm_settings)``: an App whose only role is AnswerRole."""
    register_plugin(answer_extension)

    def build(project_dir: Path | None = None, *, llm: dict[str, Any] | None = None, **settings: Any):
        table = fake_llm.llm_config(retry_backoff=0.01, **settings) if llm is None else llm
        # Every delta its own event: these tests look at how the LLM layer streams, piece by
        # piece, not at the rate the session publishes (test_engine_deltas.py).
        return make_app(project_dir, session={"roles": ["answerer"], "delta_interval_s": 0}, llm=table)

    return build


def events_of(app) -> list[Event]:
    events: list[Event] = []
    app.subscribe(events.append)
    return events


def llm_calls(events: list[Event]) -> list[dict[str, Any]]:
    return [dict(e.data) for e in events if e.type is EventType.llm_call]


# --------------------------------------------------------------------------------------
# JSON modes, streaming, usage
# --------------------------------------------------------------------------------------

REPLY_IN_MODE = {
    "json_schema": json.dumps(GOOD),
    "json_object": json.dumps({"response": GOOD}),
    "text": "<think>They want a number.</think>\nSure:\n```json\n" + json.dumps(GOOD, indent=2) + "\n```\nDone.",
}


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "plain"])
@pytest.mark.parametrize("json_mode", list(REPLY_IN_MODE))
def test_each_json_mode_streaming_and_not(answer_app, fake_llm, json_mode: str, stream: bool) -> None:
    fake_llm.add(FakeReply(REPLY_IN_MODE[json_mode], chunk_size=3))
    app = answer_app(json_mode=json_mode, stream=stream)
    round = app.session().send_message("What is 6*7?")
    assert round.state is RoundState.finished, round.reason
    assert round.answer == GOOD["answer"]
    post = round.posts[-1]
    assert post.attachment("thought").content == GOOD["thought"]
    assert post.attachment("text").content == GOOD["answer"]
    body = fake_llm.requests[0]
    system = body["messages"][0]["content"]
    if json_mode == "json_schema":
        assert body["response_format"]["json_schema"] == {"name": "answer", "schema": ANSWER_SCHEMA, "strict": True}
        assert "JSON Schema" not in system
    else:
        assert body.get("response_format") == ({"type": "json_object"} if json_mode == "json_object" else None)
        assert system.startswith("You answer questions.") and "Reply with exactly one JSON object" in system
        assert '"thought"' in system and len(body["messages"]) == 2
    assert bool(body.get("stream")) is stream


@pytest.mark.parametrize("chunk_size", [1, 4])
def test_streamed_field_deltas_add_up_to_the_final_attachments(answer_app, fake_llm, chunk_size: int) -> None:
    fake_llm.add(FakeReply(json.dumps({"response": GOOD}), chunk_size=chunk_size))
    app = answer_app()
    events = events_of(app)
    round = app.session().send_message("What is 6*7?")
    deltas: dict[str, list[str]] = {}
    for event in events:
        if event.type is EventType.attachment_delta:
            deltas.setdefault(event.data["attachment_id"], []).append(event.data["delta"])
    final = {a.id: a.content for a in round.posts[-1].attachments}
    assert {key: "".join(parts) for key, parts in deltas.items()} == final
    # The thought grew on screen in several pieces, before the reply was complete.
    assert all(len(parts) > 1 for parts in deltas.values())


def test_usage_and_cost_are_recorded_per_call(answer_app, fake_llm) -> None:
    fake_llm.add(FakeReply(json.dumps(GOOD), prompt_tokens=1200, completion_tokens=300))
    app = answer_app(input_price_per_million=2.5, output_price_per_million=10.0)
    events = events_of(app)
    session = app.session()
    round = session.send_message("What is 6*7?")
    expected_cost = (1200 * 2.5 + 300 * 10.0) / 1_000_000
    (call,) = llm_calls(events)
    assert call["usage"] == {
        "prompt_tokens": 1200, "completion_tokens": 300, "cost": pytest.approx(expected_cost), "llm_calls": 1, "estimated": False,
    }
    assert (call["model"], call["alias"], call["role"], call["outcome"]) == ("fake-model", "default", "Answerer", "ok")
    assert call["latency_s"] >= 0
    assert round.usage.cost == pytest.approx(expected_cost) and round.usage.total_tokens == 1500
    logged = [e for e in read_log(session.paths.log).events if e.type is EventType.llm_call]
    assert [dict(e.data) for e in logged] == [call]


def test_usage_is_estimated_and_marked_when_the_backend_gives_none(answer_app, fake_llm) -> None:
    reply = json.dumps(GOOD)
    fake_llm.add(FakeReply(reply, usage=False))
    app = answer_app(output_price_per_million=4.0)
    events = events_of(app)
    round = app.session().send_message("What is 6*7?")
    usage = llm_calls(events)[0]["usage"]
    assert usage["estimated"] is True and round.usage.estimated
    assert usage["completion_tokens"] == -(-len(reply) // 4)
    assert usage["prompt_tokens"] > 0
    assert usage["cost"] == pytest.approx(usage["completion_tokens"] * 4.0 / 1_000_000)


def test_a_bad_reply_gives_feedback_the_role_sends_back(answer_app, fake_llm) -> None:
    fake_llm.add("{'thought': 'single quotes'}", json.dumps(GOOD))
    app = answer_app()
    events = events_of(app)
    round = app.session().send_message("What is 6*7?")
    assert round.state is RoundState.finished
    retry = fake_llm.requests[1]["messages"]
    assert retry[-2] == {"role": "assistant", "content": "{'thought': 'single quotes'}"}
    assert "invalid JSON at line 1, column 2" in retry[-1]["content"]
    outcomes = [c["outcome"] for c in llm_calls(events)]
    assert outcomes[0].startswith("invalid_reply: ") and outcomes[1] == "ok"
    assert round.usage.llm_calls == 2


def test_a_transport_failure_fails_the_round_and_is_recorded(answer_app, fake_llm) -> None:
    fake_llm.add(FakeError(500, "down"), FakeError(500, "still down"))
    app = answer_app(max_retries=1)
    events = events_of(app)
    round = app.session().send_message("What is 6*7?")
    assert round.state is RoundState.failed
    assert round.reason == f"LLMError: LLM call to {fake_llm.base_url} failed: HTTP 500: still down (after 2 attempts)"
    (call,) = llm_calls(events)
    assert call["outcome"] == f"error: LLM call to {fake_llm.base_url} failed: HTTP 500: still down (after 2 attempts)"
    assert call["usage"]["llm_calls"] == 1 and call["usage"]["cost"] == 0
    statuses = [e.data["message"] for e in events if e.type is EventType.status]
    assert any("HTTP 500: down; retrying in" in s for s in statuses)


# --------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------


def test_nothing_configured_is_one_line_naming_the_settings(answer_app) -> None:
    app = answer_app(llm={})
    round = app.session().send_message("hi")
    assert round.state is RoundState.failed
    assert "\n" not in round.reason
    for setting in ("OPENAI_API_KEY", "WEAVER_LLM__MODEL", "OPENAI_BASE_URL", "[llm]"):
        assert setting in round.reason


def test_environment_variables_alone_configure_it(make_app, register_plugin, fake_llm) -> None:
    register_plugin(answer_extension)
    fake_llm.add(json.dumps(GOOD))
    environ = {"OPENAI_API_KEY": "env-key", "OPENAI_BASE_URL": fake_llm.base_url, "WEAVER_LLM__MODEL": "env-model"}
    app = make_app(environ=environ, session={"roles": ["answerer"]})
    assert app.session().send_message("hi").state is RoundState.finished
    assert fake_llm.requests[0]["model"] == "env-model"
    assert fake_llm.headers[0]["authorization"] == "Bearer env-key"
    assert ("llm.api_key", "****", "environment") in app.config.rows()


def test_a_role_uses_its_configured_model_alias(make_app, register_plugin, fake_llm) -> None:
    register_plugin(answer_extension)
    fake_llm.add(json.dumps({"response": GOOD}))
    llm = fake_llm.llm_config(models={"cheap": {"model": "cheap-model", "json_mode": "json_object", "api_key_env": "CHEAP_KEY"}})
    app = make_app(session={"roles": ["answerer"]}, answerer={"llm": "cheap"}, llm=llm, environ={"CHEAP_KEY": "cheap-secret"})
    events = events_of(app)
    assert app.session().send_message("hi").state is RoundState.finished
    body = fake_llm.requests[0]
    assert (body["model"], body["response_format"]) == ("cheap-model", {"type": "json_object"})
    assert fake_llm.headers[0]["authorization"] == "Bearer cheap-secret"
    assert (llm_calls(events)[0]["alias"], llm_calls(events)[0]["model"]) == ("cheap", "cheap-model")


def test_an_unknown_alias_is_named(make_app, register_plugin, fake_llm) -> None:
    register_plugin(answer_extension)
    app = make_app(session={"roles": ["answerer"]}, answerer={"llm": "nope"}, llm=fake_llm.llm_config())
    round = app.session().send_message("hi")
    assert "no model alias 'nope'; define [llm.models.nope] (known: default)" in round.reason


class CannedBackend:
    """A second backend, as an extension would register it: answers from a fixed table."""

    endpoint = "canned://"

    def __init__(self, model) -> None:
        self.model = model

    async def complete(self, request: BackendRequest, on_text, on_status) -> Completion:
        on_text(json.dumps({"thought": f"model {request.model}", "answer": request.messages[-1].content.upper()}))
        return Completion(text=json.dumps({"thought": f"model {request.model}", "answer": request.messages[-1].content.upper()}),
                          prompt_tokens=5, completion_tokens=6, finish_reason="stop")

    async def aclose(self) -> None:
        pass


def test_hook_weaver_llm_backends(make_app, register_plugin, fake_llm) -> None:
    register_plugin(answer_extension)
    register_plugin(SimpleNamespace(weaver_llm_backends=hookimpl(lambda: [LLMBackendSpec("canned", CannedBackend)])))
    app = make_app(session={"roles": ["answerer"]}, llm={"model": "table-1", "backend": "canned"})
    round = app.session().send_message("hello")
    assert (round.state, round.answer) == (RoundState.finished, "HELLO")
    assert round.posts[-1].attachment("thought").content == "model table-1"
    assert fake_llm.requests == []


# --------------------------------------------------------------------------------------
# Guards
# --------------------------------------------------------------------------------------


def test_hook_weaver_before_llm_call(answer_app, fake_llm, register_plugin) -> None:
    seen = []

    class Budget:
        @hookimpl
        def weaver_before_llm_call(self, request, ctx):
            seen.append((request, ctx))
            return Verdict.stop("token budget of 10 spent", source="budget")

    register_plugin(Budget())
    fake_llm.add(json.dumps(GOOD))
    app = answer_app()
    round = app.session().send_message("What is 6*7?")
    assert round.state is RoundState.failed
    assert round.reason == "token budget of 10 spent (budget)"
    assert fake_llm.requests == []
    (request, ctx), = seen
    assert (request.role, request.model, request.schema_name) == ("Answerer", "default", "answer")
    assert request.reply_schema == ANSWER_SCHEMA and request.estimated_prompt_tokens > 0
    assert (ctx.role, ctx.round_id) == ("Answerer", round.id)


def test_before_llm_call_warn_and_inject(answer_app, fake_llm, register_plugin) -> None:
    class Nudge:
        @hookimpl
        def weaver_before_llm_call(self, request, ctx):
            return Verdict.inject("Answer in one sentence.", source="nudge")

    class Warn:
        @hookimpl
        def weaver_before_llm_call(self, request, ctx):
            return Verdict.warn("large prompt", source="sizer")

    register_plugin(Nudge())
    register_plugin(Warn())
    fake_llm.add(json.dumps(GOOD))
    app = answer_app()
    events = events_of(app)
    assert app.session().send_message("hi").state is RoundState.finished
    assert fake_llm.requests[0]["messages"][-1] == {"role": "system", "content": "Answer in one sentence."}
    assert "warning from sizer: large prompt" in [e.data["message"] for e in events if e.type is EventType.status]


def test_hook_weaver_after_llm_call(answer_app, fake_llm, register_plugin) -> None:
    seen = []

    class LongReplies:
        @hookimpl
        def weaver_after_llm_call(self, request, response, ctx):
            seen.append(response)
            if response.usage.completion_tokens > 100:
                return Verdict.stop(f"reply of {response.usage.completion_tokens} tokens is too long", source="long")
            return None

    register_plugin(LongReplies())
    fake_llm.add(FakeReply(json.dumps(GOOD), prompt_tokens=50, completion_tokens=20),
                 FakeReply(json.dumps(GOOD), prompt_tokens=50, completion_tokens=500))
    app = answer_app(input_price_per_million=1.0)
    session = app.session()
    first = session.send_message("short")
    assert first.state is RoundState.finished
    assert (seen[0].usage.prompt_tokens, seen[0].usage.completion_tokens, seen[0].usage.llm_calls) == (50, 20, 1)
    assert seen[0].usage.cost == pytest.approx(50 / 1_000_000)
    assert seen[0].data == GOOD and seen[0].model == "fake-model" and seen[0].latency_s >= 0
    second = session.send_message("long")
    assert second.state is RoundState.failed
    assert second.reason == "reply of 500 tokens is too long (long)"
    assert len(fake_llm.requests) == 2 and second.usage.completion_tokens == 500


# --------------------------------------------------------------------------------------
# Secrets, recording and replay, cost
# --------------------------------------------------------------------------------------


def test_secrets_never_reach_events_cassettes_or_errors(answer_app, fake_llm, tmp_path) -> None:
    secret = "sk-proj-Secret-Value-0987654321"
    fake_llm.add(json.dumps(GOOD), FakeError(401, f"Incorrect API key provided: {secret}"))
    app = answer_app(api_key=secret, mode="record", cassette="tape.jsonl", max_retries=0)
    events = events_of(app)
    session = app.session()
    first = session.send_message(f"my key is {secret}, keep it safe")
    second = session.send_message("again")
    app.close()
    assert first.state is RoundState.finished and second.state is RoundState.failed
    assert fake_llm.headers[0]["authorization"] == f"Bearer {secret}"
    assert secret in fake_llm.requests[0]["messages"][1]["content"]
    cassette = (tmp_path / "tape.jsonl").read_text()
    assert "<secret>" in cassette
    assert "Incorrect API key provided: ****" in second.reason
    # The user's own message is session content; everything the LLM layer adds must be clean.
    users_text = f"my key is {secret}"
    published = "\n".join(json.dumps(to_data(e)) for e in events).replace(users_text, "")
    for text in (cassette, published, session.paths.log.read_text().replace(users_text, ""), second.reason):
        assert secret not in text


def normalized(round: Round) -> Any:
    """A Round as JSON with only the random ids and the timestamps replaced.

    Those are the only values allowed to differ between a recorded and a replayed session.
    """
    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: "<id>" if k == "id" else "<time>" if k in ("created_at", "ended_at") else walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return walk(to_data(round))


QUESTIONS = ["What is 6*7?", "And 7*8?"]


def record_session(answer_app, fake_llm, project: Path, **settings: Any) -> tuple[list[Round], Any]:
    fake_llm.add(
        FakeReply("Sure thing: {'thought': 'oops'}", prompt_tokens=100, completion_tokens=10),
        FakeReply(json.dumps(GOOD), prompt_tokens=150, completion_tokens=40, chunk_size=2),
        FakeReply(json.dumps({"response": {"thought": "7*8", "answer": "56"}}), prompt_tokens=210, completion_tokens=30),
    )
    app = answer_app(project, mode="record", cassette="llm.jsonl", **settings)
    session = app.session()
    rounds = [session.send_message(q) for q in QUESTIONS]
    return rounds, session


def test_a_recorded_session_replays_identically_with_the_server_stopped(answer_app, fake_llm, tmp_path) -> None:
    recorded, _ = record_session(answer_app, fake_llm, tmp_path / "rec")
    assert [r.state for r in recorded] == [RoundState.finished, RoundState.finished]
    assert len(fake_llm.requests) == 3
    stopped_url = fake_llm.base_url
    fake_llm.stop()
    (tmp_path / "play").mkdir()
    shutil.copy(tmp_path / "rec" / "llm.jsonl", tmp_path / "play" / "llm.jsonl")
    replay_llm = {"api_key": "test", "base_url": stopped_url, "model": "fake-model", "mode": "replay", "cassette": "llm.jsonl", "max_retries": 0}
    app = answer_app(tmp_path / "play", llm=replay_llm)
    events = events_of(app)
    session = app.session()
    replayed = [session.send_message(q) for q in QUESTIONS]
    assert [normalized(r) for r in replayed] == [normalized(r) for r in recorded]
    assert [c["outcome"].split(":")[0] for c in llm_calls(events)] == ["invalid_reply", "ok", "ok"]
    deltas = [e.data["delta"] for e in events if e.type is EventType.attachment_delta]
    assert len(deltas) > 10, "replay streams the recorded chunks"


def test_a_replay_miss_shows_the_request_and_its_nearest_neighbour(answer_app, fake_llm, tmp_path) -> None:
    record_session(answer_app, fake_llm, tmp_path)
    app = answer_app(tmp_path, llm={"model": "fake-model", "mode": "replay", "cassette": "llm.jsonl"})
    round = app.session().send_message("What is 6*8?")
    assert round.state is RoundState.failed
    reason = round.reason
    assert reason.startswith(f"ReplayMissError: replay: no recorded reply in {tmp_path / 'llm.jsonl'} for this request:")
    assert "nearest recorded request (" in reason
    assert "-What is 6*7?" in reason and "+What is 6*8?" in reason
    assert "Current time: <datetime>. Round: <id>." in reason


def test_cost_per_session_matches_the_price_table_on_recorded_usage(answer_app, fake_llm, tmp_path) -> None:
    prices = {"input_price_per_million": 3.0, "output_price_per_million": 15.0}
    rounds, session = record_session(answer_app, fake_llm, tmp_path, **prices)
    recorded = [json.loads(line) for line in (tmp_path / "llm.jsonl").read_text().splitlines()]
    expected = sum(r["prompt_tokens"] * 3.0 + r["completion_tokens"] * 15.0 for r in recorded) / 1_000_000
    assert expected == pytest.approx((100 * 3 + 10 * 15 + 150 * 3 + 40 * 15 + 210 * 3 + 30 * 15) / 1_000_000)
    report = cost_report(read_log(session.paths.log).events)
    assert report.total.cost == pytest.approx(expected)
    assert report.total.llm_calls == 3 and report.failed_calls == 0
    assert sum(r.usage.cost for r in rounds) == pytest.approx(expected)
    assert set(report.by_round) == {r.id for r in rounds}
    assert {k: u.cost for k, u in report.by_round.items()} == pytest.approx({r.id: r.usage.cost for r in rounds})
    assert report.by_role["Answerer"].cost == pytest.approx(expected)
    assert report.by_model["fake-model"].total_tokens == 100 + 10 + 150 + 40 + 210 + 30


def test_replay_or_record_records_only_what_is_missing(answer_app, fake_llm, tmp_path) -> None:
    fake_llm.add(json.dumps(GOOD), json.dumps({"thought": "t", "answer": "second"}))
    app = answer_app(mode="replay_or_record", cassette="llm.jsonl")
    session = app.session()
    assert session.send_message("one").answer == GOOD["answer"]
    assert session.send_message("one").answer == GOOD["answer"]
    assert session.send_message("two").answer == "second"
    assert len(fake_llm.requests) == 2
    assert len((tmp_path / "llm.jsonl").read_text().splitlines()) == 2


def test_import_weaver_does_not_import_openai() -> None:
    code = (
        "import sys, weaver, weaver.llm, weaver.llm.service, weaver.defaults, weaver.testing;"
        "weaver.App; weaver.RoleContext;"
        "assert 'openai' not in sys.modules and 'httpx2' not in sys.modules, 'openai was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cancelling_a_round_during_a_call_records_it_as_cancelled(answer_app, fake_llm) -> None:
    import threading
    import time

    fake_llm.add(FakeReply(json.dumps(GOOD), delay=20))
    app = answer_app()
    events = events_of(app)
    session = app.session()
    result: list[Round] = []
    worker = threading.Thread(target=lambda: result.append(session.send_message("hi")))
    worker.start()
    deadline = time.monotonic() + 30
    while not fake_llm.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    assert session.cancel()
    worker.join(30)
    assert not worker.is_alive(), "the round did not end after cancel()"
    assert result[0].state is RoundState.cancelled
    assert [c["outcome"] for c in llm_calls(events)] == ["cancelled"]


def test_cli_selects_replay_and_cassette_and_masks_the_key(tmp_path) -> None:
    env = {"PATH": "", "HOME": str(tmp_path), "WEAVER_LOAD_EXTENSIONS": "", "OPENAI_API_KEY": "sk-cli-Secret-42"}
    shown = subprocess.run(
        [sys.executable, "-m", "weaver.cli", "--llm-mode", "replay", "--cassette", "tapes/a.jsonl", "config", "show"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=True,
    ).stdout
    assert re.search(r'^mode = "replay" +# --set$', shown, re.MULTILINE)
    assert re.search(r'^cassette = "tapes/a.jsonl" +# --set$', shown, re.MULTILINE)
    assert re.search(r'^api_key = "\*\*\*\*" +# environment$', shown, re.MULTILINE)
    assert "sk-cli-Secret-42" not in shown
