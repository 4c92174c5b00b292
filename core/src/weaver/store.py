"""The session store: an append-only event log per session, enough to rebuild it.

Layout under the workspace::

    sessions/<id>/events.jsonl   one durable event a line, flushed as each is written
    sessions/<id>/cwd/           the kernel's working directory (uploads, files code writes)
    sessions/<id>/artifacts/     plots and tables the code produced
    sessions/<id>/content/       messages too long for the history, each kept whole once

Any text can be stored: an event whose text is not valid Unicode (a lone surrogate from a
broken client or a file name) is written with its non-ASCII characters escaped, which JSON
reads back exactly.

A process killed mid-write leaves at most a torn last line; reading reports it and skips
it, so every post reported done before the kill is still there.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import attrs
import cattrs

from weaver.errors import WeaverError
from weaver.events import Event, EventType
from weaver.model import Post, Round, RoundState
from weaver.serde import from_data, to_data

LOG_NAME = "events.jsonl"
INTERRUPTED = "interrupted: the process stopped before this round ended"
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
"""What a session id may be: it names a directory, so no separators, dots or other characters."""


@attrs.define(eq=False)
class InvalidSessionId(WeaverError):
    """A session id that cannot name a session directory (``..``, ``/abs``, empty, ...)."""

    session_id: str = ""


@attrs.frozen
class SessionPaths:
    root: Path

    @property
    def log(self) -> Path:
        return self.root / LOG_NAME

    @property
    def cwd(self) -> Path:
        return self.root / "cwd"

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    @property
    def content(self) -> Path:
        return self.root / "content"

    def create(self) -> None:
        # Only the host enters a session directory until a kernel is given its part of it
        # (weaver.execution.kernel.prepare_session): the log is not for kernels to read.
        self.root.parent.mkdir(parents=True, exist_ok=True)
        self.root.mkdir(mode=0o700, exist_ok=True)
        for path in (self.cwd, self.artifacts):
            path.mkdir(exist_ok=True)


@attrs.frozen
class LogContents:
    events: tuple[Event, ...]
    problems: tuple[str, ...] = ()


class SessionStore:
    """Appends one session's durable events; one writer per session."""

    def __init__(self, paths: SessionPaths) -> None:
        self.paths = paths
        paths.create()
        fd = os.open(paths.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._file = open(fd, "ab")  # noqa: SIM115 - closed in close()
        if _ends_torn(paths.log):
            # A crash left half a line: end it, or the next event would be glued onto it and lost too.
            self._file.write(b"\n")

    def append(self, event: Event) -> None:
        try:
            line = (event.json + "\n").encode("utf-8")
        except UnicodeEncodeError:
            line = (json.dumps(to_data(event), ensure_ascii=True, separators=(",", ":")) + "\n").encode("ascii")
        self._file.write(line)
        self._file.flush()

    def keep(self, name: str, text: str) -> Path:
        """Write ``text`` whole to ``content/<name>`` (for a message too long for the history)."""
        self.paths.content.mkdir(parents=True, exist_ok=True)
        path = self.paths.content / name
        path.write_text(text, encoding="utf-8", errors="backslashreplace")
        return path

    def close(self) -> None:
        self._file.close()


def _ends_torn(path: Path) -> bool:
    with open(path, "rb") as handle:
        if handle.seek(0, 2) == 0:
            return False
        handle.seek(-1, 2)
        return handle.read(1) != b"\n"


def sessions_dir(workspace: Path) -> Path:
    return workspace / "sessions"


def session_paths(workspace: Path, session_id: str) -> SessionPaths:
    """The paths of session ``session_id``, which must be letters, digits, ``_`` and ``-``.

    Raises :class:`InvalidSessionId` for anything else, so no id can reach outside the
    workspace's ``sessions/`` directory.
    """
    if not isinstance(session_id, str) or not SESSION_ID.fullmatch(session_id):
        raise InvalidSessionId(
            f"{session_id!r} is not a session id: use 1 to 128 letters, digits, '_' and '-'", session_id=str(session_id)
        )
    return SessionPaths(sessions_dir(workspace) / session_id)


def session_ids(workspace: Path) -> list[str]:
    root = sessions_dir(workspace)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / LOG_NAME).is_file())


def read_log(path: Path) -> LogContents:
    """Every well-formed event; a torn or corrupt line is reported in ``problems`` and skipped."""
    events: list[Event] = []
    problems: list[str] = []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                events.append(from_data(json.loads(line), Event))
            except (ValueError, TypeError, KeyError, cattrs.BaseValidationError) as exc:
                torn = "" if line.endswith("\n") else " (torn last line, likely a crash while writing)"
                problems.append(f"{path}:{number}: skipped an unreadable event{torn}: {exc}")
    return LogContents(tuple(events), tuple(problems))


def rebuild_rounds(events: tuple[Event, ...]) -> tuple[Round, ...]:
    """Rounds as the log records them; a round the log never saw end is marked interrupted."""
    rounds: dict[str, Round] = {}
    for event in events:
        if event.round_id is None:
            continue
        if event.type is EventType.round_start:
            rounds[event.round_id] = Round(
                id=event.round_id, user_query=event.data["user_query"], state=RoundState.running, created_at=event.time
            )
        elif event.type is EventType.post_end and event.round_id in rounds:
            current = rounds[event.round_id]
            post = from_data(event.data["post"], Post)
            rounds[event.round_id] = attrs.evolve(current, posts=(*current.posts, post))
        elif event.type is EventType.round_end:
            ended = from_data(event.data["round"], Round)
            if "post_ids" in event.data:  # since schema 2 the posts are only in their post_end events
                logged = {post.id: post for post in rounds[event.round_id].posts} if event.round_id in rounds else {}
                ended = attrs.evolve(ended, posts=tuple(logged[i] for i in event.data["post_ids"] if i in logged))
            rounds[event.round_id] = ended
    return tuple(
        r if r.state.is_final else attrs.evolve(r, state=RoundState.failed, reason=INTERRUPTED)
        for r in rounds.values()
    )

