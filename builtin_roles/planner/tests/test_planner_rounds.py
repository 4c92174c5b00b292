"""The Planner in real rounds: the real engine, the real ``openai`` client over HTTP to the
fake server, real reply extraction and plan parsing. Only the model's words are scripted."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest

import weaver_planner
from weaver.events import Event, EventType
from weaver.hookspecs import hookimpl
from weaver.memory import CompressedMemory
from weaver.model import USER, AttachmentType, Post, Round, RoundState
from weaver.roles import RoleContext
from weaver.specs import RoleSpec
from weaver.testing import FakeOpenAIServer


def reply(current: str, send_to: str, message: str, *, stop: str = "InProcess", **fields: str) -> dict[str, str]:
    """A Planner reply for the three-step plan below, as the model would write it."""
    return {
        "plan_reasoning": fields.get("plan_reasoning", f"Working on {current}."),
        "init_plan": fields.get("init_plan", INIT_PLAN),
        "plan": fields.get("plan", PLAN),
        "current_plan_step": current,
        "stop": stop,
        "send_to": send_to,
        "message": message,
    }


INIT_PLAN = (
    "1. Load sales.csv\n"
    "2. Compute the total per region <sequentially depends on 1>\n"
    "3. Find the region with the largest total <interactively depends on 2>\n"
    "4. Report the region to the user <interactively depends on 3>"
)
PLAN = "1. Load sales.csv and compute the total per region\n2. Find the region with the largest total\n3. Report the region"


class Worker:
    """A worker for tests: answers the Planner and records the plan it was shown."""

    seen: ClassVar[list[Post]] = []

    async def reply(self, ctx: RoleContext) -> Post:
        Worker.seen.append(ctx.post)
        post = ctx.new_post(send_to=ctx.post.send_from)
        post.message_delta(f"done: {ctx.post.message}")
        return post.build()


@hookimpl
def _test_roles() -> list[RoleSpec]:
    return [
        RoleSpec(name="worker", alias="Worker", factory=Worker, description="Does data work and reports back."),
        # stand-ins with the built-in roles' names, so the shipped examples that need them apply
        RoleSpec(name="code_interpreter", alias="CodeInterpreter", factory=Worker, description="Runs Python code."),
        RoleSpec(name="recepta", alias="Recepta", factory=Worker, description="Acknowledges."),
    ]


test_roles = SimpleNamespace(weaver_roles=_test_roles)


@pytest.fixture
def start(make_app: Any, register_plugin: Any, fake_llm: FakeOpenAIServer, tmp_path: Path) -> Any:
    """``start(roles, *replies, **config)``: an App on the fake server and its event list."""
    Worker.seen.clear()
    for extension in (weaver_planner, test_roles):
        register_plugin(extension)

    def make(
        roles: list[str], *replies: Any, project_dir: Path | None = None, **config: Any
    ) -> tuple[Any, list[Event]]:
        fake_llm.add(*(json.dumps(r) if isinstance(r, dict) else r for r in replies))
        config.setdefault("llm", fake_llm.llm_config())
        app = make_app(project_dir or tmp_path, session={"roles": roles}, **config)
        events: list[Event] = []
        app.subscribe(events.append)
        return app, events

    return make


def messages_of(request: dict[str, Any]) -> list[dict[str, str]]:
    return request["messages"]


def plan_events(events: list[Event]) -> list[dict[str, Any]]:
    """The structured plans the Planner's posts reported, in order."""
    return [
        e.data["attachment"]["extra"]
        for e in events
        if e.type is EventType.attachment and e.data["attachment"]["type"] == "plan"
    ]


# --------------------------------------------------------------------------------------
# A plan runs to completion
# --------------------------------------------------------------------------------------


