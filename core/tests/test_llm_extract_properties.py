"""Properties of the reply extractor over generated text: whatever a model sends, the only
exception is ``ReplyFormatError``, and a valid object survives any prose around it."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from weaver.llm import ReplyFormatError
from weaver.llm.extract import extract_json, extract_reply, unwrap
from weaver.llm.stream import FieldScanner

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Pieces that matter to a JSON scanner, so generated text is mostly near-JSON, not noise.
FRAGMENTS = st.sampled_from(
    [
        "{", "}", "[", "]", '"', ":", ",", "\\", "\\u", "\\u-12", "\\u-123", "\\u 1_2", "\\ud83d", "\\ude00", "d83d", "1e999",
        "-", "0", "7" * 30, "true", "null", "nan", '"response"', '"a"', "<think>", "</think>", "```json\n",
        "```", "\n", "\u2028", "\x0b", " ", "'", "x", "é", "\U0001f600",
    ]
)
NEAR_JSON = st.lists(FRAGMENTS, max_size=60).map("".join)
SCHEMA = {
    "type": "object",
    "properties": {"thought": {"type": "string"}, "reply_content": {"type": "string"}},
    "required": ["thought"],
    "additionalProperties": False,
}


def outcome(text: str) -> Any:
    try:
        return extract_json(text)
    except ReplyFormatError as error:
        assert error.feedback.startswith("Your reply could not be used: ")
        return error


@SETTINGS
@given(st.one_of(st.text(), NEAR_JSON, st.binary().map(lambda b: b.decode("utf-8", "surrogateescape"))))
def test_any_text_gives_an_object_or_a_format_error(text: str) -> None:
    outcome(text)
    try:
        extract_reply(text, SCHEMA)
    except ReplyFormatError:
        pass


@SETTINGS
@given(NEAR_JSON)
@example('{"a": "\\u-120"}')  # int("-120", 16) once reached chr() with a negative number
def test_the_stream_scanner_never_raises_on_any_text(text: str) -> None:
    seen: list[tuple[str, str]] = []
    scanner = FieldScanner(lambda field, delta: seen.append((field, delta)))
    for start in range(0, len(text), 3):
        scanner.feed(text[start : start + 3])


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
OBJECTS = st.dictionaries(st.text(min_size=1), JSON_VALUES, min_size=1, max_size=5)
PROSE = st.text(alphabet=st.characters(blacklist_characters="{}<`"), max_size=40)


@SETTINGS
@given(OBJECTS, PROSE, PROSE, st.booleans(), st.booleans())
@example({"</think>": None}, "", "", False, False)  # a closing tag inside the JSON once cut the reply there
def test_a_valid_object_is_found_whatever_surrounds_it(
    obj: dict[str, Any], before: str, after: str, fenced: bool, wrapped: bool
) -> None:
    body = json.dumps({"response": obj} if wrapped else obj, ensure_ascii=fenced)
    text = f"{before}\n```json\n{body}\n```\n{after}" if fenced else f"{before} {body} {after}"
    assert extract_json(text) == (obj if wrapped else unwrap(obj))
