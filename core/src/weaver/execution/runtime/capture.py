"""What the kernel captures around an execution: capped output, figures and artifact files."""

from __future__ import annotations

import mimetypes
import sys
from pathlib import Path
from typing import Any, BinaryIO, TextIO


class StreamCap:
    """Caps what one stream sends per execution, keeping its head and its tail.

    The head passes through as it is written; past it only the last ``tail`` characters
    are kept, and :meth:`finish` writes them after a note of how much was cut. A program
    printing 100 MB therefore sends about ``limit`` characters to the host.

    It is attached for each execution, from inside IPython's own per-cell wrapper of
    ``write`` (which keeps every cell's output in memory for its history), so that wrapper
    only ever sees the capped text.
    """

    def __init__(self, limit: int) -> None:
        self.head = max(0, limit - limit // 4)
        self.tail_size = limit // 4
        self._stream: TextIO | None = None
        self._write: Any = None
        self.reset()

    def reset(self) -> None:
        self.written = 0
        self.tail = ""
        self.cut = 0

    def attach(self, stream: TextIO) -> None:
        """Cap ``stream`` until :meth:`finish`."""
        self.reset()
        self._stream, self._write = stream, stream.write
        stream.write = self.write  # type: ignore[method-assign]

    def write(self, text: str) -> int:
        size = len(text)
        room = self.head - self.written
        self.written += size
        if room > 0:
            self._write(text[:room])
            text = text[room:]
        if text:
            kept = self.tail + text
            if len(kept) > self.tail_size:
                self.cut += len(kept) - self.tail_size
                kept = kept[len(kept) - self.tail_size :]
            self.tail = kept
        return size

    def finish(self) -> int:
        """Send the kept tail (after a note if anything was cut), detach; return the characters cut."""
        cut, tail = self.cut, self.tail
        if self._stream is None:
            return 0
        if cut:
            self._write(f"\n[... {cut} characters cut ...]\n")
        if tail:
            self._write(tail)
        self._stream.write = self._write  # type: ignore[method-assign]
        self._stream = None
        self.reset()
        return cut


def snapshot(directory: Path) -> dict[str, int]:
    """Files under ``directory`` with their modification times."""
    if not directory.is_dir():
        return {}
    return {str(p): p.stat().st_mtime_ns for p in directory.rglob("*") if p.is_file()}


def changed_files(directory: Path, before: dict[str, int]) -> list[dict[str, str]]:
    """Files new or modified since ``before``, as ``{"path", "mime"}``."""
    after = snapshot(directory)
    return [
        {"path": path, "mime": mimetypes.guess_type(path)[0] or "application/octet-stream"}
        for path, mtime in sorted(after.items())
        if before.get(path) != mtime
    ]


def save_figures(directory: Path, stem: str) -> None:
    """Save every open matplotlib figure as a PNG in ``directory`` and close them all.

    Each goes to a file that did not exist (``<stem>-figure-<n>.png``, else with a suffix):
    a kernel restarted with its execution count back at 1 does not overwrite the figures
    of the one before.
    """
    pyplot: Any = sys.modules.get("matplotlib.pyplot")
    if pyplot is None:
        return
    for number in pyplot.get_fignums():
        with _new_file(directory, f"{stem}-figure-{number}", ".png") as file:
            pyplot.figure(number).savefig(file, format="png")
    pyplot.close("all")


def _new_file(directory: Path, stem: str, suffix: str) -> BinaryIO:
    for n in range(1, 1000):
        try:
            return open(directory / (f"{stem}{suffix}" if n == 1 else f"{stem}-{n}{suffix}"), "xb")
        except FileExistsError:
            continue
    raise FileExistsError(f"no free file name like {stem}{suffix} in {directory}")
