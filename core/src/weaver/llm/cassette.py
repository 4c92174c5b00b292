"""Recording LLM calls to a cassette and serving them back with no network.

A cassette is a JSON-lines file, one call a line: the *normalized* request and the reply
(its text as streamed, in chunks, and the API's token counts). Normalizing removes what
differs between two runs of the same session: timestamps, Weaver's random ids, UUIDs, long
hex ids, the project's absolute path; secrets are replaced before anything is written. The
same request recorded twice is served in recorded order.

A miss in ``replay`` mode raises :class:`ReplayMissError` showing the request that had no
match and a diff against its nearest recorded neighbour.

Host plugins record beside the LLM calls (:mod:`weaver.plugins.host`): a line with
``"kind": "plugin_call"`` holds one call (the plugin, its arguments as wire JSON, the
answer), and ``"kind": "plugin_tools"`` the tool listing of a plugin source (an MCP
server), so a session with host plugins replays with no server running. Calls are served
in recorded order per plugin and arguments, as LLM calls are.
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
_SESSION_PLACE = re.compile(r"<project>/[^\s'\"]*?/sessions/<id>")
"""A session's directory inside the project, wherever its workspace is (the App's
``.weaver/``, a service user's own): one place, so a session replays in any workspace."""
_SESSION_HOME = "<project>/.weaver/sessions/<id>"
_MISS_DIFF_LINES = 40
MIN_SECRET_CHARS = 8
"""Shorter values are not treated as secrets: a local server's placeholder key such as ``"x"``
or ``"ollama"`` would otherwise be masked inside every word that contains it."""


def is_secret(value: str) -> bool:
    return len(value) >= MIN_SECRET_CHARS


@attrs.frozen
class Scrubber:
    """Replaces secrets and volatile values in text that goes into a cassette or a key.

    ``secrets`` are replaced everywhere; ``paths`` (the project directory) become ``<project>``,
    and a session's directory under the project is the same whatever workspace holds it.
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
        return _SESSION_PLACE.sub(_SESSION_HOME, text)


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
        self._host: dict[str, list[Any]] = defaultdict(list)
        """Host-plugin recordings by key (``call:<sha>`` or ``tools:<source>``)."""

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
        key = request_key(normalized)
        self._append({"key": key, **to_data(recording)})
        self._load().setdefault(key, []).append(recording)

    # ---- host plugins (weaver.plugins.sources.HostRecordings) ---------------------------

    def recorded_call(self, plugin: str, arguments: str) -> dict[str, Any] | None:
        """The next recorded answer of host plugin ``plugin`` to ``arguments``, or ``None``."""
        key = self._call_key(plugin, arguments)
        self._load()
        found = self._host.get(key)
        if not found:
            return None
        index = min(self._served[key], len(found) - 1)
        self._served[key] += 1
        answer: dict[str, Any] = found[index]
        return answer

    def record_call(self, plugin: str, arguments: str, answer: dict[str, Any]) -> None:
        """Append one host-plugin call, secrets scrubbed."""
        scrubbed = json.loads(self.scrubber.secret_free(json.dumps(answer, ensure_ascii=False)))
        key = self._call_key(plugin, arguments)
        self._append({"kind": "plugin_call", "key": key, "plugin": plugin, "arguments": self.scrubber.secret_free(arguments), "answer": scrubbed})
        self._host[key].append(scrubbed)

    def recorded_tools(self, source: str) -> list[dict[str, Any]] | None:
        """The tool listing recorded for plugin source ``source`` (the latest), or ``None``."""
        self._load()
        found = self._host.get(f"tools:{source}")
        return found[-1] if found else None

    def record_tools(self, source: str, tools: list[dict[str, Any]]) -> None:
        """Append the tool listing of plugin source ``source``."""
        self._append({"kind": "plugin_tools", "key": f"tools:{source}", "source": source, "tools": tools})
        self._host[f"tools:{source}"].append(tools)

    def _call_key(self, plugin: str, arguments: str) -> str:
        text = json.dumps([plugin, self.scrubber.normalized(arguments)], ensure_ascii=False)
        return "call:" + hashlib.sha256(text.encode()).hexdigest()

    def _append(self, line: dict[str, Any]) -> None:
        if self._file is None:
            self._load()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self._file.write(json.dumps({"v": VERSION, **line}, ensure_ascii=False) + "\n")
        self._file.flush()

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
                        kind = data.get("kind")
                        if kind == "plugin_call":
                            self._host[data["key"]].append(data["answer"])
                        elif kind == "plugin_tools":
                            self._host[data["key"]].append(data["tools"])
                        else:
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