def test_three_step_plan_runs_to_completion(start: Any, fake_llm: FakeOpenAIServer) -> None:
    app, events = start(
        ["planner", "worker"],
        reply("1. Load sales.csv and compute the total per region", "Worker", "Load sales.csv; total per region."),
        # the TaskWeaver wrapper is accepted as well
        {"response": reply("2. Find the region with the largest total", "Worker", "Which region is largest?")},
        reply("3. Report the region", USER, "North has the largest total.", stop="Completed"),
    )
    round = app.session().send_message("which region sells most?")

    assert round.state is RoundState.finished, round.reason
    assert round.answer == "North has the largest total."
    assert round.reason == "Completed"
    assert [(p.send_from, p.send_to) for p in round.posts] == [
        (USER, "Planner"),
        ("Planner", "Worker"),
        ("Worker", "Planner"),
        ("Planner", "Worker"),
        ("Worker", "Planner"),
        ("Planner", USER),
    ]
    # the events show the plan and the current step advancing
    plans = plan_events(events)
    assert [p["current"] for p in plans] == [1, 2, 3]
    assert [p["turn"] for p in plans] == [1, 2, 3]
    assert [[s["status"] for s in p["steps"]] for p in plans] == [
        ["in_progress", "pending", "pending"],
        ["done", "in_progress", "pending"],
        ["done", "done", "done"],
    ]
    init = plans[0]["init_steps"]
    assert init[1]["dependencies"] == [{"kind": "sequential", "on": [1]}]
    assert init[3]["dependencies"] == [{"kind": "interactive", "on": [3]}]
    assert plans[0]["notes"] == []
    streamed = {e.data["type"] for e in events if e.type is EventType.attachment_delta}
    assert {"plan_reasoning", "init_plan", "plan", "current_plan_step", "stop"} <= streamed
    assert "".join(e.data["delta"] for e in events if e.type is EventType.message_delta).endswith(
        "North has the largest total."
    )
    # the worker reads the current plan from the post it was sent
    assert [p.attachment(AttachmentType.plan).extra["current"] for p in Worker.seen] == [1, 2]
    final = round.posts[-1]
    assert final.attachment(AttachmentType.stop).content == "Completed"
    assert final.attachment(AttachmentType.current_plan_step).content == "3. Report the region"
    # every call went to the model with the conversation so far
    assert len(fake_llm.requests) == 3
    last_prompt = messages_of(fake_llm.requests[2])
    assert last_prompt[0]["role"] == "system"
    assert last_prompt[-1] == {"role": "user", "content": "Worker: done: Which region is largest?"}
    assert any(m["role"] == "assistant" and '"current_plan_step": "2. Find' in m["content"] for m in last_prompt)
    assert round.usage.llm_calls == 3


def test_earlier_rounds_reach_the_prompt_through_the_memory_compressor(
    start: Any, fake_llm: FakeOpenAIServer, register_plugin: Any
) -> None:
    seen: list[tuple[int, int, str]] = []

    @hookimpl
    def weaver_compress_memory(rounds: Any, budget: Any, role: str) -> CompressedMemory:
        seen.append((len(rounds), budget.max_tokens, role))
        return CompressedMemory(summary="The user asked about regions before.", rounds=tuple(rounds))

    register_plugin(SimpleNamespace(weaver_compress_memory=weaver_compress_memory))
    app, _ = start(
        ["planner", "worker"],
        reply("3. Report the region", USER, "North.", stop="Completed"),
        reply("3. Report the region", USER, "Still North.", stop="Completed"),
        planner={"history_max_tokens": 1234},
    )
    session = app.session()
    session.send_message("which region sells most?")
    session.send_message("are you sure?")
    assert seen == [(0, 1234, "Planner"), (1, 1234, "Planner")]
    second = messages_of(fake_llm.requests[1])
    text = "\n".join(m["content"] for m in second)
    assert "The user asked about regions before." in text
    assert (
        text.index("User: which region sells most?")
        < text.index('"message": "North."')
        < text.index("User: are you sure?")
    )


# --------------------------------------------------------------------------------------
# Self-correction
# --------------------------------------------------------------------------------------


