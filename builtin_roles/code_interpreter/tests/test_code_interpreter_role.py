"""The CodeInterpreter on its own (the entry role, answering the user): replies, retries, guards
and the feedback hook, with the real ``openai`` client, the default verifier and a real kernel."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import weaver_code_interpreter
import weaver_code_verifier
from weaver.events import Event, EventType
from weaver.hookspecs import hookimpl
from weaver.model import AttachmentType, Post, RoundState
from weaver.specs import Verdict
from weaver.testing import FakeOpenAIServer

pytestmark = pytest.mark.slow


def code(content: str) -> str:
    return json.dumps({"thought": "Do it.", "reply_type": "python", "reply_content": content})


@pytest.fixture
def start(make_app: Any, register_plugin: Any, fake_llm: FakeOpenAIServer, tmp_path: Path) -> Any:
    for extension in (weaver_code_interpreter, weaver_code_verifier):
        register_plugin(extension)

    def make(*replies: str, **config: Any) -> tuple[Any, list[Event]]:
        fake_llm.add(*replies)
        app = make_app(
            tmp_path,
            session={"roles": ["code_interpreter"]},
            llm=fake_llm.llm_config(),
            execution={"pool_size": 0},
            **config,
        )
        events: list[Event] = []
        app.subscribe(events.append)
        return app, events

    return make


def executions(events: list[Event]) -> int:
    return len([e for e in events if e.type is EventType.execution])


def answer_post(round: Any) -> Post:
    return round.posts[-1]


def test_a_text_reply_answers_without_running_code(start: Any) -> None:
    app, events = start(
        json.dumps({"thought": "No code needed.", "reply_type": "text", "reply_content": "A DataFrame is a table."})
    )
    round = app.session().send_message("what is a DataFrame?")
    assert round.state is RoundState.finished, round.reason
    assert round.answer == "A DataFrame is a table."
    assert answer_post(round).attachment(AttachmentType.reply_type).content == "text"
    assert executions(events) == 0


def test_a_fenced_reply_in_the_taskweaver_wrapper_runs(start: Any) -> None:
    wrapped = {"response": {"thought": "t", "reply_type": "python", "reply_content": "```python\n6 * 7\n```"}}
    app, _ = start("Here you go:\n" + json.dumps(wrapped))
    round = app.session().send_message("6 times 7")
    post = answer_post(round)
    assert post.attachment(AttachmentType.reply_content).content == "6 * 7"
    assert "42" in post.attachment(AttachmentType.execution_result).content


def test_format_errors_are_corrected_and_count_as_retries(start: Any, fake_llm: FakeOpenAIServer) -> None:
    app, _ = start(
        "Sure, I will compute it.",
        json.dumps({"thought": "t", "reply_type": "bash", "reply_content": "ls"}),
        code("1 + 1"),
    )
    round = app.session().send_message("1 + 1")
    post = answer_post(round)
    assert post.attachment(AttachmentType.execution_status).content == "ok"
    corrections = [a.content for a in post.attachments if a.type is AttachmentType.revise_message]
    assert len(corrections) == 2
    assert "no JSON object was found" in corrections[0]
    assert "reply_type" in corrections[1] and "python" in corrections[1]
    assert fake_llm.requests[1]["messages"][-1]["content"] == corrections[0]


def test_exhausted_retries_report_the_last_problem(start: Any, fake_llm: FakeOpenAIServer) -> None:
    app, events = start("not json", "still not json", code_interpreter={"max_retries": 1})
    round = app.session().send_message("anything")
    assert len(fake_llm.requests) == 2
    assert round.answer.startswith(
        "I could not produce a usable reply in 2 attempts ([code_interpreter] max_retries = 1)"
    )
    assert "no JSON object was found" in round.answer
    assert executions(events) == 0


def test_a_guard_stop_after_execution_ends_the_retries(
    start: Any, register_plugin: Any, fake_llm: FakeOpenAIServer
) -> None:
    @hookimpl
    def weaver_after_execute(code: str, result: Any, ctx: Any) -> Verdict | None:
        if result.error is not None and result.error.type == "ModuleNotFoundError":
            return Verdict.stop("a package is missing; ask the user to install it", source="test_guard")
        return None

    register_plugin(SimpleNamespace(weaver_after_execute=weaver_after_execute), name="test_guard")
    app, _ = start(code("import sklearn.not_a_module"), code("1"))
    round = app.session().send_message("fit a model")
    post = answer_post(round)
    assert len(fake_llm.requests) == 1
    assert post.message.startswith("A guard stopped the work: a package is missing; ask the user to install it")
    assert post.attachment(AttachmentType.execution_status).content == "error"
    assert post.attachment(AttachmentType.guard_verdict).extra["source"] == "test_guard"


def test_a_guard_stop_before_execution_keeps_the_code_from_running(start: Any, register_plugin: Any) -> None:
    @hookimpl
    def weaver_before_execute(code: str, ctx: Any) -> Verdict | None:
        return Verdict.stop("executions are paused", source="pause") if "sleep" in code else None

    register_plugin(SimpleNamespace(weaver_before_execute=weaver_before_execute), name="pause")
    app, events = start(code("import time\ntime.sleep(1)"))
    round = app.session().send_message("wait a second")
    post = answer_post(round)
    assert executions(events) == 0
    assert post.attachment(AttachmentType.execution_status).content == "stopped"
    assert post.attachment(AttachmentType.execution_result).content == "The code was NOT run: executions are paused"


def test_execution_feedback_goes_through_the_format_hook_with_guard_notes(
    start: Any, register_plugin: Any, fake_llm: FakeOpenAIServer
) -> None:
    @hookimpl
    def weaver_format_feedback(result: Any, code: str) -> str:
        return f"TRIMMED {result.outcome}: {result.error.type if result.error else result.value_repr}"

    @hookimpl
    def weaver_after_execute(code: str, result: Any, ctx: Any) -> Verdict | None:
        return Verdict.inject("remember: the frame is called df", source="hint")

    register_plugin(
        SimpleNamespace(weaver_format_feedback=weaver_format_feedback, weaver_after_execute=weaver_after_execute),
        name="trim",
    )
    app, _ = start(code("undefined_name"), code("40 + 2"))
    round = app.session().send_message("compute")
    retry_prompt = fake_llm.requests[1]["messages"][-1]["content"]
    assert (
        retry_prompt
        == "TRIMMED error: NameError\nNote: remember: the frame is called df\n\nFix the code and send all of it again."
    )
    assert answer_post(round).attachment(AttachmentType.execution_result).content.startswith("TRIMMED ok: 42")
