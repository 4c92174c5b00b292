"""Trimming execution feedback before it goes back into a prompt.

A failing step is retried with its feedback in the next prompt, so every traceback line is
paid for again on each retry. The model acts on a traceback's head (where in *its* code the
failure started) and its tail (the library frames closest to the error and the error line
itself); the frames in between are library internals it cannot change. Output is cut the
same way: its head shows what the code printed first, its tail where it stopped.

Every cut leaves a marker saying how many lines (or characters) were omitted, so the model
knows the text is partial and never mistakes a trimmed output for a complete one.
"""

from __future__ import annotations

import re

import attrs

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@attrs.frozen
class Trimmed:
    """Text after trimming and how much was cut from it."""

    text: str
    omitted_lines: int = 0
    omitted_chars: int = 0

    @property
    def cut(self) -> bool:
        return bool(self.omitted_lines or self.omitted_chars)


def strip_ansi(text: str) -> str:
    """Terminal colour codes carry nothing for a model and cost tokens."""
    return _ANSI.sub("", text)


def _cap_line(line: str, max_chars: int) -> tuple[str, int]:
    if max_chars <= 0 or len(line) <= max_chars:
        return line, 0
    cut = len(line) - max_chars
    return f"{line[:max_chars]}… [{cut} more characters]", cut


def _head_tail(lines: list[str], head: int, tail: int, what: str) -> tuple[list[str], int]:
    # Cutting fewer than two lines would replace them with a marker of the same size.
    omitted = len(lines) - head - tail
    if omitted < 2:
        return lines, 0
    kept = lines[:head] + [f"... [{omitted} {what} omitted] ..."] + (lines[-tail:] if tail else [])
    return kept, omitted


def trim_traceback(text: str, *, head: int = 4, tail: int = 15, max_line_chars: int = 400) -> Trimmed:
    """Keep a traceback's first ``head`` and last ``tail`` lines, each at most ``max_line_chars``."""
    lines = strip_ansi(text).splitlines()
    kept, omitted = _head_tail(lines, head, tail, "traceback lines")
    capped = [_cap_line(line, max_line_chars) for line in kept]
    return Trimmed("\n".join(line for line, _ in capped), omitted, sum(cut for _, cut in capped))


def trim_output(
    text: str, *, head: int = 15, tail: int = 15, max_chars: int = 4000, max_line_chars: int = 400
) -> Trimmed:
    """Keep an output's first ``head`` and last ``tail`` lines and at most ``max_chars`` in all.

    Lines are capped at ``max_line_chars`` first (one huge line, such as a wide DataFrame or a
    long list, is the usual way output explodes); then, if the result is still longer than
    ``max_chars``, its middle is cut by characters.
    """
    lines = strip_ansi(text).splitlines()
    kept, omitted = _head_tail(lines, head, tail, "output lines")
    capped = [_cap_line(line, max_line_chars) for line in kept]
    result = "\n".join(line for line, _ in capped)
    chars = sum(cut for _, cut in capped)
    if max_chars > 0 and len(result) > max_chars:
        half = max_chars // 2
        middle = len(result) - 2 * half
        chars += middle
        result = f"{result[:half]}\n... [{middle} characters omitted] ...\n{result[-half:]}"
    if text.endswith("\n") and not result.endswith("\n"):
        result += "\n"
    return Trimmed(result, omitted, chars)