def test_malformed_replies_self_correct(start: Any, fake_llm: FakeOpenAIServer) -> None:
    good_first = reply("1. Load sales.csv and compute the total per region", "Worker", "Load it.")
    no_send_to = {
        k: v for k, v in reply("2. Find the region with the largest total", "Worker", "x").items() if k != "send_to"
    }
    app, _ = start(
        ["planner", "worker"],
        "{'plan': 'single quotes are not JSON'}",
        "Here is my reply:\n```json\n" + json.dumps(good_first, indent=2) + "\n```",  # fenced, after prose
        json.dumps(no_send_to),
        reply("2. Find the region with the largest total", "Coder", "Find the largest."),
        reply("2. Find the region with the largest total", "Planner", "Find the largest."),
        "Sure! " + json.dumps(reply("3. Report the region", "user", "North.", stop="Completed")) + " Hope this helps.",
    )
    round = app.session().send_message("which region sells most?")

    assert round.state is RoundState.finished, round.reason
    assert round.answer == "North."
    # four corrections in the round, but at most three in a row: the count resets after a valid reply
    requests = fake_llm.requests
    assert len(requests) == 6
    corrections = [messages_of(r)[-1]["content"] for r in (requests[1], requests[3], requests[4], requests[5])]
    assert "invalid JSON" in corrections[0] and "(correction 1 of at most 3)" in corrections[0]
    assert 'missing required field(s) "send_to"' in corrections[1] and "(correction 1 of at most 3)" in corrections[1]
    assert "'Coder', which is not a role in this session; it must be one of: User, Worker." in corrections[2]
    assert "which is you: you cannot send a message to yourself" in corrections[3]
    assert "(correction 3 of at most 3)" in corrections[3]
    # the rejected reply is shown back to the model before the correction request
    assert messages_of(requests[5])[-2] == {
        "role": "assistant",
        "content": json.dumps(reply("2. Find the region with the largest total", "Planner", "Find the largest.")),
    }
    first, last = round.posts[1], round.posts[-1]
    assert [a.content for a in first.attachments if a.type is AttachmentType.invalid_response] == [
        "{'plan': 'single quotes are not JSON'}"
    ]
    assert len([a for a in last.attachments if a.type is AttachmentType.invalid_response]) == 3
    assert len([a for a in last.attachments if a.type is AttachmentType.revise_message]) == 3
    assert last.send_to == USER  # "user" is accepted in any letter case
    assert first.message == "Load it."


def test_exhausted_self_corrections_fail_the_round(start: Any, fake_llm: FakeOpenAIServer) -> None:
    bad = reply("1. Load sales.csv and compute the total per region", "Nobody", "Load it.")
    app, events = start(["planner", "worker"], bad, bad, "no JSON at all, sorry", planner={"max_self_corrections": 2})
    round = app.session().send_message("which region sells most?")

    assert round.state is RoundState.failed
    assert round.answer is None
    assert round.reason.startswith(
        "the Planner's reply was still invalid after 2 self-corrections ([planner] max_self_corrections)"
    )
    assert "no JSON object was found in the reply" in round.reason
    assert round.reason.endswith("Last raw reply: no JSON at all, sorry")
    assert len(fake_llm.requests) == 3
    assert [p.send_from for p in round.posts] == [USER]
    kept = [
        e.data["attachment"]["content"]
        for e in events
        if e.type is EventType.attachment and e.data["attachment"]["type"] == "invalid_response"
    ]
    assert kept == [json.dumps(bad), json.dumps(bad)]


# --------------------------------------------------------------------------------------
# The step limit
# --------------------------------------------------------------------------------------


