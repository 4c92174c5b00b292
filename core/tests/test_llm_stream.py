"""The incremental field scanner: deltas of each reply field concatenate to its final value."""

from __future__ import annotations

import json
import random

import pytest

from weaver.llm.extract import extract_json
from weaver.llm.stream import FieldScanner

REPLY = {
    "plan_reasoning": 'The user wants the "mean"\nof x; path C:\\data\\x.csv',
    "plan": "1. load data.csv\n2. compute the mean <interactively depends on 1>",
    "send_to": "CodeInterpreter",
    "unicode": "café ☕ 😀 \u0001 tab\tend",
    "count": 3,
    "flags": [True, None, {"plan": "nested, not a reply field"}],
    "nested": {"plan": "also not a reply field"},
    "empty": "",
}
STRING_FIELDS = {k: v for k, v in REPLY.items() if isinstance(v, str) and v}

TEXTS = {
    "plain": json.dumps(REPLY),
    "ascii-escaped": json.dumps(REPLY, ensure_ascii=True),
    "wrapped, pretty, fenced, after thinking": (
        "<think>I should answer with {\"plan\": \"wrong\"} style JSON</think>\nHere it is:\n```json\n"
        + json.dumps({"response": REPLY}, indent=2, ensure_ascii=False)
        + '\n```\nAnything else? Ask about {anything}.'
    ),
}


def scan(text: str, pieces: list[str]) -> tuple[dict[str, str], FieldScanner]:
    seen: dict[str, str] = {}

    def on_field(field: str, delta: str) -> None:
        assert delta, "a delta is never empty"
        seen[field] = seen.get(field, "") + delta

    scanner = FieldScanner(on_field)
    for piece in pieces:
        scanner.feed(piece)
    assert "".join(pieces) == text
    return seen, scanner


@pytest.mark.parametrize("name", list(TEXTS))
def test_one_character_at_a_time(name: str) -> None:
    text = TEXTS[name]
    seen, scanner = scan(text, list(text))
    assert seen == STRING_FIELDS
    assert scanner.done and scanner.errors == 0
    assert {k: extract_json(text)[k] for k in seen} == seen


@pytest.mark.parametrize("name", list(TEXTS))
@pytest.mark.parametrize("seed", range(20))
def test_random_chunks(name: str, seed: int) -> None:
    text = TEXTS[name]
    rng = random.Random(seed)
    pieces, i = [], 0
    while i < len(text):
        size = rng.randint(1, 12)
        pieces.append(text[i : i + size])
        i += size
    seen, _ = scan(text, pieces)
    assert seen == STRING_FIELDS


def test_fields_grow_while_the_reply_is_incomplete() -> None:
    seen: list[tuple[str, str]] = []
    scanner = FieldScanner(lambda f, d: seen.append((f, d)))
    scanner.feed('{"thought": "I will')
    assert seen == [("thought", "I will")]
    scanner.feed(' load it", "reply_content": "import pan')
    assert seen[1:] == [("thought", " load it"), ("reply_content", "import pan")]
    assert not scanner.done


def test_a_brace_in_prose_is_not_mistaken_for_the_reply() -> None:
    seen, scanner = scan('Use {x} here. {"plan": "go"}', ["Use {x} here. ", '{"plan": "go"}'])
    assert seen == {"plan": "go"}
    assert scanner.done


def test_work_per_piece_does_not_depend_on_what_came_before() -> None:
    """Feeding stays incremental: the scanner keeps no copy of the text it has consumed."""
    scanner = FieldScanner(lambda f, d: None)
    scanner.feed('{"plan": "' + "x" * 100_000)
    assert not any(isinstance(v, str) and len(v) > 100 for v in vars(scanner).values())
    assert sum(len(part) for part in scanner._out) == 0
