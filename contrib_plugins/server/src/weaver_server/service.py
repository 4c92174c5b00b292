"""The service behind the API: one App, every user's workspace, the open sessions, their rounds.

One :class:`weaver.App` serves every user (one event loop, one warm kernel pool); each user's
sessions are stored in that user's own workspace, ``<workspace>/users/<user>/``, and every
lookup goes through the user it is made for, so one user's ids never reach another's files.
A round runs on the App's loop in the background: :meth:`WeaverService.send` returns as soon
as the round has started, with its id. At most ``[server] max_open_sessions`` sessions stay
open; past that the least recently used idle one is closed (its kernel stopped), and opened
again from its log when it is next used.

Methods are called on the server's event loop; events arrive on the App's loop thread and
are handed to each session's :class:`~weaver_server.stream.EventHub`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import shutil
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import attrs

from weaver.approvals import ApprovalRequest, Decision
from weaver.engine import App, Session
from weaver.errors import SessionNotFoundError, WeaverError
from weaver.events import Event, EventType
from weaver.model import Round
from weaver.serde import to_data
from weaver.store import SessionPaths, session_paths
from weaver_server import files
from weaver_server.config import ServerConfig
from weaver_server.names import check_name, check_path
from weaver_server.stream import EventHub, Item, StreamMessage
from weaver_server.users import Users
from weaver_server.views import SessionRecord, detail

log = logging.getLogger("weaver.server")
Key = tuple[str, str]
"""``(user, session id)``."""
USERS_DIR = "users"


class Busy(WeaverError):
    """The session cannot take this now (a round is running, or its id is in use elsewhere)."""


class Stopping(WeaverError):
    """The service is shutting down and starts no more rounds."""


@attrs.define(eq=False)
class OpenSession:
    """A session this server has open, and the round it is running."""

    user: str
    session: Session
    hub: EventHub
    running: concurrent.futures.Future[Round] | None = None
    round_id: str | None = None
    started: asyncio.Future[str] | None = None
    taking: list[str] = attrs.field(factory=list)
    """The uploads the running round takes into the session."""
    used: float = attrs.field(factory=time.monotonic)


class WeaverService:
    """Sessions of many users on one App; see the module's docstring."""

    def __init__(self, app: App, config: ServerConfig, users: Users) -> None:
        self.app = app
        self.config = config
        self.users = users
        self.stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._open: dict[Key, OpenSession] = {}
        self._hubs: dict[Key, EventHub] = {}
        self._owners: dict[str, str] = {}
        """Session id → user, for every session with a hub (read on the App's loop thread)."""
        self._closing: dict[Key, asyncio.Task[None]] = {}
        self._unsubscribe: Callable[[], None] | None = None

    # ---- lifecycle --------------------------------------------------------------------

    def start(self) -> None:
        """Begin taking the App's events; called on the server's loop once it runs."""
        self._loop = asyncio.get_running_loop()
        if self._unsubscribe is None:
            self._unsubscribe = self.app.subscribe(self._on_event)
        if any(spec.runs_code for spec in self.app.roles.values()):
            self.app.warm_up()

    async def drain(self) -> None:
        """Stop taking rounds, cancel the running ones (each is recorded as cancelled) and end
        every event stream; waits up to ``[server] shutdown_grace_s`` for the rounds to end."""
        self.stopping = True
        running = [entry for entry in self._open.values() if entry.running is not None]
        deadline = time.monotonic() + self.config.shutdown_grace_s
        waiting = {entry.running for entry in running if entry.running is not None}
        while waiting and time.monotonic() < deadline:
            for entry in running:
                entry.session.cancel()  # until it takes: a round scheduled a moment ago has not begun
            done, _ = concurrent.futures.wait(waiting, timeout=0)
            waiting -= done
            await asyncio.sleep(0.05)
        for hub in list(self._hubs.values()):
            hub.close()

    async def close(self) -> None:
        """Drain, then close every open session (its kernel) and stop taking events."""
        await self.drain()
        for task in list(self._closing.values()):
            await task
        for entry in list(self._open.values()):
            await self._close_session(entry)
        self._open.clear()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    # ---- where things are -------------------------------------------------------------

    def workspace(self, user: str) -> Path:
        """The user's own workspace: ``<the App's workspace>/users/<user>``."""
        return self.app.workspace / USERS_DIR / user

    def paths(self, user: str, session_id: str) -> SessionPaths:
        """The user's session, which must exist (else :class:`SessionNotFoundError`)."""
        paths = session_paths(self.workspace(user), session_id)
        if not paths.log.is_file():
            raise SessionNotFoundError(f"no session {session_id!r}", session_id=session_id)
        return paths

    def session_ids(self, user: str) -> list[str]:
        return self.app.session_ids(workspace=self.workspace(user))

    def record(self, user: str, session_id: str) -> SessionRecord:
        """The session as its log records it, the running round marked."""
        paths = self.paths(user, session_id)
        entry = self._open.get((user, session_id))
        return SessionRecord.read(session_id, paths.log, entry.round_id if entry else None)

    def describe(self, user: str, session_id: str) -> dict[str, Any]:
        """:func:`~weaver_server.views.detail`, with what only this server knows: approvals
        waiting, uploads waiting, whether the session is open."""
        shown = detail(self.record(user, session_id))
        entry = self._open.get((user, session_id))
        shown["open"] = entry is not None
        shown["pending_approvals"] = [to_data(r) for r in self.pending_approvals(user, session_id)]
        shown["uploads"] = [to_data(info) for info in files.staged(self.paths(user, session_id).root)]
        if entry is not None and entry.session.variables():
            shown["variables"] = [to_data(v) for v in entry.session.variables()]
        return shown

    # ---- sessions ---------------------------------------------------------------------

    async def create(self, user: str) -> str:
        """A new, empty session in the user's workspace; returns its id."""
        self._refuse_if_stopping()
        session = self.app.session(workspace=self.workspace(user))
        # An empty log makes the session exist (listed, resumable) before its first round.
        session.paths.create()
        session.paths.log.touch()
        key = (user, session.id)
        self._open[key] = OpenSession(user, session, self._hub(key))
        self._evict()
        return session.id

    async def open(self, user: str, session_id: str) -> OpenSession:
        """The user's session, opened from its log if it is not open."""
        key = (user, session_id)
        closing = self._closing.get(key)
        if closing is not None:
            await asyncio.shield(closing)
        entry = self._open.get(key)
        if entry is None:
            self.paths(user, session_id)
            hub = self._hub(key)
            session = self.app.resume(session_id, workspace=self.workspace(user))
            entry = self._open[key] = OpenSession(user, session, hub)
            self._evict()
        entry.used = time.monotonic()
        return entry

    async def delete(self, user: str, session_id: str) -> None:
        """Cancel the session's round, close it and remove everything it stored."""
        paths = self.paths(user, session_id)
        key = (user, session_id)
        entry = self._open.pop(key, None)
        if entry is not None:
            await self._close_session(entry)
        closing = self._closing.get(key)
        if closing is not None:
            await asyncio.shield(closing)
        hub = self._hubs.pop(key, None)
        if hub is not None:
            hub.close()
            self._owners.pop(session_id, None)
        await asyncio.to_thread(shutil.rmtree, paths.root)

    # ---- rounds -----------------------------------------------------------------------

    async def send(self, user: str, session_id: str, text: str, names: list[str] | None) -> dict[str, Any]:
        """Start a round with ``text`` and the uploads named (all waiting ones when ``None``).

        Returns once the round has started: its id, and ``after``, the id of the last event
        before it (stream from there to see the whole round).
        """
        self._refuse_if_stopping()
        entry = await self.open(user, session_id)
        if entry.running is not None:
            raise Busy(f"session {session_id} is running round {entry.round_id}: cancel it or wait for it to end")
        root = entry.session.paths.root
        waiting = {info.path for info in files.staged(root)}
        names = sorted(waiting) if names is None else [check_name(name) for name in names]
        missing = [name for name in names if name not in waiting]
        if missing:
            raise files.FileNotInSession(f"no upload named {', '.join(map(repr, missing))} is waiting in this session")
        uploads = [root / files.UPLOADS / name for name in names]
        loop = asyncio.get_running_loop()
        entry.started = loop.create_future()
        after = entry.hub.seq
        future = asyncio.run_coroutine_threadsafe(entry.session.asend_message(text, uploads), self.app.loop)
        entry.running = future
        entry.taking = names
        future.add_done_callback(lambda done: loop.call_soon_threadsafe(self._ended, entry, done))
        round_id = await asyncio.shield(entry.started)
        return {"session_id": session_id, "round_id": round_id, "after": after}

    def cancel(self, user: str, session_id: str, round_id: str) -> bool:
        """Cancel the round if it is the one running; ``False`` when it is not running."""
        self.paths(user, session_id)
        entry = self._open.get((user, session_id))
        if entry is None or entry.round_id != round_id:
            return False
        return entry.session.cancel()

    def pending_approvals(self, user: str, session_id: str) -> tuple[ApprovalRequest, ...]:
        self.paths(user, session_id)
        entry = self._open.get((user, session_id))
        return entry.session.pending_approvals() if entry is not None else ()

    def answer(self, user: str, session_id: str, request_id: str, decision: Decision, content: str | None, reason: str) -> bool:
        """Answer an approval request of the user's session; ``False`` when none waits with that id."""
        self.paths(user, session_id)
        entry = self._open.get((user, session_id))
        if entry is None:
            return False
        return entry.session.answer(request_id, decision, content=content, reason=reason)

    # ---- files ------------------------------------------------------------------------

    async def upload(self, user: str, session_id: str, name: str, chunks: AsyncIterator[bytes]) -> files.FileInfo:
        """Stage an upload for the session's next message; an earlier one of that name is replaced."""
        root = self.paths(user, session_id).root
        staged = files.StagedUpload(root, check_name(name), self.config.max_upload_bytes)
        try:
            async for chunk in chunks:
                staged.write(chunk)
            staged.commit()
        except BaseException:
            staged.discard()
            raise
        return next(info for info in files.staged(root) if info.path == name)

    def open_file(self, user: str, session_id: str, area: str, path: str) -> tuple[int, Any]:
        """A descriptor of a regular file in the session's ``area`` and its status."""
        return files.open_file(self.paths(user, session_id).root, (files.AREAS[area], *check_path(path)))

    # ---- streams ----------------------------------------------------------------------

    def hub_for(self, user: str, session_id: str) -> EventHub:
        """The session's event hub (the session need not be open to be watched)."""
        self.paths(user, session_id)
        return self._hub((user, session_id))

    async def follow(self, user: str, session_id: str, after: int, until: Callable[[Item], bool]) -> AsyncIterator[StreamMessage]:
        key = (user, session_id)
        hub = self._hubs.get(key) or self.hub_for(user, session_id)
        try:
            async for message in hub.follow(after, self.config.heartbeat_s, until):
                yield message
        finally:
            self._release_hub(key)

    # ---- inside -----------------------------------------------------------------------

    def _refuse_if_stopping(self) -> None:
        if self.stopping:
            raise Stopping("the server is shutting down")

    def _hub(self, key: Key) -> EventHub:
        user, session_id = key
        owner = self._owners.get(session_id)
        if owner is not None and owner != user:
            raise Busy(f"a session with the id {session_id} is open in another workspace")
        hub = self._hubs.get(key)
        if hub is None:
            hub = self._hubs[key] = EventHub(session_paths(self.workspace(user), session_id).log, self.config.stream_buffer)
            if self.stopping:
                hub.close()
            self._owners[session_id] = user
        return hub

    def _release_hub(self, key: Key) -> None:
        hub = self._hubs.get(key)
        if hub is not None and key not in self._open and key not in self._closing and not hub.watched:
            del self._hubs[key]
            self._owners.pop(key[1], None)

    def _on_event(self, event: Event) -> None:
        """On the App's loop thread: hand the event to its session's hub, note a round's start."""
        user = self._owners.get(event.session_id)
        if user is None:
            return
        key = (user, event.session_id)
        hub = self._hubs.get(key)
        if hub is not None:
            hub.publish(event)
        entry = self._open.get(key)
        if entry is None or event.round_id is None or self._loop is None:
            return
        if event.type is EventType.round_start:
            self._loop.call_soon_threadsafe(self._started, entry, event.round_id)
        elif event.type is EventType.round_end and entry.running is not None:
            # Over for the user the moment its end is published: a client that saw round_end
            # may send the next message at once (the engine's task finishes without awaiting).
            self._loop.call_soon_threadsafe(self._over, entry, entry.running)

    @staticmethod
    def _started(entry: OpenSession, round_id: str) -> None:
        if entry.running is not None and entry.started is not None and not entry.started.done():
            entry.round_id = round_id
            entry.started.set_result(round_id)

    def _ended(self, entry: OpenSession, future: concurrent.futures.Future[Round]) -> None:
        started = entry.started
        if entry.running is future and started is not None and not started.done():
            error = future.exception() if not future.cancelled() else None
            if error is None:
                reason = future.result().reason if not future.cancelled() else "cancelled"
                error = WeaverError(f"the round ended before it started: {reason}")
            started.set_exception(error)
            entry.taking = []  # never taken in: they wait for the next message
        self._over(entry, future)

    def _over(self, entry: OpenSession, future: concurrent.futures.Future[Round]) -> None:
        """The round of ``future`` is over (its end published, or its task done): the session is free."""
        if entry.running is not future:
            return
        entry.running = None
        entry.round_id = None
        entry.used = time.monotonic()
        for name in entry.taking:  # taken into the session's cwd/ by the round
            files.remove_staged(entry.session.paths.root, name)
        entry.taking = []
        self._evict()

    def _evict(self) -> None:
        excess = len(self._open) - self.config.max_open_sessions
        if excess <= 0:
            return
        idle = [e for e in self._open.values() if e.running is None and not e.session.pending_approvals()]
        for entry in sorted(idle, key=lambda e: e.used)[:excess]:
            key = (entry.user, entry.session.id)
            del self._open[key]
            task = asyncio.get_running_loop().create_task(self._close_session(entry))
            self._closing[key] = task
            task.add_done_callback(lambda _, key=key: self._closed(key))

    def _closed(self, key: Key) -> None:
        self._closing.pop(key, None)
        self._release_hub(key)

    async def _close_session(self, entry: OpenSession) -> None:
        running = entry.running
        deadline = time.monotonic() + self.config.shutdown_grace_s
        while running is not None and not running.done() and time.monotonic() < deadline:
            entry.session.cancel()  # until it takes, as in drain()
            await asyncio.sleep(0.05)
        try:
            await self.app.arun(entry.session.aclose())
        except Exception:  # one session failing to close must not keep the others open
            log.exception("session %s could not be closed", entry.session.id)
