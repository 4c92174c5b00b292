"""Trimming execution feedback before it goes back into a prompt.

A failing step is retried with its feedback in the next prompt, so every line is paid for
again on each retry. What the model acts on in a traceback is its *own* code: the cell's
frames (``Cell In[3], line 4`` and the ``---->`` line that failed) and the exception itself.
The library frames after them are internals it cannot change, and an exception it chained
from is usually the same error said twice: those are collapsed to a count. Output is cut by
tokens, not lines: its head shows what the code printed first, its tail where it stopped.

Every cut leaves a marker saying how much was omitted, so the model knows the text is
partial and never mistakes a trimmed output for a complete one.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import attrs

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_CHAIN_START = re.compile(r"^(\S+\s+Traceback \(most recent call last\)|Traceback \(most recent call last\):)")
_FRAME = re.compile(r"^\s*(Cell In\s?\[\d+\], line \d+|Input In \[\d+\]|File .+:\d+(, in .+)?$|File \".+\", line \d+)")
_CELL_FRAME = re.compile(r"^\s*(Cell In\s?\[\d+\], line (?P<line>\d+)|Input In \[\d+\]|  File \"<(?:cell|ipython-input)[^\"]*\", line (?P<plain>\d+))")
_ARROW = re.compile(r"^\s*-+>\s*(?P<number>\d+)?\s?(?P<code>.*)$")
SHORT_TRACEBACK_LINES = 10
"""A traceback this short is kept whole: there is nothing worth cutting."""
EXCEPTION_LINES = 6
"""The most lines of the exception's own message kept."""

Estimate = Callable[[str], int]


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


def _blocks(lines: list[str]) -> list[list[str]]:
    """The traceback's parts: a frame (its header and source lines) each, split at blank lines too."""
    blocks: list[list[str]] = [[]]
    for line in lines:
        if not line.strip():
            blocks.append([])
            continue
        if _FRAME.match(line) and blocks[-1]:
            blocks.append([])
        blocks[-1].append(line)
    return [b for b in blocks if b]


def _cell_lines(frame: list[str]) -> list[str]:
    """A cell frame's header and the line that failed (``---->``), without the context around it."""
    arrows = [line for line in frame[1:] if _ARROW.match(line)]
    return [frame[0].strip(), *(line.rstrip() for line in arrows[-1:])] if arrows else [line.rstrip() for line in frame]


def failing_line(traceback: str) -> int | None:
    """The number of the line of the cell that failed: the deepest cell frame's ``---->`` line."""
    found = None
    for block in _blocks(strip_ansi(traceback).splitlines()):
        cell = _CELL_FRAME.match(block[0])
        if cell is None:
            continue
        arrow = next((a for line in reversed(block[1:]) if (a := _ARROW.match(line)) and a.group("number")), None)
        number = arrow.group("number") if arrow else cell.group("line") or cell.group("plain")
        found = int(number) if number else found
    return found


def trim_traceback(
    text: str, *, head: int = 4, tail: int = 15, max_line_chars: int = 400, exception: bool = True
) -> Trimmed:
    """The cell's frames and the exception, with library frames and chained exceptions counted.

    ``exception=False`` leaves out the exception's own message (when the reader gets it
    beside the traceback anyway). A traceback in no format this knows keeps its first
    ``head`` and last ``tail`` lines.
    """
    lines = strip_ansi(text).splitlines()
    if len(lines) <= SHORT_TRACEBACK_LINES:
        return _capped(lines, 0, max_line_chars)
    starts = [n for n, line in enumerate(lines) if _CHAIN_START.match(line)]
    kept: list[str] = []
    if len(starts) > 1:
        kept.append(f"... [{len(starts) - 1} chained exception(s) before this one omitted] ...")
    segment = lines[starts[-1] :] if starts else lines
    blocks = _blocks(segment)
    frames = [i for i, block in enumerate(blocks) if _FRAME.match(block[0])]
    cells = [i for i in frames if _CELL_FRAME.match(blocks[i][0])]
    if not frames or not cells:
        return _head_tail_traceback(lines, head, tail, max_line_chars)
    # What comes before the first frame is the header (a ruler, "KeyError  Traceback ..."):
    # the exception line at the end says the same.
    for i in range(frames[0], frames[-1] + 1):
        if i in cells:
            kept += _cell_lines(blocks[i])
    library = [i for i in frames if i not in cells]
    if library:
        where = sorted({_frame_file(blocks[i][0]) for i in library})
        kept.append(f"... [{len(library)} library frame(s) omitted: {', '.join(where)}] ...")
    if exception:
        kept += cap_lines([line for block in blocks[frames[-1] + 1 :] for line in block], EXCEPTION_LINES)
    trimmed = _capped(kept, 0, max_line_chars)
    return attrs.evolve(trimmed, omitted_lines=max(0, len(lines) - len(kept)))


