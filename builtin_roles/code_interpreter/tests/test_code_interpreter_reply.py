"""The CodeInterpreter's reply contract against what real models send: TaskWeaver's echoed
fields, unknown fields, duplicate keys, oversize replies and lone surrogates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import weaver_code_interpreter
import weaver_code_verifier
from weaver.llm import ReplyFormatError
from weaver.llm.extract import extract_reply
from weaver.llm.schema import IGNORED, wire_schema
from weaver.model import AttachmentType, RoundState
from weaver.testing import FakeOpenAIServer
from weaver_code_interpreter.reply import ECHOED_FIELDS, FIELDS, REPLY_SCHEMA, validate_reply

# What TaskWeaver's own CodeInterpreter examples look like once a model has seen them.
TASKWEAVER_REPLY = {
    "response": {
        "thought": "Sum the column.",
        "reply_type": "python",
        "reply_content": "sum([1, 2, 3])",
        "verification": "NONE",
        "code_error": "",
        "execution_status": "SUCCESS",
        "execution_result": "6",
        "send_to": "Planner",
        "message": "The sum is 6.",
    }
}


def test_taskweavers_echoed_fields_are_accepted_and_dropped() -> None:
    data = extract_reply(json.dumps(TASKWEAVER_REPLY), REPLY_SCHEMA)
    assert set(data) == set(FIELDS)
    reply = validate_reply(data)
    assert (reply.reply_type, reply.reply_content) == ("python", "sum([1, 2, 3])")


@pytest.mark.parametrize("field", ["code", "explanation", "reply_contents", "stop"])
def test_other_unknown_fields_are_refused_naming_them_and_the_known_ones(field: str) -> None:
    reply = {"thought": "t", "reply_type": "python", "reply_content": "1", field: "x"}
    with pytest.raises(ReplyFormatError) as info:
        extract_reply(json.dumps(reply), REPLY_SCHEMA)
    assert f'unexpected field(s) "{field}"' in info.value.feedback
    assert 'allowed: "thought", "reply_type", "reply_content"' in info.value.feedback


def test_the_wire_schema_stays_strict_mode_compatible() -> None:
    wire = wire_schema(REPLY_SCHEMA)
    assert IGNORED not in wire and set(wire) == {"type", "properties", "required", "additionalProperties"}
    assert wire["required"] == list(wire["properties"]) and wire["additionalProperties"] is False
    assert set(REPLY_SCHEMA[IGNORED]) == set(ECHOED_FIELDS)


def test_a_duplicated_field_is_refused_rather_than_resolved_last_wins() -> None:
    text = '{"thought": "t", "reply_type": "python", "reply_content": "import os", "reply_type": "text"}'
    with pytest.raises(ReplyFormatError, match='the key "reply_type" appears more than once'):
        extract_reply(text, REPLY_SCHEMA)


@pytest.mark.slow
def test_broken_replies_self_correct_and_echoes_run(
    make_app: Any, register_plugin: Any, fake_llm: FakeOpenAIServer, tmp_path: Path
) -> None:
    for extension in (weaver_code_interpreter, weaver_code_verifier):
        register_plugin(extension)
    fake_llm.add(
        '{"thought": "t", "reply_type": "python", "reply_content": "6 * 7", "reply_type": "text"}',
        json.dumps({"thought": "t", "reply_type": "text", "reply_content": "x" * 3000}),
        '{"thought": "t", "reply_type": "text", "reply_content": "done \\ud83d"}',
        json.dumps(TASKWEAVER_REPLY),
    )
    app = make_app(
        tmp_path,
        session={"roles": ["code_interpreter"]},
        llm=fake_llm.llm_config(max_reply_chars=2000),
        execution={"pool_size": 0},
    )
    round = app.session().send_message("sum of 1, 2 and 3")
    assert round.state is RoundState.finished, round.reason
    post = round.posts[-1]
    corrections = [a.content for a in post.attachments if a.type is AttachmentType.revise_message]
    assert len(corrections) == 3
    assert 'the key "reply_type" appears more than once' in corrections[0]
    assert "more than the 2,000 allowed ([llm] max_reply_chars)" in corrections[1]
    assert 'the field "reply_content" contains a lone surrogate' in corrections[2]
    assert post.attachment(AttachmentType.reply_content).content == "sum([1, 2, 3])"
    assert "6" in post.attachment(AttachmentType.execution_result).content
    assert post.attachment(AttachmentType.execution_status).content == "ok"
    sent = fake_llm.requests[0]["response_format"]["json_schema"]["schema"]
    assert IGNORED not in sent and sent["additionalProperties"] is False
    # Each correction goes back to the model, the oversize reply only by its head.
    echoed = [m["content"] for m in fake_llm.requests[-1]["messages"] if m["role"] == "assistant"]
    assert len(echoed) == 3 and len(echoed[1]) < 2100 and echoed[1].endswith("[... 1,059 more characters not kept]")
