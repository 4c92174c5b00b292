"""Collecting one execution's messages from the kernel, within fixed memory.

Output is capped as each message arrives, never accumulated and cut afterwards, so a
program printing 100 MB leaves the host's memory flat. (The kernel's runtime caps its own
streams first; this cap catches output that bypasses it, such as a subprocess writing to
the kernel's file descriptors.) Output can also be passed on live, within the same caps.

Rich displays are saved as files in the session's ``artifacts/``, which the kernel can
write too: each under a new name (``display-<execution count>-<n>``, with a suffix if that
exists), created with :func:`weaver.execution.files.write_new`, so no display ever
overwrites another file or writes through a link.

**Input requests.** A kernel asks its front end for input on the stdin channel
(``input_request``, answered by ``input_reply``) while the code waits: for ``input()``, and
for a host plugin's call (:mod:`weaver.execution.runtime.hostcall`). The answer is decided
here, so every kernel transport answers alike; a transport (local ZeroMQ, a gateway's
websocket) only has to

1. send user code with ``allow_stdin: true`` in its ``execute_request``;
2. pass each ``input_request`` it receives on the stdin channel to
   :meth:`Collector.answer_input`, with its deadline, while it waits for the execution;
3. send what that returns as ``input_reply`` (``{"value": ...}``) on the stdin channel,
   and add :attr:`Collector.paused_s` (time a person took to approve a call) to its deadline.

A host-plugin call goes to the execution's :data:`InputHandler`. Any other request (code
calling ``input()`` or ``getpass``) is answered at once with end-of-file, so the code gets
``EOFError`` and a note on stderr: nobody types into a session's kernel, and nothing the
code does can make the session wait for a person.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import attrs

from weaver.execution.files import UnsafePathError, write_new
from weaver.execution.result import Display, ErrorInfo
from weaver.execution.runtime import REPORT_MIME, SETUP_MIME, TRANSFER_MIME
from weaver.execution.runtime.hostcall import CALL_PREFIX

log = logging.getLogger("weaver.execution")

OutputCallback = Callable[[str, str], None]
"""``on_output(stream_name, text)``: ``"stdout"`` or ``"stderr"``, and the text that arrived."""

END_OF_INPUT = "\x04"
"""The ``input_reply`` value ipykernel turns into ``EOFError`` in the code."""


@attrs.frozen
class InputAnswer:
    """The reply to one input request, and how long of it was spent waiting for a person
    (an approval), which the execution's time limit does not count."""

    value: str
    paused_s: float = 0.0


InputHandler = Callable[[str, float], Awaitable[InputAnswer]]
"""``answer(call, deadline)``: the reply to a host-plugin call (the JSON after
:data:`~weaver.execution.runtime.hostcall.CALL_PREFIX`), to be given before ``deadline``
(``time.monotonic()``); see :mod:`weaver.plugins.host`."""

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_SAVED = {"image/png": ".png", "image/svg+xml": ".svg", "text/html": ".html"}
MARKER_ROOM = 256
"""Room above the kernel's cap for its own cut notes, so output is not cut twice."""


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


class CappedText:
    """A stream's text with at most ``limit`` characters kept: the head, then the tail."""

    def __init__(self, limit: int) -> None:
        self.head_limit = limit - limit // 4
        self.tail_limit = limit // 4
        self.head: list[str] = []
        self.head_size = 0
        self.tail = ""
        self.cut = 0

    def add(self, text: str) -> None:
        room = self.head_limit - self.head_size
        if room > 0:
            part = text[:room]
            self.head.append(part)
            self.head_size += len(part)
            text = text[room:]
        if text:
            kept = self.tail + text
            if len(kept) > self.tail_limit:
                self.cut += len(kept) - self.tail_limit
                kept = kept[len(kept) - self.tail_limit :]
            self.tail = kept

    def text(self) -> str:
        note = f"\n[... {self.cut} characters cut ...]\n" if self.cut else ""
        return "".join(self.head) + note + self.tail


class LiveOutput:
    """Passes a stream's text on as it arrives, up to ``limit`` characters, then one note."""

    def __init__(self, name: str, callback: OutputCallback, limit: int) -> None:
        self.name = name
        self.callback = callback
        self.room = limit

    def add(self, text: str) -> None:
        if self.room <= 0 or not text:
            return
        part = text[: self.room]
        self.room -= len(part)
        if self.room <= 0:
            part += "\n[... more output: the result keeps its head and tail ...]\n"
        try:
            self.callback(self.name, part)
        except Exception:
            log.exception("on_output callback %r failed", self.callback)


