"""A kernel process's own output (outside Jupyter's channels), kept as a bounded tail.

The kernel's stdout and stderr are a pipe whose reading end only the host holds, drained
on the event loop as output arrives; only the last :data:`KEEP` bytes are kept. So there is
no log file for kernel code to replace with a link, and a kernel that writes 600 MB and
crashes costs the host 64 KB. (ipykernel forwards what the code writes to the file
descriptors over IOPub, where :mod:`weaver.execution.output` caps it; what reaches this
pipe is what the process writes before ipykernel starts and when it crashes.)
"""

from __future__ import annotations

import asyncio
import contextlib
import os

KEEP = 64 * 1024
_READ = 64 * 1024
_PER_CALL = 16
"""Reads per loop callback, so a flood of output cannot hold the event loop."""


class LogTail:
    """The reading end of a kernel's output pipe; :attr:`write_fd` goes to the kernel."""

    def __init__(self, keep: int = KEEP) -> None:
        self.keep = keep
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        self.total = 0
        """Bytes the kernel wrote, all told."""
        self._tail = bytearray()
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        """Close the host's copy of the writing end and drain on the running loop."""
        self._close_writer()
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.read_fd, self._drain, _PER_CALL)

    def _drain(self, reads: int) -> None:
        for _ in range(reads):
            try:
                data = os.read(self.read_fd, _READ)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._stop_reading()
                return
            self.total += len(data)
            self._tail += data
            if len(self._tail) > self.keep:
                del self._tail[: len(self._tail) - self.keep]

    def text(self, chars: int) -> str:
        """The last ``chars`` characters written, after taking what is still in the pipe."""
        if self.read_fd >= 0:
            self._drain(self.keep // _READ + 2)
        return self._tail.decode("utf-8", errors="replace")[-chars:].strip()

    def _stop_reading(self) -> None:
        if self._loop is not None and self.read_fd >= 0:
            with contextlib.suppress(Exception):  # the loop may be closed already
                self._loop.remove_reader(self.read_fd)
        self._loop = None
        if self.read_fd >= 0:
            os.close(self.read_fd)
            self.read_fd = -1

    def _close_writer(self) -> None:
        if self.write_fd >= 0:
            os.close(self.write_fd)
            self.write_fd = -1

    def close(self) -> None:
        self._close_writer()
        self._stop_reading()
