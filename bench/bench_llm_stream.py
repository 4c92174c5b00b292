"""Streaming a reply's fields: the incremental scanner against re-parsing the buffer per token.

A 24 kB planner-like reply arrives in 4-character tokens (about 6,000 of them). The
incremental :class:`weaver.llm.stream.FieldScanner` sees each token once; the baseline
re-parses everything received so far with jiter's partial mode on every token, which is
what a re-parsing approach costs (before it even diffs the fields to find the deltas).
"""

from __future__ import annotations

import json
import time
from typing import Any

from weaver.llm.stream import FieldScanner

TOKEN_CHARS = 4


def _reply() -> str:
    plan = "\n".join(f"{i}. load table_{i}.csv and check the column types <sequentially depends on {i - 1}>" for i in range(1, 250))
    return json.dumps({"response": {"plan_reasoning": "x" * 2000, "plan": plan, "send_to": "CodeInterpreter"}})


def _tokens() -> list[str]:
    text = _reply()
    return [text[i : i + TOKEN_CHARS] for i in range(0, len(text), TOKEN_CHARS)]


def _scanner(tokens: list[str]) -> float:
    sink: list[str] = []
    scanner = FieldScanner(lambda field, delta: sink.append(delta))
    started = time.perf_counter()
    for token in tokens:
        scanner.feed(token)
    return time.perf_counter() - started


def _reparse(tokens: list[str]) -> float:
    import jiter

    buffer = ""
    started = time.perf_counter()
    for token in tokens:
        buffer += token
        jiter.from_json(buffer.encode(), partial_mode="trailing-strings")
    return time.perf_counter() - started


def run(repeats: int) -> list[dict[str, Any]]:
    tokens = _tokens()
    note = f"{len(''.join(tokens))} chars in {len(tokens)} tokens of {TOKEN_CHARS} chars"
    return [
        {"name": "llm_stream_reparse_jiter", "unit": "s", "samples": [_reparse(tokens) for _ in range(repeats)],
         "baseline": None, "note": f"re-parse the whole buffer per token; {note}"},
        {"name": "llm_stream_field_scanner", "unit": "s", "samples": [_scanner(tokens) for _ in range(repeats)],
         "baseline": "llm_stream_reparse_jiter", "note": f"incremental scanner, each token once; {note}"},
    ]