def test_max_steps_stops_the_round_with_the_progress(start: Any, fake_llm: FakeOpenAIServer) -> None:
    app, _ = start(
        ["planner", "worker"],
        reply("1. Load sales.csv and compute the total per region", "Worker", "Load it."),
        reply("2. Find the region with the largest total", "Worker", "Find the largest."),
        planner={"max_steps": 2},
    )
    round = app.session().send_message("which region sells most?")

    assert round.state is RoundState.failed
    assert len(fake_llm.requests) == 2  # no third call: the limit is checked before calling
    assert "used its 2 turns for this round ([planner] max_steps)" in round.reason
    assert (
        "Progress: 1 of 3 plan steps done (1); step 2 (Find the region with the largest total) in progress"
        in round.reason
    )
    assert "Last message to the Planner, from Worker: done: Find the largest." in round.reason
    assert len(round.posts) == 5  # everything achieved so far is kept
    assert "This is your last turn in this round" not in messages_of(fake_llm.requests[0])[-1]["content"]
    assert (
        "This is your last turn in this round ([planner] max_steps = 2)"
        in messages_of(fake_llm.requests[1])[-1]["content"]
    )


# --------------------------------------------------------------------------------------
# Examples in the prompt
# --------------------------------------------------------------------------------------

PROJECT_EXAMPLE = """\
enabled: True
rounds:
  - user_query: tell me the size of archive.zip
    state: created
    post_list:
      - message: tell me the size of archive.zip
        send_from: User
        send_to: Planner
        attachment_list:
      - message: Report the size in bytes of archive.zip
        send_from: Planner
        send_to: Worker
        attachment_list:
        - type: plan_reasoning
          content: The size needs a look at the file, which the Worker can take.
        - type: init_plan
          content: |-
            1. get the size of archive.zip
            2. report it <interactively depends on 1>
        - type: plan
          content: |-
            1. get the size of archive.zip
            2. report it
        - type: current_plan_step
          content: 1. get the size of archive.zip
        - type: stop
          content: InProcess
      - message: archive.zip has 2048 bytes
        send_from: Worker
        send_to: Planner
        attachment_list:
      - message: archive.zip is 2048 bytes (2 KiB).
        send_from: Planner
        send_to: User
        attachment_list:
          - type: plan_reasoning
            content: The Worker gave the size; the user's question is answered.
          - type: init_plan
            content: |-
              1. get the size of archive.zip
              2. report it <interactively depends on 1>
          - type: plan
            content: |-
              1. get the size of archive.zip
              2. report it
          - type: current_plan_step
            content: 2. report it
          - type: stop
            content: Completed
          - type: review
            content: |-
              The user query is successfully answered
"""


def test_project_example_in_taskweaver_format_shows_up_in_the_prompt(
    start: Any, fake_llm: FakeOpenAIServer, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    (project / "planner_examples").mkdir(parents=True)
    (project / "planner_examples" / "example-planner-size.yaml").write_text(PROJECT_EXAMPLE, encoding="utf-8")
    app, _ = start(
        ["planner", "worker"],
        reply("3. Report the region", USER, "North.", stop="Completed"),
        project_dir=project,
    )
    assert app.session().send_message("which region sells most?").state is RoundState.finished

    messages = messages_of(fake_llm.requests[0])
    contents = [m["content"] for m in messages]
    example_start = next(i for i, c in enumerate(contents) if "User: tell me the size of archive.zip" in c)
    assert contents[example_start].startswith("A new conversation starts here.")
    example_reply = json.loads(contents[example_start + 1])
    assert messages[example_start + 1]["role"] == "assistant"
    assert example_reply == {
        "plan_reasoning": "The size needs a look at the file, which the Worker can take.",
        "init_plan": "1. get the size of archive.zip\n2. report it <interactively depends on 1>",
        "plan": "1. get the size of archive.zip\n2. report it",
        "current_plan_step": "1. get the size of archive.zip",
        "stop": "InProcess",
        "send_to": "Worker",
        "message": "Report the size in bytes of archive.zip",
    }
    assert contents[example_start + 2] == "Worker: archive.zip has 2048 bytes"
    # the example comes before the real conversation, which is last
    assert contents[-1] == "A new conversation starts here.\n\nUser: which region sells most?"
    # the shipped examples need roles this session lacks, except the clarification one
    text = "\n".join(contents)
    assert "clean up the data" in text
    assert "orders.csv" not in text and "Recepta" not in text


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        # TaskWeaver's planner examples before plan_reasoning and stop existed
        (lambda text: text.replace("        - type: stop\n          content: InProcess\n", ""), 'field(s) "stop"'),
        (lambda text: text.replace("content: InProcess", "content: Working"), '"stop" must be one of'),
        (lambda text: text.replace("send_to: Worker", "send_to: Planner"), "which is you"),
    ],
    ids=["no stop", "unknown stop", "to itself"],
)
def test_an_example_the_planner_would_refuse_fails_the_round_naming_the_file(
    start: Any, fake_llm: FakeOpenAIServer, tmp_path: Path, change: Any, problem: str
) -> None:
    project = tmp_path / "project"
    folder = project / "examples" / "planner_examples"  # TaskWeaver's sample layout
    folder.mkdir(parents=True)
    path = folder / "example-planner-size.yaml"
    path.write_text(change(PROJECT_EXAMPLE), encoding="utf-8")
    app, _ = start(
        ["planner", "worker"], reply("3. Report the region", USER, "North.", stop="Completed"), project_dir=project
    )
    round = app.session().send_message("which region sells most?")

    assert round.state is RoundState.failed
    assert f"planner example {path}: rounds[0].post_list[1]: this reply of Planner" in round.reason
    assert problem in round.reason
    assert fake_llm.requests == []  # no prompt was built with the invalid turn


