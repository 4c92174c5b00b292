"""Example conversations in TaskWeaver's YAML format: loading, filtering, and the shipped ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from weaver.model import AttachmentType
from weaver_planner.examples import (
    BUILTIN_DIR,
    ExampleError,
    checked,
    example_dirs,
    load_example,
    load_examples,
    usable,
)
from weaver_planner.plan import build_plan
from weaver_planner.prompt import conversation_turns

# Shaped exactly like TaskWeaver's project/examples/planner_examples/*.yaml: `enabled`,
# rounds -> post_list -> attachment_list (null when empty), an attachment type Weaver has no
# use for.
TASKWEAVER_STYLE = """\
enabled: True
rounds:
  - user_query: summarize the header of report.txt
    state: created
    post_list:
      - message: summarize the header of report.txt
        send_from: User
        send_to: Planner
        attachment_list:
      - message: Read the first 5 lines of report.txt and return them
        send_from: Planner
        send_to: CodeInterpreter
        attachment_list:
        - type: plan_reasoning
          content: The header is in the file, so it has to be read first.
        - type: init_plan
          content: |-
            1. read the first lines of report.txt
            2. summarize them <interactively depends on 1>
        - type: plan
          content: |-
            1. read the first lines of report.txt
            2. summarize them
        - type: current_plan_step
          content: 1. read the first lines of report.txt
        - type: stop
          content: InProcess
      - message: "Quarterly report, Q3, prepared by Finance"
        send_from: CodeInterpreter
        send_to: Planner
        attachment_list:
      - message: The header says it is the Q3 quarterly report prepared by Finance.
        send_from: Planner
        send_to: User
        attachment_list:
          - type: plan_reasoning
            content: The lines are back; they are the header.
          - type: init_plan
            content: |-
              1. read the first lines of report.txt
              2. summarize them <interactively depends on 1>
          - type: plan
            content: |-
              1. read the first lines of report.txt
              2. summarize them
          - type: current_plan_step
            content: 2. summarize them
          - type: stop
            content: Completed
          - type: review
            content: |-
              The user query is successfully answered
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_taskweaver_format_loads_unchanged(tmp_path: Path) -> None:
    example = load_example(write(tmp_path, "example-planner.yaml", TASKWEAVER_STYLE))
    assert example.enabled
    assert example.roles == {"Planner", "CodeInterpreter"}
    (round,) = example.rounds
    assert round.user_query == "summarize the header of report.txt"
    assert [(p.send_from, p.send_to) for p in round.posts] == [
        ("User", "Planner"),
        ("Planner", "CodeInterpreter"),
        ("CodeInterpreter", "Planner"),
        ("Planner", "User"),
    ]
    final = round.posts[-1]
    # `review` has no meaning in Weaver and is skipped; the reply fields are kept
    assert [a.type for a in final.attachments] == [
        AttachmentType.plan_reasoning,
        AttachmentType.init_plan,
        AttachmentType.plan,
        AttachmentType.current_plan_step,
        AttachmentType.stop,
    ]
    assert final.attachment(AttachmentType.current_plan_step).content == "2. summarize them"
    init = final.attachment(AttachmentType.init_plan).content
    assert build_plan(init, final.attachment(AttachmentType.plan).content, "2. summarize them", "Completed").notes == ()


def test_examples_are_used_only_when_their_roles_are_enabled(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", TASKWEAVER_STYLE)
    write(tmp_path, "b.yaml", TASKWEAVER_STYLE.replace("enabled: True", "enabled: False"))
    write(tmp_path, "notes.txt", "not an example")
    examples = load_examples([tmp_path, tmp_path / "missing"])
    assert [Path(e.path).name for e in examples] == ["a.yaml", "b.yaml"]
    assert [Path(e.path).name for e in usable(examples, {"Planner", "CodeInterpreter", "Recepta"})] == ["a.yaml"]
    assert usable(examples, {"Planner", "Recepta"}) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rounds: [", "not valid YAML"),
        ("enabled: true\n", "expected a mapping with a 'rounds' list"),
        ("rounds:\n  - post_list: []\n", "rounds[0]: 'user_query' must be text"),
        (
            "rounds:\n  - user_query: hi\n    post_list:\n      - message: hi\n        send_to: Planner\n",
            "rounds[0].post_list[0]: 'send_from' must be text",
        ),
        ('enabled: "false"\nrounds: []\n', "'enabled' must be true or false, got 'false'"),
        (
            (
                "rounds:\n  - user_query: hi\n    post_list:\n      - {message: hi, send_from: User, send_to: Planner,"
                " attachment_list: [{content: x}]}\n"
            ),
            "rounds[0].post_list[0].attachment_list[0]: 'type' must be text",
        ),
    ],
)
def test_malformed_example_names_file_and_place(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, "bad.yaml", text)
    with pytest.raises(ExampleError) as caught:
        load_example(path)
    assert str(path) in str(caught.value)
    assert message in str(caught.value)


