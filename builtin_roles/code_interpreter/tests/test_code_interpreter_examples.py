"""The CodeInterpreter's few-shot examples in TaskWeaver's ``code_generator_examples`` format:
loaded as its replies (TaskWeaver's way), checked against its reply schema, and in its prompt."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import weaver_code_interpreter
import weaver_code_verifier
from weaver.model import RoundState
from weaver.testing import FakeOpenAIServer
from weaver_code_interpreter.examples import (
    CURRENT_START,
    EXAMPLE_START,
    ExampleError,
    example_dirs,
    example_turns,
    load_examples,
)

ME = "CodeInterpreter"

# Shaped like TaskWeaver's project/examples/code_generator_examples/*.yaml: a text reply with
# no thought, a reply with two thoughts and {ROLE_NAME}, the verification/execution
# attachments TaskWeaver records, a python reply that failed.
TASKWEAVER_STYLE = """\
enabled: True
rounds:
  - user_query: hi
    state: finished
    post_list:
      - message: hi
        send_from: Planner
        send_to: CodeInterpreter
        attachment_list: []
      - message: Hello, {ROLE_NAME} writes and runs Python for you.
        send_from: CodeInterpreter
        send_to: Planner
        attachment_list:
          - type: reply_type
            content: text
          - type: reply_content
            content: Hello, {ROLE_NAME} writes and runs Python for you.
          - type: verification
            content: NONE
          - type: code_error
            content: No code is generated.
          - type: execution_status
            content: NONE
          - type: execution_result
            content: No code is executed.
  - user_query: the mean of 3, 4 and 8
    state: finished
    post_list:
      - message: compute the mean of 3, 4 and 8
        send_from: Planner
        send_to: CodeInterpreter
        attachment_list: []
      - message: The mean is 5.0
        send_from: CodeInterpreter
        send_to: Planner
        attachment_list:
          - type: thought
            content: "{ROLE_NAME} will use statistics.mean."
          - type: thought
            content: "{ROLE_NAME} ends with the value so it is shown."
          - type: reply_type
            content: python
          - type: reply_content
            content: |-
              import statistics
              f"{ROLE_NAME}: {statistics.mean([3, 4, 8])}"
          - type: verification
            content: CORRECT
          - type: code_error
            content: No error is detected.
          - type: execution_status
            content: SUCCESS
          - type: execution_result
            content: "'{ROLE_NAME}: 5'"
"""

WITH_PLUGINS = """\
plugin_only: True
enabled: True
plugins:
  - name: read_table
    enabled: true
    required: false
    description: read a table from a file
    parameters:
      - name: path
        type: str
        required: true
        description: where the table is
    returns:
      - name: df
        type: DataFrame
        description: the table
rounds:
  - user_query: read rows.csv
    state: finished
    post_list:
      - message: read rows.csv
        send_from: Planner
        send_to: CodeInterpreter
        attachment_list: []
      - message: read it
        send_from: CodeInterpreter
        send_to: Planner
        attachment_list:
          - type: thought
            content: The plugin reads it.
          - type: reply_type
            content: python
          - type: reply_content
            content: df = read_table("rows.csv")
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_example_dirs_are_taskweavers_in_the_project_and_its_examples_folder(tmp_path: Path) -> None:
    assert example_dirs(tmp_path, ["mine"]) == [
        tmp_path / "code_generator_examples",
        tmp_path / "examples" / "code_generator_examples",
        tmp_path / "codeinterpreter_examples",
        tmp_path / "examples" / "codeinterpreter_examples",
        tmp_path / "mine",
    ]


def test_a_taskweaver_example_becomes_the_turns_the_codeinterpreter_would_have_had(tmp_path: Path) -> None:
    write(tmp_path / "example-codeinterpreter-1.yaml", TASKWEAVER_STYLE)
    turns = example_turns(load_examples([tmp_path], ME), ME)
    assert turns == [
        ("user", EXAMPLE_START),
        ("user", "Planner: hi"),
        (
            "assistant",
            json.dumps(
                {
                    "thought": "",
                    "reply_type": "text",
                    "reply_content": "Hello, CodeInterpreter writes and runs Python for you.",
                }
            ),
        ),
        ("user", "Planner: compute the mean of 3, 4 and 8"),
        (
            "assistant",
            json.dumps(
                {
                    "thought": "CodeInterpreter will use statistics.mean.\nCodeInterpreter ends with the value so it is shown.",
                    "reply_type": "python",
                    "reply_content": 'import statistics\nf"{ROLE_NAME}: {statistics.mean([3, 4, 8])}"',
                }
            ),
        ),
        ("user", "Execution result:\n'{ROLE_NAME}: 5'"),
        ("user", CURRENT_START),
    ]


def test_the_plugins_an_example_lists_are_shown_in_its_opening(tmp_path: Path) -> None:
    write(tmp_path / "plugins.yaml", WITH_PLUGINS)
    (example,) = load_examples([tmp_path], ME)
    opening = example_turns([example], ME)[0][1]
    assert opening.startswith(
        EXAMPLE_START + "\nThe plugins of this example:\n```python\ndef read_table(path: str) -> DataFrame:"
    )


def test_no_examples_no_turns(tmp_path: Path) -> None:
    assert example_turns(load_examples([tmp_path / "missing"], ME), ME) == []


MEAN_REPLY = "          - type: reply_type\n            content: python\n"


