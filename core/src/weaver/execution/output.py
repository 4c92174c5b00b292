"""Collecting one execution's messages from the kernel, within fixed memory.

Output is capped as each message arrives, never accumulated and cut afterwards, so a
program printing 100 MB leaves the host's memory flat. (The kernel's runtime caps its own
streams first; this cap catches output that bypasses it, such as a subprocess writing to
the kernel's file descriptors.)
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

from weaver.execution.result import Display, ErrorInfo
from weaver.execution.runtime import REPORT_MIME, SETUP_MIME

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


class Collector:
    """Everything one execution sent on the kernel's IOPub channel, for request ``msg_id``."""

    def __init__(self, msg_id: str, *, max_output_chars: int, max_value_chars: int, artifacts_dir: Path | None) -> None:
        self.msg_id = msg_id
        self.stdout = CappedText(max_output_chars + MARKER_ROOM)
        self.stderr = CappedText(max_output_chars + MARKER_ROOM)
        self.max_value_chars = max_value_chars
        self.artifacts_dir = artifacts_dir
        self.value: str | None = None
        self.value_cut = 0
        self.error: ErrorInfo | None = None
        self.displays: list[Display] = []
        self.saved: list[tuple[str, str]] = []
        self.reports: dict[str, list[dict[str, Any]]] = {REPORT_MIME: [], SETUP_MIME: []}
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
            (self.stderr if content.get("name") == "stderr" else self.stdout).add(content.get("text", ""))
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

    def _capped_value(self, text: str) -> str:
        if len(text) > self.max_value_chars:
            self.value_cut += len(text) - self.max_value_chars
            return text[: self.max_value_chars] + f"\n[... {len(text) - self.max_value_chars} characters cut ...]"
        return text

    def _display(self, data: dict[str, Any]) -> None:
        for mime in (REPORT_MIME, SETUP_MIME):
            if mime in data:
                self.reports[mime].append(data[mime])
                return
        artifact = None
        richest = next((m for m in _SAVED if m in data), None)
        if richest is not None and self.artifacts_dir is not None:
            artifact = self._save(richest, data[richest])
        self.displays.append(Display(tuple(data), self._capped_value(str(data.get("text/plain", ""))), artifact))

    def _save(self, mime: str, payload: Any) -> str:
        assert self.artifacts_dir is not None
        self.artifacts_dir.mkdir(parents=True, exist_ok=True)
        stem = f"display-{self.msg_id[:8]}-{len(self.saved) + 1}"
        path = self.artifacts_dir / f"{stem}{_SAVED[mime]}"
        if mime == "image/png":
            path.write_bytes(base64.b64decode(payload))
        else:
            path.write_text(payload if isinstance(payload, str) else "".join(payload), encoding="utf-8")
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
