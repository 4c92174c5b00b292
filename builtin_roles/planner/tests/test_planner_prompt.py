"""The Planner's instructions, reply schema and reply checks, without a model."""

from __future__ import annotations

import json

import pytest

import weaver_planner
from weaver.llm.errors import ReplyFormatError
from weaver.llm.extract import extract_reply
from weaver.model import Attachment, AttachmentType, Post
from weaver.specs import RoleSpec
from weaver_planner.prompt import instructions, reply_json
from weaver_planner.reply import FIELDS, STOP_REASONS, InvalidPlannerReply, reply_schema, validate_reply

(PLANNER,) = weaver_planner.weaver_roles()
RECEPTA = RoleSpec(
    "recepta",
    "Recepta",
    object,
    "Acknowledges.",
    planner_hint="# Steps you solve yourself, with Recepta\nDo simple steps yourself, extracting values from text you were given.",
)
CODER = RoleSpec("code_interpreter", "CodeInterpreter", object, "Writes and runs Python code in a kernel.")
SEARCHER = RoleSpec("web_search", "WebSearcher", object, "Searches the web and quotes its sources.")


def test_instructions_introduce_every_worker_from_its_spec() -> None:
    text = instructions(PLANNER, [CODER, SEARCHER], ["User", "CodeInterpreter", "WebSearcher"])
    assert text.startswith("You are Planner.")
    assert "## CodeInterpreter\nWrites and runs Python code in a kernel." in text
    assert "## WebSearcher\nSearches the web and quotes its sources." in text
    assert "You talk to: User, CodeInterpreter, WebSearcher. Never send a message to yourself." in text
    assert "<sequentially depends on N>" in text and "<interactively depends on N>" in text
    for reason in STOP_REASONS:
        assert f"- {reason}: " in text
    assert text.index('"plan_reasoning"') < text.index('"init_plan"') < text.index('"message"')
    assert "Recepta" not in text


def test_a_worker_with_a_planner_hint_is_introduced_by_it() -> None:
    text = instructions(PLANNER, [CODER, RECEPTA], ["User", "CodeInterpreter", "Recepta"], extra="Answer in French.")
    assert "# Steps you solve yourself, with Recepta" in text
    assert "extracting values from text you were given" in text
    assert "## Recepta" not in text  # introduced by its own hint, not as a generic worker
    assert text.index("# How you plan") < text.index("# Steps you solve yourself")
    assert text.endswith("# More instructions\nAnswer in French.")
    alone = instructions(PLANNER, [], ["User"])
    assert "There are no workers in this session" in alone


def test_the_planner_does_not_know_recepta_by_name() -> None:
    unhinted = RoleSpec("recepta", "Recepta", object, "Acknowledges.")
    text = instructions(PLANNER, [CODER, unhinted], ["User", "CodeInterpreter", "Recepta"])
    assert "## Recepta\nAcknowledges." in text
    assert "Steps you solve yourself" not in text


def test_reply_schema_is_strict_mode_compatible() -> None:
    schema = reply_schema(["User", "CodeInterpreter"])
    assert list(schema["properties"]) == list(FIELDS)
    assert schema["required"] == list(FIELDS)
    assert schema["additionalProperties"] is False
    assert schema["properties"]["stop"]["enum"] == list(STOP_REASONS)
    assert "User, CodeInterpreter" in schema["properties"]["send_to"]["description"]


def good(**changes: str) -> dict[str, str]:
    data = {name: f"some {name}" for name in FIELDS}
    data.update({"stop": "InProcess", "send_to": "CodeInterpreter", **changes})
    return data


def test_the_llm_layer_checks_the_structure_against_the_schema() -> None:
    schema = reply_schema(["User", "CodeInterpreter"])
    assert extract_reply(json.dumps({"response": good()}), schema) == good()
    with pytest.raises(ReplyFormatError) as caught:
        extract_reply('{"plan": "1. x", "stop": "Done"}', schema)
    assert 'missing required field(s) "plan_reasoning"' in caught.value.feedback
    assert 'field "stop" must be one of' in caught.value.feedback


@pytest.mark.parametrize(
    ("send_to", "message", "expected"),
    [
        ("Planner", "hi", "'send_to' is 'Planner', which is you: you cannot send a message to yourself."),
        ("planner", "hi", "which is you"),
        (
            "Coder",
            "hi",
            "'send_to' is 'Coder', which is not a role in this session; it must be one of: User, CodeInterpreter.",
        ),
        ("User", "  ", "'message' is empty"),
    ],
)
def test_invalid_replies_explain_themselves(send_to: str, message: str, expected: str) -> None:
    with pytest.raises(InvalidPlannerReply) as caught:
        validate_reply(good(send_to=send_to, message=message), me="Planner", recipients=["User", "CodeInterpreter"])
    assert expected in caught.value.feedback
    assert caught.value.feedback.endswith("Reply again with the whole JSON object, corrected.")


def test_recipient_letter_case_is_forgiven() -> None:
    valid = validate_reply(good(send_to=" codeinterpreter "), me="Planner", recipients=["User", "CodeInterpreter"])
    assert valid.send_to == "CodeInterpreter"


def test_a_planner_post_renders_as_its_reply() -> None:
    post = Post(
        send_from="Planner",
        send_to="CodeInterpreter",
        message="Load it",
        attachments=(
            Attachment(AttachmentType.invalid_response, "garbage"),
            Attachment(AttachmentType.plan_reasoning, "because"),
            Attachment(AttachmentType.plan, "1. Load it"),
        ),
    )
    assert reply_json(post) == (
        '{"plan_reasoning": "because", "plan": "1. Load it", "send_to": "CodeInterpreter", "message": "Load it"}'
    )