class Collector:
    """Everything one execution sent on the kernel's IOPub channel, for request ``msg_id``."""

    def __init__(
        self,
        msg_id: str,
        *,
        max_output_chars: int,
        max_value_chars: int,
        artifacts_dir: Path | None,
        on_output: OutputCallback | None = None,
        on_input: InputHandler | None = None,
    ) -> None:
        self.msg_id = msg_id
        self.on_input = on_input
        self.paused_s = 0.0
        """Time spent waiting for people during this execution (approvals of host calls)."""
        self.stdout = CappedText(max_output_chars + MARKER_ROOM)
        self.stderr = CappedText(max_output_chars + MARKER_ROOM)
        self.live = (
            {name: LiveOutput(name, on_output, max_output_chars + MARKER_ROOM) for name in ("stdout", "stderr")}
            if on_output is not None
            else {}
        )
        self.execution_count: int | None = None
        self.max_value_chars = max_value_chars
        self.artifacts_dir = artifacts_dir
        self.value: str | None = None
        self.value_cut = 0
        self.error: ErrorInfo | None = None
        self.displays: list[Display] = []
        self.saved: list[tuple[str, str]] = []
        self.reports: dict[str, list[dict[str, Any]]] = {REPORT_MIME: [], SETUP_MIME: [], TRANSFER_MIME: []}
        self.idle = False
        self.reply: dict[str, Any] | None = None

    @property
    def done(self) -> bool:
        return self.idle and self.reply is not None

    def add(self, msg: dict[str, Any]) -> None:
        """Take one IOPub message (messages for other requests are ignored)."""
        if msg.get("parent_header", {}).get("msg_id") != self.msg_id:
            return
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            name = "stderr" if content.get("name") == "stderr" else "stdout"
            text = content.get("text", "")
            (self.stderr if name == "stderr" else self.stdout).add(text)
            if name in self.live:
                self.live[name].add(text)
        elif kind == "execute_input":
            self.execution_count = content.get("execution_count")
        elif kind == "execute_result":
            self.value = self._capped_value(content.get("data", {}).get("text/plain", ""))
        elif kind in ("display_data", "update_display_data"):
            self._display(content.get("data", {}))
        elif kind == "error":
            self.error = ErrorInfo(
                type=content.get("ename", "Error"),
                message=content.get("evalue", ""),
                traceback=strip_ansi("\n".join(content.get("traceback", []))),
            )
        elif kind == "status" and content.get("execution_state") == "idle":
            self.idle = True

    async def answer_input(self, msg: dict[str, Any], deadline: float) -> str | None:
        """The ``input_reply`` value for a stdin-channel ``input_request`` of this execution
        (``None``: the request is another's). See the module docstring."""
        if msg.get("msg_type") != "input_request" or msg.get("parent_header", {}).get("msg_id") != self.msg_id:
            return None
        prompt = str(msg.get("content", {}).get("prompt", ""))
        if prompt.startswith(CALL_PREFIX):
            if self.on_input is None:
                return END_OF_INPUT  # the stub raises: nothing on this side runs host plugins
            answer = await self.on_input(prompt[len(CALL_PREFIX) :], deadline)
            self.paused_s += answer.paused_s
            return answer.value
        shown = prompt if len(prompt) <= 80 else prompt[:80] + "..."
        self.stderr.add(f"\n[weaver] the code asked for input ({shown!r}); nobody can type here, so it got EOFError\n")
        return END_OF_INPUT

    def _capped_value(self, text: str) -> str:
        if len(text) > self.max_value_chars:
            self.value_cut += len(text) - self.max_value_chars
            return text[: self.max_value_chars] + f"\n[... {len(text) - self.max_value_chars} characters cut ...]"
        return text

    def _display(self, data: dict[str, Any]) -> None:
        for mime in self.reports:
            if mime in data:
                self.reports[mime].append(data[mime])
                return
        artifact = None
        richest = next((m for m in _SAVED if m in data), None)
        if richest is not None and self.artifacts_dir is not None:
            artifact = self._save(richest, data[richest])
        self.displays.append(Display(tuple(data), self._capped_value(str(data.get("text/plain", ""))), artifact))

    def _save(self, mime: str, payload: Any) -> str | None:
        assert self.artifacts_dir is not None
        name = f"display-{self.execution_count or 0}-{len(self.saved) + 1}{_SAVED[mime]}"
        try:
            if mime == "image/png":
                data = base64.b64decode(payload)
            else:
                data = (payload if isinstance(payload, str) else "".join(payload)).encode("utf-8", "surrogateescape")
            path = write_new(self.artifacts_dir, name, data)
        except (UnsafePathError, OSError, binascii.Error, TypeError, ValueError) as exc:
            self.stderr.add(f"\n[weaver] a display was not saved as a file: {exc}\n")
            return None
        self.saved.append((str(path), mime))
        return str(path)

    def truncated(self) -> list[str]:
        """Notes for what this side cut (the kernel reports its own cuts separately)."""
        notes = []
        for name, text in (("stdout", self.stdout), ("stderr", self.stderr)):
            if text.cut:
                notes.append(f"{name}: {text.cut} characters cut (head and tail kept)")
        if self.value_cut:
            notes.append(f"value: {self.value_cut} characters of the repr cut")
        return notes
