"""Extraction of the JSON reply from what a model wrote: one table, each case with its outcome."""

from __future__ import annotations

import pytest

from weaver.llm import ReplyFormatError
from weaver.llm.extract import extract_json, extract_reply

OBJ = {"thought": "use pandas", "reply_type": "python", "reply_content": "print(1)"}
JSON = '{"thought": "use pandas", "reply_type": "python", "reply_content": "print(1)"}'
WRAPPED = '{"response": ' + JSON + "}"

# (case, reply text, expected object or the phrase the error's feedback must contain)
CASES = [
    ("bare", JSON, OBJ),
    ("fenced json", f"```json\n{JSON}\n```", OBJ),
    ("fenced without language", f"```\n{WRAPPED}\n```", OBJ),
    ("think-prefixed", f"<think>The user wants {{x}}; maybe {{\"a\": 1}}?</think>\n{JSON}", OBJ),
    ("lone closing think tag", f"reasoning {{\"a\": 1}} ...</think>{JSON}", OBJ),
    ("prose before and after", f"Sure! Here is the plan:\n{JSON}\nLet me know if {{anything}} else.", OBJ),
    ("wrapped", WRAPPED, OBJ),
    ("unwrapped", JSON, OBJ),
    ("wrapper with other keys is kept", '{"response": {"a": 1}, "b": 2}', {"response": {"a": 1}, "b": 2}),
    ("trailing garbage", JSON + "}}\n]", OBJ),
    ("truncated", JSON[:40], "incomplete"),
    ("truncated inside a fence", "```json\n" + WRAPPED[:60] + "\n```", "incomplete"),
    ("two objects", JSON + "\n" + '{"thought": "again"}', "more than one JSON object"),
    ("invalid JSON: single quotes", "{'thought': 'x'}", "invalid JSON at line 1, column 2"),
    ("invalid JSON: trailing comma", '{"thought": "x",}', "invalid JSON"),
    ("no JSON at all", "I cannot help with that.", "no JSON object"),
    ("only thinking", "<think>still going {\"a\"", "inside a <think> block"),
]


@pytest.mark.parametrize(("case", "text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_extraction_table(case: str, text: str, expected: object) -> None:
    if isinstance(expected, dict):
        assert extract_json(text) == expected
    else:
        with pytest.raises(ReplyFormatError) as info:
            extract_json(text)
        assert expected in info.value.feedback
        assert info.value.raw == text
        assert "Reply again with exactly one JSON object" in info.value.feedback


SCHEMA = {
    "type": "object",
    "properties": {
        "thought": {"type": "string"},
        "reply_type": {"type": "string", "enum": ["python", "text"]},
        "reply_content": {"type": "string"},
        "steps": {"type": "array", "items": {"type": "integer"}},
    },
    "required": ["thought", "reply_type", "reply_content"],
    "additionalProperties": False,
}


def test_schema_mismatch_feedback_names_every_problem_and_the_expected_fields() -> None:
    reply = '{"response": {"thought": 3, "reply_type": "java", "steps": [1, "two"], "extra": true}}'
    with pytest.raises(ReplyFormatError) as info:
        extract_reply(reply, SCHEMA)
    feedback = info.value.feedback
    assert 'missing required field(s) "reply_content"' in feedback
    assert 'unexpected field(s) "extra"' in feedback
    assert 'field "thought" must be of type string, got integer 3' in feedback
    assert 'field "reply_type" must be one of ["python", "text"], got "java"' in feedback
    assert 'field "steps[1]" must be of type integer' in feedback
    assert '"thought", "reply_type", "reply_content", "steps"' in feedback


def test_schema_match_returns_the_unwrapped_object() -> None:
    assert extract_reply(WRAPPED, SCHEMA) == OBJ
    assert extract_reply(JSON, SCHEMA) == OBJ


def test_booleans_are_not_integers() -> None:
    with pytest.raises(ReplyFormatError, match="must be of type integer"):
        extract_reply('{"thought": "t", "reply_type": "text", "reply_content": "", "steps": [true]}', SCHEMA)
