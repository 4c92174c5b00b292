"""The compressor in real sessions: the model's incremental summary made between rounds over
HTTP to the fake server, its use in the next prompts, and the fallback when the model fails."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

import weaver_memory_compressor
from weaver.events import Event, EventType
from weaver.hookspecs import hookimpl
from weaver.memory import MemoryBudget
from weaver.model import USER, Post
from weaver.roles import RoleContext
from weaver.specs import RoleSpec
from weaver.testing import FakeOpenAIServer
from weaver.testing.fake_openai import FakeError

BULK = " ".join(f"word{n}" for n in range(400))


class Chatter:
    """Puts the (compressed) history in its prompt, like the Planner does, and answers."""

    async def reply(self, ctx: RoleContext) -> Post:
        memory = ctx.memory(MemoryBudget(max_tokens=2000, keep_recent_rounds=2))
        history = [f"{r.user_query} -> {r.answer}" for r in memory.rounds]
        prompt = "\n".join([f"summary: {memory.summary}", *history, ctx.post.message])
        text = (await ctx.llm.chat([{"role": "user", "content": prompt}])).text
        post = ctx.new_post(send_to=USER)
        post.message_delta(f"{text} {BULK}")
        return post.build()


@hookimpl
def _roles() -> list[RoleSpec]:
    return [RoleSpec(name="chatter", alias="Chatter", factory=Chatter, description="Chats.")]


chatter_role = SimpleNamespace(weaver_roles=_roles)


def is_summary_request(request: dict[str, Any]) -> bool:
    return request["messages"][0]["content"].startswith("You keep the running summary")


@pytest.fixture
def chat(make_app: Any, register_plugin: Any, fake_llm: FakeOpenAIServer) -> Any:
    register_plugin(chatter_role)
    register_plugin(weaver_memory_compressor)

    def make(rounds: int, **settings: Any) -> tuple[list[Event], Any]:
        # These tests are about compression past the budget's trigger (verbatim_rounds = 0).
        compressor = {"verbatim_rounds": 0, **settings}
        app = make_app(session={"roles": ["chatter"]}, llm=fake_llm.llm_config(), memory_compressor=compressor)
        events: list[Event] = []
        app.subscribe(events.append)
        session = app.session()
        for n in range(1, rounds + 1):
            session.send_message(f"question {n}")
        app.run(session.settle())  # the summary the last round left behind
        return events, session

    return make


def test_older_rounds_are_summarized_by_the_model_incrementally(chat: Any, fake_llm: FakeOpenAIServer) -> None:
    summaries = 0

    def respond(request: dict[str, Any]) -> str:
        nonlocal summaries
        if is_summary_request(request):
            summaries += 1
            return f"SUMMARY v{summaries}"
        return "answer"

    fake_llm.responder = respond
    events, session = chat(8)

    summary_requests = [r for r in fake_llm.requests if is_summary_request(r)]
    assert summary_requests, "the history outgrew the budget, so a summary was asked for"
    # Incremental: each summary request carries the previous summary and only the newly old rounds.
    later = summary_requests[-1]["messages"][1]["content"]
    assert f"Summary so far:\nSUMMARY v{len(summary_requests) - 1}" in later
    assert "Round 1:" not in later
    last_prompt = [r for r in fake_llm.requests if not is_summary_request(r)][-1]["messages"][0]["content"]
    # The newest summary was made after the last round, for the next one; the last round's
    # prompt used the one before, which covered every round it summarized.
    assert last_prompt.startswith(f"summary: SUMMARY v{len(summary_requests) - 1}\nquestion 6 ->")
    assert "question 6 ->" in last_prompt and "question 7 ->" in last_prompt and "question 5 ->" not in last_prompt
    calls = [e for e in events if e.type is EventType.llm_call and e.data["role"] == "MemoryCompressor"]
    assert len(calls) == len(summary_requests)
    assert session.usage.llm_calls == 8 + len(summary_requests)


def test_when_the_model_fails_older_rounds_are_condensed_deterministically(chat: Any, fake_llm: FakeOpenAIServer) -> None:
    fake_llm.responder = lambda request: FakeError(400, "no summaries today") if is_summary_request(request) else "answer"
    events, _ = chat(6)
    failures = [e for e in events if e.type is EventType.status and "memory summary failed" in e.data["message"]]
    assert failures
    last_prompt = [r for r in fake_llm.requests if not is_summary_request(r)][-1]["messages"][0]["content"]
    assert last_prompt.startswith("summary: Round 1: the User asked: question 1\n  answer: answer word0")
    assert "Round 3: the User asked: question 3" in last_prompt and "question 5 ->" in last_prompt


def test_a_short_session_is_not_compressed_and_costs_no_summary_call(chat: Any, fake_llm: FakeOpenAIServer) -> None:
    fake_llm.responder = lambda request: "answer"
    chat(2)
    assert not any(is_summary_request(r) for r in fake_llm.requests)
    assert fake_llm.requests[-1]["messages"][0]["content"].startswith("summary: \nquestion 1 ->")


def test_summaries_by_the_model_can_be_turned_off(chat: Any, fake_llm: FakeOpenAIServer) -> None:
    fake_llm.responder = lambda request: "answer"
    chat(6, summarize_with_llm=False)
    assert not any(is_summary_request(r) for r in fake_llm.requests)
    assert "Round 1: the User asked: question 1" in fake_llm.requests[-1]["messages"][0]["content"]


def test_a_resumed_session_reuses_its_summaries_and_never_summarizes_a_round_twice(
    make_app: Any, register_extension: Any, fake_llm: FakeOpenAIServer, tmp_path: Any
) -> None:
    register_extension(chatter_role)
    register_extension(weaver_memory_compressor)
    summarized: list[list[str]] = []

    def respond(request: dict[str, Any]) -> str:
        if is_summary_request(request):
            text = request["messages"][1]["content"]
            summarized.append([line.split(":")[0] for line in text.splitlines() if line.startswith("Round ")])
            return f"SUMMARY v{len(summarized)}"
        return "answer"

    fake_llm.responder = respond
    settings = {"session": {"roles": ["chatter"]}, "llm": fake_llm.llm_config()}
    first = make_app(tmp_path, **settings)
    session = first.session()
    for n in range(1, 7):
        session.send_message(f"question {n}")
    first.close()  # closing waits for the summary the last round started
    assert summarized, "the history outgrew the budget"
    before = len(summarized)
    done_before = {label for labels in summarized for label in labels}

    second = make_app(tmp_path, **settings)  # another App, as another process would be
    resumed = second.resume(session.id)
    assert resumed.state["memory_compressor.summary"]["text"] == f"SUMMARY v{before}"
    resumed.send_message("question 7")
    second.run(resumed.settle())
    prompt = [r for r in fake_llm.requests if not is_summary_request(r)][-1]["messages"][0]["content"]
    assert prompt.startswith(f"summary: SUMMARY v{before}\n")  # the stored summary, not a new one
    after = {label for labels in summarized[before:] for label in labels}
    assert not after & done_before, f"rounds summarized again: {sorted(after & done_before)}"
    assert resumed.usage.llm_calls == 7 + len(summarized)  # the summaries' calls count after a resume too
