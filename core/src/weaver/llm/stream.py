"""An incremental JSON scanner that surfaces string fields of the reply while they stream.

Each piece of text from the model is fed once; the scanner keeps its state between pieces
(where it is in the object, inside which string, a half-read escape), so the work per token
is proportional to the token, never to the reply so far. Libraries were considered: ijson
reports a string only once it is complete; jiter and partial-json parsers re-parse the whole
buffer each time. Neither gives growing string values cheaply, hence this small machine.

It reports ``on_field(name, delta)`` for top-level string fields of the reply object, or of
the object inside a ``{"response": {...}}`` wrapper, with escapes decoded, so the deltas of
a field concatenate to its final value. Text before the object (prose, a code fence, a
``<think>`` block) and after it is skipped. It is a preview: the reply is still parsed
strictly once complete (:mod:`weaver.llm.extract`).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from weaver.llm.extract import WRAPPER

FieldCallback = Callable[[str, str], None]

# Where the scanner is, as small ints for a tight loop.
SEEK, KEY_OR_END, KEY, COLON, VALUE, VALUE_OR_END, AFTER_VALUE, STRING, ESCAPE, UNICODE, SCALAR, DONE = range(12)

_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_STRING_SPECIAL = re.compile(r'["\\]')
_HEX4 = re.compile("[0-9a-fA-F]{4}")
_WHITESPACE = frozenset(" \t\r\n")
_SCALAR_END = frozenset(",}] \t\r\n")
_OPENER = {"}": "{", "]": "["}
_THINK_OPEN, _THINK_CLOSE = "<think>", "</think>"


class FieldScanner:
    """Feed it text as it arrives; it calls ``on_field(name, delta)`` as string fields grow.

    ``done`` turns true when the reply object closes; ``errors`` counts syntax errors (after
    one, the scanner drops that object and looks for the next ``{``).
    """

    def __init__(self, on_field: FieldCallback | None = None) -> None:
        self._on_field = on_field
        self.state = SEEK
        self.done = False
        self.errors = 0
        self._stack: list[list[str | None]] = []  # [kind, current key] per open container
        self._tail = ""  # the last few characters while seeking, to spot <think> tags
        self._thinking = False
        self._string_is_key = False
        self._field: str | None = None  # the reply field whose string value is being read
        self._key: list[str] = []
        self._out: list[str] = []
        self._hex = ""
        self._high_surrogate: int | None = None

    # ---- public ------------------------------------------------------------------------

    def feed(self, text: str) -> None:
        """Consume the next piece of the reply."""
        i, n = 0, len(text)
        while i < n and self.state is not DONE:
            state = self.state
            if state == STRING:
                match = _STRING_SPECIAL.search(text, i)
                end = match.start() if match else n
                if end > i:
                    self._flush_surrogate()
                    self._text(text[i:end])
                i = end
                if match is None:
                    break
                if text[i] == '"':
                    self._flush_surrogate()
                    self._end_string()
                else:
                    self.state = ESCAPE
                i += 1
                continue
            self._step(text[i])
            i += 1
        self._flush()

    # ---- the machine -----------------------------------------------------------------

    def _step(self, ch: str) -> None:
        state = self.state
        if state == SEEK:
            self._seek(ch)
        elif state == ESCAPE:
            if ch == "u":
                self._hex, self.state = "", UNICODE
            elif ch in _ESCAPES:
                self._flush_surrogate()
                self._text(_ESCAPES[ch])
                self.state = STRING
            else:
                self._fail()
        elif state == UNICODE:
            self._hex += ch
            if len(self._hex) == 4:
                self._unicode()
        elif state == SCALAR:
            if ch in _SCALAR_END:
                self.state = AFTER_VALUE
                self._step(ch)
        elif ch in _WHITESPACE:
            return
        elif state in (KEY_OR_END, KEY):
            if ch == '"':
                self._start_string(key=True)
            elif ch == "}" and state == KEY_OR_END:
                self._close("{")
            else:
                self._fail()
        elif state == COLON:
            if ch == ":":
                self.state = VALUE
            else:
                self._fail()
        elif state in (VALUE, VALUE_OR_END):
            if ch == "]" and state == VALUE_OR_END:
                self._close("[")
            else:
                self._value(ch)
        elif state == AFTER_VALUE:
            kind = self._stack[-1][0]
            if ch == ",":
                self.state = KEY if kind == "{" else VALUE
            elif ch in _OPENER:
                self._close(_OPENER[ch])
            else:
                self._fail()

    def _seek(self, ch: str) -> None:
        self._tail = (self._tail + ch)[-len(_THINK_CLOSE) :]
        if self._thinking:
            self._thinking = not self._tail.lower().endswith(_THINK_CLOSE)
        elif self._tail.lower().endswith(_THINK_OPEN):
            self._thinking = True
        elif ch == "{":
            self._stack = [["{", None]]
            self.state = KEY_OR_END

    def _value(self, ch: str) -> None:
        if ch == '"':
            self._start_string(key=False)
        elif ch in "{[":
            self._stack.append([ch, None])
            self.state = KEY_OR_END if ch == "{" else VALUE_OR_END
        elif ch in "-0123456789tfn":
            self.state = SCALAR
        else:
            self._fail()

    def _close(self, kind: str) -> None:
        if self._stack[-1][0] != kind:
            self._fail()
            return
        self._stack.pop()
        self.state = AFTER_VALUE if self._stack else DONE
        self.done = not self._stack

    def _start_string(self, key: bool) -> None:
        self._string_is_key = key
        self._key = []
        self._field = None if key else self._reply_field()
        self.state = STRING

    def _end_string(self) -> None:
        if self._string_is_key:
            self._stack[-1][1] = "".join(self._key)
            self.state = COLON
        else:
            self._flush()
            self._field = None
            self.state = AFTER_VALUE

    def _reply_field(self) -> str | None:
        """The field name when a string value belongs to the reply object itself."""
        stack = self._stack
        if stack[-1][0] != "{":
            return None
        if len(stack) == 1 or (len(stack) == 2 and stack[0][1] == WRAPPER):
            return stack[-1][1]
        return None

    def _unicode(self) -> None:
        # int() alone would take "-123" or " 1_2" and hand chr() a negative number.
        if not _HEX4.fullmatch(self._hex):
            self._fail()
            return
        code = int(self._hex, 16)
        self.state = STRING
        if 0xD800 <= code < 0xDC00:
            self._flush_surrogate()
            self._high_surrogate = code
        elif 0xDC00 <= code < 0xE000 and self._high_surrogate is not None:
            high, self._high_surrogate = self._high_surrogate, None
            self._text(chr(0x10000 + ((high - 0xD800) << 10) + (code - 0xDC00)))
        else:
            self._flush_surrogate()
            self._text(chr(code))

    def _flush_surrogate(self) -> None:
        """A high surrogate not followed by a low one stands alone, as :func:`json.loads` keeps it."""
        if self._high_surrogate is not None:
            high, self._high_surrogate = self._high_surrogate, None
            self._text(chr(high))

    def _text(self, text: str) -> None:
        if self._string_is_key:
            self._key.append(text)
        elif self._field is not None:
            self._out.append(text)

    def _flush(self) -> None:
        if self._out and self._field is not None and self._on_field is not None:
            self._on_field(self._field, "".join(self._out))
        self._out = []

    def _fail(self) -> None:
        """Drop the current object: it was not JSON after all (or is broken); look for the next."""
        self.errors += 1
        self._flush()
        self._stack, self._field, self._tail = [], None, ""
        self.state = SEEK