def test_example_dirs_order(tmp_path: Path) -> None:
    assert example_dirs(tmp_path, ["mine", "/abs/other"], builtin=True) == [
        BUILTIN_DIR,
        tmp_path / "planner_examples",
        tmp_path / "examples" / "planner_examples",  # where TaskWeaver's sample project keeps them
        tmp_path / "mine",
        Path("/abs/other"),
    ]
    assert example_dirs(tmp_path, [], builtin=False) == [
        tmp_path / "planner_examples",
        tmp_path / "examples" / "planner_examples",
    ]


def test_a_valid_example_passes_the_checks(tmp_path: Path) -> None:
    examples = load_examples([write(tmp_path, "a.yaml", TASKWEAVER_STYLE).parent])
    assert checked(examples, "Planner") == examples


@pytest.mark.parametrize(
    ("change", "where", "problem"),
    [
        (
            lambda t: t.replace("        - type: stop\n          content: InProcess\n", ""),
            "rounds[0].post_list[1]",
            'does not match its reply format: the reply is missing required field(s) "stop"',
        ),
        (
            lambda t: t.replace("content: Completed", "content: Done"),
            "rounds[0].post_list[3]",
            'field "stop" must be one of',
        ),
        (
            lambda t: t.replace("send_to: CodeInterpreter\n", "send_to: Planner\n", 1),
            "rounds[0].post_list[1]",
            "would be sent back for correction: 'send_to' is 'Planner', which is you",
        ),
        (
            lambda t: t.replace(
                "      - message: The header says it is the Q3 quarterly report prepared by Finance.\n",
                "      - message: ''\n",
            ),
            "rounds[0].post_list[3]",
            "'message' is empty",
        ),
    ],
    ids=["missing field", "unknown stop reason", "sent to itself", "no message"],
)
def test_an_example_reply_the_planner_would_refuse_is_an_error_naming_the_file(
    tmp_path: Path, change: Any, where: str, problem: str
) -> None:
    path = write(tmp_path, "bad.yaml", change(TASKWEAVER_STYLE))
    with pytest.raises(ExampleError) as caught:
        checked(load_examples([tmp_path]), "Planner")
    assert str(caught.value).startswith(f"planner example {path}: {where}: this reply of Planner")
    assert problem in str(caught.value)


def test_only_the_planners_own_posts_are_checked_and_disabled_files_not_at_all(tmp_path: Path) -> None:
    # the CodeInterpreter's post is not a Planner reply; the disabled file is never shown
    write(tmp_path, "a.yaml", TASKWEAVER_STYLE)
    write(
        tmp_path, "b.yaml", TASKWEAVER_STYLE.replace("enabled: True", "enabled: False").replace("InProcess", "Pending")
    )
    assert [Path(e.path).name for e in checked(load_examples([tmp_path]), "Planner")] == ["a.yaml", "b.yaml"]


def test_shipped_examples_are_valid_plans() -> None:
    examples = checked(load_examples([BUILTIN_DIR]), "Planner")
    assert {frozenset(e.roles) for e in examples} == {
        frozenset({"Planner"}),
        frozenset({"Planner", "CodeInterpreter"}),
        frozenset({"Planner", "Recepta"}),
    }
    for example in examples:
        for post in (p for r in example.rounds for p in r.posts if p.send_from == "Planner"):
            texts = {t: post.attachment(t).content for t in ("init_plan", "plan", "current_plan_step", "stop")}
            plan = build_plan(texts["init_plan"], texts["plan"], texts["current_plan_step"], texts["stop"])
            assert plan.notes == (), (example.path, plan.notes)
            assert plan.current is not None
            assert post.attachment("plan_reasoning").content


def test_example_as_chat_turns(tmp_path: Path) -> None:
    example = load_example(write(tmp_path, "a.yaml", TASKWEAVER_STYLE))
    turns = conversation_turns(example.rounds, "Planner")
    assert [role for role, _ in turns] == ["user", "user", "assistant", "user", "assistant"]
    assert turns[1] == ("user", "User: summarize the header of report.txt")
    assert turns[3] == ("user", "CodeInterpreter: Quarterly report, Q3, prepared by Finance")
    assert '"send_to": "CodeInterpreter"' in turns[2][1]
    assert '"current_plan_step": "1. read the first lines of report.txt"' in turns[2][1]
    assert "review" not in turns[4][1]