@pytest.mark.parametrize(
    ("change", "where", "problem"),
    [
        (
            lambda t: t.replace(MEAN_REPLY, ""),
            "rounds[1].post_list[1]",
            'does not match its reply format: the reply is missing required field(s) "reply_type"',
        ),
        (
            lambda t: t.replace("content: python\n", "content: sql\n"),
            "rounds[1].post_list[1]",
            'field "reply_type" must be one of ["python", "text"], got "sql"',
        ),
        (
            lambda t: t.replace(
                "            content: Hello, {ROLE_NAME} writes and runs Python for you.\n", "            content: ''\n"
            ),
            "rounds[0].post_list[1]",
            "would be sent back for correction: reply_content is empty",
        ),
        (
            # TaskWeaver's examples before reply_type existed: the answer in a `text` attachment
            lambda t: t.replace("          - type: reply_type\n            content: text\n", "").replace(
                "type: reply_content", "type: text", 1
            ),
            "rounds[0].post_list[1]",
            'missing required field(s) "reply_type", "reply_content"',
        ),
        (
            lambda t: t.replace("send_to: CodeInterpreter\n", "send_to: User\n", 1),
            "rounds[0].post_list[0]",
            "a post from Planner to User: a code interpreter example holds only posts to and from CodeInterpreter",
        ),
    ],
    ids=["no reply_type", "unknown reply_type", "empty text reply", "old format", "post not to it"],
)
def test_an_example_the_codeinterpreter_would_refuse_is_an_error_naming_the_file(
    tmp_path: Path, change: Any, where: str, problem: str
) -> None:
    path = write(tmp_path / "bad.yaml", change(TASKWEAVER_STYLE))
    with pytest.raises(ExampleError) as caught:
        load_examples([tmp_path], ME)
    assert str(caught.value).startswith(f"code interpreter example {path}: {where}: ")
    assert problem in str(caught.value)


def test_a_disabled_example_is_not_read_further(tmp_path: Path) -> None:
    write(tmp_path / "draft.yaml", TASKWEAVER_STYLE.replace("enabled: True", "enabled: False").replace("python", "sql"))
    assert load_examples([tmp_path], ME) == []


@pytest.fixture
def start(make_app: Any, register_plugin: Any, fake_llm: FakeOpenAIServer, tmp_path: Path) -> Any:
    for extension in (weaver_code_interpreter, weaver_code_verifier):
        register_plugin(extension)

    def make(*replies: str, **config: Any) -> Any:
        fake_llm.add(*replies)
        return make_app(
            tmp_path,
            session={"roles": ["code_interpreter"]},
            llm=fake_llm.llm_config(),
            execution={"pool_size": 0},
            **config,
        )

    return make


TEXT_ANSWER = json.dumps({"thought": "No code needed.", "reply_type": "text", "reply_content": "A mean is an average."})


def test_project_examples_reach_the_prompt_as_turns_before_the_conversation(
    start: Any, fake_llm: FakeOpenAIServer, tmp_path: Path
) -> None:
    write(tmp_path / "examples" / "code_generator_examples" / "example-codeinterpreter-1.yaml", TASKWEAVER_STYLE)
    app = start(TEXT_ANSWER)
    assert app.session().send_message("what is a mean?").state is RoundState.finished

    messages = fake_llm.requests[0]["messages"]
    assert messages[0]["role"] == "system" and "# Example conversations" in messages[0]["content"]
    assert messages[1] == {"role": "user", "content": f"{EXAMPLE_START}\n\nPlanner: hi"}
    assert messages[2]["role"] == "assistant"
    assert (
        json.loads(messages[2]["content"])["reply_content"] == "Hello, CodeInterpreter writes and runs Python for you."
    )
    assert json.loads(messages[4]["content"])["reply_type"] == "python"
    assert messages[5]["content"].startswith(f"Execution result:\n'{{ROLE_NAME}}: 5'\n\n{CURRENT_START}\n\n")
    assert messages[-1]["role"] == "user" and messages[-1]["content"].endswith("what is a mean?")


def test_examples_can_be_switched_off_and_more_folders_added(
    start: Any, fake_llm: FakeOpenAIServer, tmp_path: Path
) -> None:
    write(tmp_path / "code_generator_examples" / "a.yaml", TASKWEAVER_STYLE)
    write(tmp_path / "mine" / "b.yaml", WITH_PLUGINS)
    app = start(TEXT_ANSWER, TEXT_ANSWER, code_interpreter={"example_dirs": ["mine"]})
    app.session().send_message("what is a mean?")
    text = json.dumps(fake_llm.requests[0]["messages"])
    assert "Planner: hi" in text and "read_table" in text

    off = start(TEXT_ANSWER, code_interpreter={"use_examples": False})
    off.session().send_message("what is a mean?")
    messages = fake_llm.requests[-1]["messages"]
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "# Example conversations" not in messages[0]["content"]


def test_an_invalid_example_fails_the_round_before_the_model_is_called(
    start: Any, fake_llm: FakeOpenAIServer, tmp_path: Path
) -> None:
    bad = TASKWEAVER_STYLE.replace("content: python\n", "content: sql\n")
    path = write(tmp_path / "code_generator_examples" / "bad.yaml", bad)
    round = start(TEXT_ANSWER).session().send_message("what is a mean?")
    assert round.state is RoundState.failed
    assert f"code interpreter example {path}: rounds[1].post_list[1]" in round.reason
    assert fake_llm.requests == []
