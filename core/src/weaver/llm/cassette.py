"""Recording LLM calls to a cassette and serving them back with no network.

A cassette is a JSON-lines file, one call a line: the *normalized* request and the reply
(its text as streamed, in chunks, and the API's token counts). Normalizing removes what
differs between two runs of the same session: timestamps, Weaver's random ids, UUIDs, long
hex ids, the project's absolute path; secrets are replaced before anything is written. The
same request recorded twice is served in recorded order.

A miss in ``replay`` mode raises :class:`ReplayMissError` showing the request that had no
match and a diff against its nearest recorded neighbour.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

import attrs

from weaver.llm.backend import BackendRequest, Completion
from weaver.llm.errors import ReplayMissError
from weaver.llm.schema import wire_schema
from weaver.serde import from_data, to_data

VERSION = 1
SECRET = "<secret>"
_VOLATILE = (
    (re.compile(r"\b[a-z]+-\d{8}-\d{6}-[0-9a-f]{6}\b"), "<id>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.IGNORECASE), "<uuid>"),
    (
        re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"),
        "<datetime>",
    ),
    (re.compile(r"\b1\d{9}\.\d+\b"), "<epoch>"),
    # Durations ("The execution succeeded (0.72 s).") differ on every run of the same session.
    (re.compile(r"\b\d+\.\d+ ?m?s\b"), "<duration>"),
    (re.compile(r"\b[0-9a-f]{16,}\b"), "<hex>"),
)
_MISS_DIFF_LINES = 40
MIN_SECRET_CHARS = 8
"""Shorter values are not treated as secrets: a local server's placeholder key such as ``"x"``
or ``"ollama"`` would otherwise be masked inside every word that contains it."""


def is_secret(value: str) -> bool:
    return len(value) >= MIN_SECRET_CHARS


@attrs.frozen
class Scrubber:
    """Replaces secrets and volatile values in text that goes into a cassette or a key.

    ``secrets`` are replaced everywhere; ``paths`` (the project directory) become ``<project>``.
    """

    secrets: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()

    def secret_free(self, text: str) -> str:
        for secret in self.secrets:
            if is_secret(secret):
                text = text.replace(secret, SECRET)
        return text

    def normalized(self, text: str) -> str:
        text = self.secret_free(text)
        for path in self.paths:
            text = text.replace(path, "<project>")
        for pattern, replacement in _VOLATILE:
            text = pattern.sub(replacement, text)
        return text


def normalize(request: BackendRequest, scrubber: Scrubber) -> dict[str, Any]:
    """The request as the cassette keys it: volatile values and secrets scrubbed."""
    return {
        "model": request.model,
        "json_mode": request.json_mode,
        "schema_name": request.schema_name,
        # What goes on the wire: Weaver's own schema keyword is no part of the request.
        "reply_schema": None if request.reply_schema is None else wire_schema(request.reply_schema),
        "messages": [{"role": m.role, "content": scrubber.normalized(m.content)} for m in request.messages],
    }


def request_key(normalized: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(normalized, sort_keys=True).encode()).hexdigest()


@attrs.frozen
class Recording:
    """One recorded call: the normalized request and the reply as it streamed."""

    request: dict[str, Any]
    chunks: tuple[str, ...]
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None

    @property
    def completion(self) -> Completion:
        return Completion("".join(self.chunks), self.prompt_tokens, self.completion_tokens, self.finish_reason)


class Cassette:
    """A cassette file, read on first use; ``truncate`` starts a fresh recording."""

    def __init__(self, path: Path, scrubber: Scrubber, *, truncate: bool = False) -> None:
        self.path = path
        self.scrubber = scrubber
        self._truncate = truncate
        self._recordings: dict[str, list[Recording]] | None = None
        self._served: dict[str, int] = defaultdict(int)
        self._file: IO[str] | None = None

    def lookup(self, request: BackendRequest) -> Recording | None:
        """The next recording of this request, or ``None``; after the last, the last repeats."""
        key = request_key(normalize(request, self.scrubber))
        found = self._load().get(key)
        if not found:
            return None
        index = min(self._served[key], len(found) - 1)
        self._served[key] += 1
        return found[index]

    def miss(self, request: BackendRequest) -> ReplayMissError:
        """The error for a request with no recording, naming its nearest recorded neighbour."""
        wanted = _render(normalize(request, self.scrubber))
        recorded = [_render(r.request) for recordings in self._load().values() for r in recordings]
        lines = [f"replay: no recorded reply in {self.path} for this request:", *_indent(wanted[:_MISS_DIFF_LINES])]
        if recorded:
            ratios = [difflib.SequenceMatcher(None, candidate, wanted, autojunk=False).ratio() for candidate in recorded]
            best = max(range(len(recorded)), key=ratios.__getitem__)
            diff = list(difflib.unified_diff(recorded[best], wanted, "recorded", "requested", n=2, lineterm=""))
            lines.append(f"nearest recorded request ({ratios[best]:.0%} similar), differences:")
            lines += _indent(diff[:_MISS_DIFF_LINES])
            if len(diff) > _MISS_DIFF_LINES:
                lines.append(f"    ... {len(diff) - _MISS_DIFF_LINES} more lines")
        else:
            lines.append("the cassette has no recordings (record with llm.mode = \"record\")")
        return ReplayMissError("\n".join(lines), cassette=str(self.path))

    def record(self, request: BackendRequest, chunks: Sequence[str], completion: Completion) -> None:
        """Append one call, secrets scrubbed, flushed at once."""
        normalized = normalize(request, self.scrubber)
        recording = Recording(
            request=normalized,
            chunks=tuple(self.scrubber.secret_free(chunk) for chunk in chunks),
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            finish_reason=completion.finish_reason,
        )
        if self._file is None:
            self._load()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        line = {"v": VERSION, "key": request_key(normalized), **to_data(recording)}
        self._file.write(json.dumps(line, ensure_ascii=False) + "\n")
        self._file.flush()
        self._load().setdefault(line["key"], []).append(recording)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _load(self) -> dict[str, list[Recording]]:
        if self._recordings is None:
            self._recordings = defaultdict(list)
            if self._truncate:
                self.path.unlink(missing_ok=True)
            elif self.path.is_file():
                for line in self.path.read_text(encoding="utf-8").splitlines():
                    if line.strip():
                        data = json.loads(line)
                        self._recordings[data["key"]].append(from_data(data, Recording))
        return self._recordings


def _render(normalized: dict[str, Any]) -> list[str]:
    """A request as lines of text, so a diff shows which message changed and where."""
    lines = [
        f"model: {normalized['model']}",
        f"json_mode: {normalized['json_mode']}",
        f"reply_schema ({normalized['schema_name']}): {json.dumps(normalized['reply_schema'], sort_keys=True)}",
    ]
    for message in normalized["messages"]:
        lines.append(f"[{message['role']}]")
        lines += message["content"].splitlines() or [""]
    return lines


def _indent(lines: Iterable[str]) -> list[str]:
    return [f"    {line}" for line in lines]