def test_a_disabled_example_is_neither_checked_nor_used(start: Any, fake_llm: FakeOpenAIServer, tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "planner_examples").mkdir(parents=True)
    draft = PROJECT_EXAMPLE.replace("enabled: True", "enabled: False").replace("content: InProcess", "content: Pending")
    (project / "planner_examples" / "draft.yaml").write_text(draft, encoding="utf-8")
    app, _ = start(
        ["planner", "worker"], reply("3. Report the region", USER, "North.", stop="Completed"), project_dir=project
    )
    assert app.session().send_message("which region sells most?").state is RoundState.finished
    assert "archive.zip" not in json.dumps(messages_of(fake_llm.requests[0]))


def test_examples_can_be_switched_off(start: Any, fake_llm: FakeOpenAIServer) -> None:
    app, _ = start(
        ["planner", "code_interpreter", "recepta"],
        reply("3. Report the region", USER, "North.", stop="Completed"),
        planner={"use_examples": False},
    )
    app.session().send_message("which region sells most?")
    messages = messages_of(fake_llm.requests[0])
    assert [m["role"] for m in messages] == ["system", "user"]


def test_shipped_examples_follow_the_enabled_roles(start: Any, fake_llm: FakeOpenAIServer) -> None:
    app, _ = start(
        ["planner", "code_interpreter", "recepta"],
        reply("3. Report the region", USER, "North.", stop="Completed"),
    )
    app.session().send_message("which region sells most?")
    text = "\n".join(m["content"] for m in messages_of(fake_llm.requests[0]))
    for phrase in ("clean up the data", "orders.csv", "Invoice INV-2291", "Recepta: Got it. Please go ahead!"):
        assert phrase in text


def test_planner_uses_its_configured_model_alias(start: Any, fake_llm: FakeOpenAIServer) -> None:
    app, _ = start(
        ["planner", "worker"],
        reply("3. Report the region", USER, "North.", stop="Completed"),
        llm={**fake_llm.llm_config(), "models": {"smart": {"model": "smart-model"}}},
        planner={"llm": "smart"},
    )
    assert app.session().send_message("which region sells most?").state is RoundState.finished
    assert fake_llm.requests[0]["model"] == "smart-model"
    assert fake_llm.requests[0]["response_format"]["json_schema"]["name"] == "planner_reply"


def test_round_reason_is_the_stop_reason(start: Any) -> None:
    app, _ = start(
        ["planner", "worker"],
        reply(
            "1. Load sales.csv and compute the total per region", USER, "Which file do you mean?", stop="Clarification"
        ),
    )
    round: Round = app.session().send_message("total sales please")
    assert (round.state, round.reason, round.answer) == (
        RoundState.finished,
        "Clarification",
        "Which file do you mean?",
    )
