"""Tolerant extraction of the JSON reply object from what a model wrote.

Weak and local models wrap JSON in code fences, put a ``<think>`` block or a line of prose
before it, add a remark after it, or nest it in ``{"response": ...}``. All of that is
accepted; the object itself must be strict JSON. Anything else raises
:class:`ReplyFormatError` whose ``feedback`` tells the model what was wrong and what to send.

Outcomes, by example:

=====================================================  =====================================
reply                                                  result
=====================================================  =====================================
``{"a": 1}``, the same in a fence, after ``<think>``     ``{"a": 1}``
``Sure! {"a": 1} Hope this helps.``                     ``{"a": 1}``
``{"response": {"a": 1}}``                              ``{"a": 1}`` (the wrapper is removed)
``{"a": 1}}`` (trailing garbage)                        ``{"a": 1}`` (text after it is ignored)
``{"a": "x`` (truncated)                                error: the object is incomplete
``{"a": 1} {"b": 2}`` (two objects)                     error: send exactly one object
``{'a': 1}`` or ``{"a": 1,}`` (invalid JSON)             error: the JSON error and where
no ``{`` at all                                         error: no JSON object found
=====================================================  =====================================
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from weaver.llm.errors import ReplyFormatError
from weaver.llm.schema import schema_problems

WRAPPER = "response"
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
# "{" followed by what can start a JSON object's body: a key, an empty object, or a quote
# of the wrong kind (reported as invalid JSON rather than skipped as prose).
_OBJECT_START = re.compile(r"\{\s*[\"'}]")
_decoder = json.JSONDecoder()


def strip_thinking(text: str) -> str:
    """``text`` without ``<think>…</think>`` blocks (or everything up to a lone ``</think>``)."""
    text = _THINK.sub("", text)
    closing = text.lower().rfind("</think>")
    return text[closing + len("</think>") :] if closing >= 0 else text


def extract_json(text: str) -> Any:
    """The one JSON object in a reply, unwrapped from ``{"response": ...}``; see the module doc."""
    body = strip_thinking(text)
    if re.match(r"\s*<think>", body, re.IGNORECASE):
        raise _error("the reply ended inside a <think> block, before any JSON", text)
    candidates = _objects(body)
    first = next(candidates, None)
    if first is None:
        raise _error("no JSON object was found in the reply", text)
    if isinstance(first, _BrokenObject):
        raise _error(_describe_broken(first, body), text)
    if next((c for c in candidates if not isinstance(c, _BrokenObject)), None) is not None:
        raise _error("the reply contains more than one JSON object", text)
    return unwrap(first)


def unwrap(value: Any) -> Any:
    """The object inside ``{"response": {...}}``; any other value as it is."""
    if isinstance(value, dict) and len(value) == 1 and isinstance(value.get(WRAPPER), dict):
        return value[WRAPPER]
    return value


def extract_reply(text: str, schema: Mapping[str, Any]) -> Any:
    """The reply object, extracted and checked against ``schema``; :class:`ReplyFormatError` if not."""
    value = extract_json(text)
    problems = schema_problems(value, schema)
    if problems:
        raise _error("the JSON object does not match the expected schema: " + "; ".join(problems), text, schema)
    return value


class _BrokenObject:
    """An object start that did not parse: where it starts and the decoder's error."""

    def __init__(self, start: int, error: json.JSONDecodeError) -> None:
        self.start = start
        self.error = error


def _objects(body: str) -> Iterator[Any]:
    """Each JSON object in ``body`` in order; a failure at an object start is yielded as a
    :class:`_BrokenObject`.

    After a failure nothing more is yielded: an object nested in a broken one must not be
    mistaken for the reply.
    """
    position = 0
    while (match := _OBJECT_START.search(body, position)) is not None:
        try:
            value, end = _decoder.raw_decode(body, match.start())
        except json.JSONDecodeError as exc:
            yield _BrokenObject(match.start(), exc)
            return
        yield value
        position = end


def _describe_broken(broken: _BrokenObject, body: str) -> str:
    from weaver.llm.stream import FieldScanner

    scanner = FieldScanner()
    scanner.feed(body[broken.start :])
    if not scanner.done and scanner.errors == 0:
        return "the JSON object is incomplete: the reply ends before the object is closed (was it cut off?)"
    error = broken.error
    line = body.splitlines()[error.lineno - 1].strip()
    return f"invalid JSON at line {error.lineno}, column {error.colno}: {error.msg} (in {line[:80]!r})"


def _error(problem: str, raw: str, schema: Mapping[str, Any] | None = None) -> ReplyFormatError:
    expected = "exactly one JSON object, in strict JSON (double quotes, no trailing commas, no comments)"
    if schema and schema.get("properties"):
        expected += " with the fields " + ", ".join(json.dumps(k) for k in schema["properties"])
    feedback = f"Your reply could not be used: {problem}. Reply again with {expected}."
    return ReplyFormatError(f"the model's reply could not be used: {problem}", feedback=feedback, raw=raw)
