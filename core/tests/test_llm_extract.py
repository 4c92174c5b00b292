"""Extraction of the JSON reply from what a model wrote: one table, each case with its outcome."""

from __future__ import annotations

import json

import pytest

from weaver.llm import ReplyFormatError
from weaver.llm.extract import extract_json, extract_reply
from weaver.llm.schema import IGNORED, wire_schema

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
    ("think tags inside the JSON are content", '{"reply_content": "s.replace(\'</think>\', \'\')", "t": "<think>x</think>"}',
     {"reply_content": "s.replace('</think>', '')", "t": "<think>x</think>"}),
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
    ("duplicate key", '{"reply_type": "python", "reply_content": "1", "reply_type": "text"}',
     'the key "reply_type" appears more than once'),
    ("duplicate key inside the wrapper", '{"response": {"send_to": "CodeInterpreter", "message": "m", "send_to": "User"}}',
     'the key "send_to" appears more than once'),
    ("duplicate wrapper", '{"response": {"a": 1}, "response": {"a": 2}}', 'the key "response" appears more than once'),
    ("duplicate key deep down", '{"a": {"b": [{"c": 1, "c": 1}]}}', 'the key "c" appears more than once'),
    ("lone high surrogate", '{"thought": "ok \\ud83d", "x": 1}', 'the field "thought" contains a lone surrogate'),
    ("lone low surrogate in a nested field", '{"response": {"plan": ["a", "\\udc00b"]}}',
     'the field "plan[1]" contains a lone surrogate'),
    ("lone surrogate in a key", '{"k\\ud800": 1}', "a key contains a lone surrogate"),
    ("deep nesting", '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested more than 64 levels"),
    ("nesting just past the bound", '{"a": ' + "[" * 64 + "]" * 64 + "}", "nested more than 64 levels"),
    ("a number of 5000 digits", '{"a": ' + "7" * 5000 + "}", "a value Python cannot read"),
    ("a negative unicode escape", '{"a": "\\u-120"}', "invalid JSON"),
    ("a truncated negative unicode escape", '{"a": "\\u-120', "invalid JSON"),
    ("json's line count", '{"a": 1,\u2028\u2028 "b": x}', "invalid JSON at line 1"),
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


def test_paired_surrogates_and_moderate_nesting_are_fine() -> None:
    assert extract_json('{"t": "\\ud83d\\ude00"}') == {"t": "\U0001f600"}
    nested = '{"a": ' + "[" * 63 + "]" * 63 + "}"
    assert extract_json(nested)["a"] is not None


def test_a_duplicate_in_a_second_object_still_counts_as_a_second_object() -> None:
    with pytest.raises(ReplyFormatError, match="more than one JSON object"):
        extract_json(JSON + ' {"a": 1, "a": 2}')


def test_replies_over_the_size_cap_are_refused_unparsed_and_only_their_head_is_kept() -> None:
    huge = '{"thought": "' + "x" * 2_000_000 + '", "reply_type": "text", "reply_content": "y"}'
    with pytest.raises(ReplyFormatError) as info:
        extract_reply(huge, SCHEMA)
    assert f"{len(huge):,} characters long, more than the 1,048,576 allowed ([llm] max_reply_chars)" in info.value.feedback
    assert len(info.value.raw) < 5000 and info.value.raw.startswith('{"thought": "xxx')
    with pytest.raises(ReplyFormatError, match="more than the 50 allowed"):
        extract_json(JSON, max_chars=50)
    assert extract_json(JSON, max_chars=len(JSON)) == OBJ


def test_fields_the_schema_ignores_are_dropped_before_the_check() -> None:
    schema = {**SCHEMA, IGNORED: ["execution_status", "send_to"]}
    echoed = {**OBJ, "execution_status": "SUCCESS", "send_to": "Planner"}
    assert extract_reply(json.dumps({"response": echoed}), schema) == OBJ
    with pytest.raises(ReplyFormatError, match='unexpected field\\(s\\) "execution_status"'):
        extract_reply(json.dumps(echoed), SCHEMA)
    assert IGNORED not in wire_schema(schema) and wire_schema(schema)["properties"] == SCHEMA["properties"]


def test_schema_match_returns_the_unwrapped_object() -> None:
    assert extract_reply(WRAPPED, SCHEMA) == OBJ
    assert extract_reply(JSON, SCHEMA) == OBJ


def test_booleans_are_not_integers() -> None:
    with pytest.raises(ReplyFormatError, match="must be of type integer"):
        extract_reply('{"thought": "t", "reply_type": "text", "reply_content": "", "steps": [true]}', SCHEMA)
