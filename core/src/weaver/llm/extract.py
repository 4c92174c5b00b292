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
``{"a": 1, "a": 2}`` (a key twice, at any depth)        error: names the duplicated key
nesting deeper than :data:`MAX_DEPTH` levels            error: nested too deeply
``"\\ud83d"`` (a lone surrogate escape)                  error: names the field, asks for the pair
more than ``max_chars`` characters                      error: too long (``[llm] max_reply_chars``)
no ``{`` at all                                         error: no JSON object found
=====================================================  =====================================

Duplicate keys are refused rather than resolved: last-wins would let ``"send_to": "User"``
after ``"send_to": "CodeInterpreter"`` reroute a message the stream already previewed.
Whatever the text, the only exception is :class:`ReplyFormatError` (no ``RecursionError``,
no ``ValueError`` for a number of 5,000 digits).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from weaver.llm.errors import ReplyFormatError
from weaver.llm.schema import schema_problems, without_ignored

WRAPPER = "response"
DEFAULT_MAX_REPLY_CHARS = 1_048_576
"""The default of ``[llm] max_reply_chars``: a reply longer than this is refused unparsed."""
MAX_DEPTH = 64
"""Objects and arrays nested deeper than this are refused; replies nest two or three levels."""
_THINK_OPEN = re.compile(r"\s*<think>", re.IGNORECASE)
_THINK_CLOSE = "</think>"
# "{" followed by what can start a JSON object's body: a key, an empty object, or a quote
# of the wrong kind (reported as invalid JSON rather than skipped as prose).
_OBJECT_START = re.compile(r"\{\s*[\"'}]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_RAW_KEPT = 4000


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object from its pairs, refusing a key given twice (``json`` would keep the last)."""
    value = dict(pairs)
    if len(value) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return value


_decoder = json.JSONDecoder(object_pairs_hook=_unique_pairs)


def strip_thinking(text: str) -> str:
    """``text`` without the ``<think>…</think>`` blocks it starts with.

    Only a leading block is thinking: the same tags inside the JSON (code that parses a
    model's output) are content and stay.
    """
    while (opening := _THINK_OPEN.match(text)) is not None:
        closing = text.lower().find(_THINK_CLOSE, opening.end())
        if closing < 0:
            return text  # still thinking: extract_json says so
        text = text[closing + len(_THINK_CLOSE) :]
    return text


def extract_json(text: str, max_chars: int = DEFAULT_MAX_REPLY_CHARS) -> Any:
    """The one JSON object in a reply, unwrapped from ``{"response": ...}``; see the module doc.

    A reply with a ``</think>`` but no opening tag (chat templates that put ``<think>`` in
    the prompt) is read twice if need be: as it is, in case the tag sits inside the JSON,
    and then from after that tag, where the answer follows the thinking.
    """
    if len(text) > max_chars:
        kept = min(_RAW_KEPT, max_chars)
        raise _error(
            f"the reply is {len(text):,} characters long, more than the {max_chars:,} allowed "
            "([llm] max_reply_chars); keep data out of the reply (code can write files, or print a summary)",
            text[:kept] + f"\n[... {len(text) - kept:,} more characters not kept]",
        )
    body = strip_thinking(text)
    if _THINK_OPEN.match(body):
        raise _error("the reply ended inside a <think> block, before any JSON", text)
    try:
        return _extract(body, text)
    except ReplyFormatError:
        closing = body.lower().find(_THINK_CLOSE)
        if closing < 0:
            raise
    return _extract(body[closing + len(_THINK_CLOSE) :], text)


def _extract(body: str, text: str) -> Any:
    candidates = _objects(body)
    first = next(candidates, None)
    if first is None:
        raise _error("no JSON object was found in the reply", text)
    if isinstance(first, _BrokenObject):
        raise _error(first.problem or _describe_broken(first, body), text)
    if next((c for c in candidates if not isinstance(c, _BrokenObject) or c.complete), None) is not None:
        raise _error("the reply contains more than one JSON object", text)
    value = unwrap(first)
    problem = _value_problem(value)
    if problem:
        raise _error(problem, text)
    return value


def unwrap(value: Any) -> Any:
    """The object inside ``{"response": {...}}``; any other value as it is."""
    if isinstance(value, dict) and len(value) == 1 and isinstance(value.get(WRAPPER), dict):
        return value[WRAPPER]
    return value


def extract_reply(text: str, schema: Mapping[str, Any], max_chars: int = DEFAULT_MAX_REPLY_CHARS) -> Any:
    """The reply object, extracted and checked against ``schema``; :class:`ReplyFormatError` if not.

    Fields the schema lists as ignored (:data:`weaver.llm.schema.IGNORED`) are dropped first.
    """
    value = without_ignored(extract_json(text, max_chars), schema)
    problems = schema_problems(value, schema)
    if problems:
        raise _error("the JSON object does not match the expected schema: " + "; ".join(problems), text, schema)
    return value


class _BrokenObject:
    """An object start that did not make a usable object: where it starts, and either the
    decoder's error or, for an object that is complete but refused (a duplicate key), the problem."""

    def __init__(self, start: int, error: json.JSONDecodeError | None = None, problem: str = "") -> None:
        self.start = start
        self.error = error
        self.problem = problem
        self.complete = error is None


def _value_problem(value: Any) -> str:
    """Why a parsed object cannot be used (too deep, a lone surrogate), or ``""``."""
    stack: list[tuple[Any, int, str]] = [(value, 1, "")]
    while stack:
        item, depth, path = stack.pop()
        if isinstance(item, str):
            if not item.isascii() and _SURROGATE.search(item):  # isascii() is O(1) in CPython
                where = f'the field "{path}"' if path else "a key"
                return (
                    f"{where} contains a lone surrogate escape (such as \\ud83d without the \\udc00-\\udfff half "
                    "that must follow it), which is not valid Unicode; write the character itself, or both "
                    "halves of its pair"
                )
            continue
        if not isinstance(item, (dict, list)):
            continue
        if depth > MAX_DEPTH:
            return f"the JSON is nested more than {MAX_DEPTH} levels deep; reply with the flat fields asked for"
        if isinstance(item, dict):
            for key, sub in item.items():
                stack.append((key, depth, path))
                stack.append((sub, depth + 1, f"{path}.{key}" if path else key))
        else:
            stack.extend((sub, depth + 1, f"{path}[{index}]") for index, sub in enumerate(item))
    return ""


def _objects(body: str) -> Iterator[Any]:
    """Each JSON object in ``body`` in order; a failure at an object start is yielded as a
    :class:`_BrokenObject`.

    After a failure nothing more is yielded: an object nested in a broken one must not be
    mistaken for the reply.
    """
    position = 0
    while (match := _OBJECT_START.search(body, position)) is not None:
        start = match.start()
        try:
            value, end = _decoder.raw_decode(body, start)
        except json.JSONDecodeError as exc:
            yield _BrokenObject(start, exc)
            return
        except _DuplicateKey as exc:
            yield _BrokenObject(
                start,
                problem=f"the key {json.dumps(exc.key)} appears more than once in the same object; JSON keys must "
                f"be unique, so write each field once (a second {json.dumps(exc.key)} would silently replace the first)",
            )
            return
        except RecursionError:
            yield _BrokenObject(start, problem=f"the JSON is nested more than {MAX_DEPTH} levels deep; reply with "
                                "the flat fields asked for")
            return
        except ValueError as exc:  # e.g. an integer of more digits than Python converts
            yield _BrokenObject(start, problem=f"the JSON holds a value Python cannot read ({exc})")
            return
        yield value
        position = end


def _describe_broken(broken: _BrokenObject, body: str) -> str:
    from weaver.llm.stream import FieldScanner  # only for a reply that is already broken

    scanner = FieldScanner()
    scanner.feed(body[broken.start :])
    if not scanner.done and scanner.errors == 0:
        return "the JSON object is incomplete: the reply ends before the object is closed (was it cut off?)"
    error = broken.error
    assert error is not None
    # json counts lines by "\n" alone (str.splitlines also splits at \x0b, \u2028, ...).
    line = body.split("\n")[error.lineno - 1].strip()
    return f"invalid JSON at line {error.lineno}, column {error.colno}: {error.msg} (in {line[:80]!r})"


def _error(problem: str, raw: str, schema: Mapping[str, Any] | None = None) -> ReplyFormatError:
    expected = "exactly one JSON object, in strict JSON (double quotes, no trailing commas, no comments)"
    if schema and schema.get("properties"):
        expected += " with the fields " + ", ".join(json.dumps(k) for k in schema["properties"])
    feedback = f"Your reply could not be used: {problem}. Reply again with {expected}."
    return ReplyFormatError(f"the model's reply could not be used: {problem}", feedback=feedback, raw=raw)