def cap_lines(lines: list[str], limit: int) -> list[str]:
    """At most ``limit`` of ``lines``, the rest counted."""
    if len(lines) <= limit:
        return lines
    return [*lines[:limit], f"... [{len(lines) - limit} more lines]"]


def _frame_file(header: str) -> str:
    path = header.strip().removeprefix("File ").split(":")[0].split(",")[0].strip('"')
    parts = path.replace("\\", "/").split("/")
    return "/".join(parts[-2:])


def _capped(lines: list[str], omitted: int, max_line_chars: int) -> Trimmed:
    capped = [_cap_line(line, max_line_chars) for line in lines]
    return Trimmed("\n".join(line for line, _ in capped), omitted, sum(cut for _, cut in capped))


def _head_tail_traceback(lines: list[str], head: int, tail: int, max_line_chars: int) -> Trimmed:
    omitted = len(lines) - head - tail
    if omitted < 2:
        return _capped(lines, 0, max_line_chars)
    kept = lines[:head] + [f"... [{omitted} traceback lines omitted] ..."] + (lines[-tail:] if tail else [])
    return _capped(kept, omitted, max_line_chars)


def trim_output(
    text: str,
    *,
    head_tokens: int = 150,
    tail_tokens: int = 60,
    max_line_chars: int = 400,
    max_chars: int = 4000,
    estimate: Estimate = lambda text: -(-len(text) // 4),
) -> Trimmed:
    """Keep an output's first lines up to ``head_tokens`` and its last up to ``tail_tokens``.

    Lines are capped at ``max_line_chars`` first (one huge line, such as a wide DataFrame or a
    long list, is the usual way output explodes); what is left is cut at line boundaries by
    tokens, and at ``max_chars`` in all.
    """
    lines = strip_ansi(text).splitlines()
    capped = [_cap_line(line, max_line_chars) for line in lines]
    chars = sum(cut for _, cut in capped)
    kept = [line for line, _ in capped]
    costs = [estimate(line) + 1 for line in kept]
    omitted = 0
    if sum(costs) > head_tokens + tail_tokens:
        first, spent = 0, 0
        while first < len(kept) and spent + costs[first] <= head_tokens:
            spent, first = spent + costs[first], first + 1
        last, spent = len(kept), 0
        while last > first and spent + costs[last - 1] <= tail_tokens:
            last, spent = last - 1, spent + costs[last - 1]
        omitted = last - first
        if omitted >= 2:
            hidden = sum(costs[first:last])
            kept = [*kept[:first], f"... [{omitted} output lines, about {hidden} tokens, omitted] ...", *kept[last:]]
        else:
            omitted = 0
    result = "\n".join(kept)
    if max_chars > 0 and len(result) > max_chars:
        half = max_chars // 2
        middle = len(result) - 2 * half
        chars += middle
        result = f"{result[:half]}\n... [{middle} characters omitted] ...\n{result[-half:]}"
    if text.endswith("\n") and not result.endswith("\n"):
        result += "\n"
    return Trimmed(result, omitted, chars)
