"""A session on a Weaver service, used as a local :class:`weaver.Session` is.

``send_message`` uploads the files, starts the round and follows the session's event stream
from just before the round began until its ``round_end``, handing every event to the
client's subscribers; a dropped connection is picked up again with ``Last-Event-ID``, so
the durable events of the round all arrive exactly once. The round returned is rebuilt from
those events as the log would rebuild it.
"""

from __future__ import annotations

import os
import threading
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx2

from weaver.approvals import ApprovalRequest, Decision
from weaver.client.api import Client, ServiceError, error_of
from weaver.errors import WeaverError
from weaver.events import Event, EventType
from weaver.model import Round, Usage
from weaver.serde import from_data, from_json
from weaver.store import SessionPaths, rebuild_rounds, sessions_dir

RECONNECTS = 8
"""Times in a row a lost event stream is opened again before the round is given up on."""
MAX_EVENT_BYTES = 64 * 2**20
RESYNC = "resync"


class RemoteSession:
    """One session of the service; see the module's docstring."""

    def __init__(self, client: Client, session_id: str) -> None:
        self.client = client
        self.id = session_id
        self.paths = SessionPaths(sessions_dir(client.workspace) / session_id)
        """A local folder for this session (``weaver chat``'s ``/save`` writes there)."""
        self._lock = threading.Lock()
        self._pending: dict[str, ApprovalRequest] = {}
        self._round_id: str | None = None

    def _path(self, *parts: str) -> str:
        return "/".join(("", "sessions", self.id, *(urllib.parse.quote(p, safe="") for p in parts)))

    # ---- as a Session -----------------------------------------------------------------

    def detail(self) -> dict[str, Any]:
        """The session as the service shows it (rounds, plan, variables, usage, approvals)."""
        return dict(self.client.request("GET", self._path()).json())

    @property
    def rounds(self) -> tuple[Round, ...]:
        return tuple(from_data(data, Round) for data in self.detail()["round_list"])

    @property
    def usage(self) -> Usage:
        return from_data(self.detail()["usage"], Usage)

    def send_message(self, text: str, files: Sequence[str | os.PathLike[str]] = ()) -> Round:
        """Run one round to its end and return it (a failed round is returned, not raised)."""
        names = [self.upload(path) for path in files]
        started = self.client.request("POST", self._path("messages"), json={"text": text, "files": names}).json()
        round_id = str(started["round_id"])
        self._round_id = round_id
        try:
            events = [e for e in self._follow(int(started["after"]), round_id) if e.round_id == round_id]
        finally:
            self._round_id = None
            with self._lock:
                self._pending.clear()
        rounds = rebuild_rounds(tuple(e for e in events if e.durable))
        return next(r for r in rounds if r.id == round_id)

    def cancel(self) -> bool:
        """Cancel the running round, from any thread; ``False`` when none is running."""
        round_id = self._round_id
        if round_id is None:
            return False
        return bool(self.client.request("POST", self._path("rounds", round_id, "cancel")).json()["cancelled"])

    def pending_approvals(self) -> tuple[ApprovalRequest, ...]:
        """What the running round waits for a person to approve (from its event stream)."""
        with self._lock:
            return tuple(self._pending.values())

    def answer(self, request_id: str, decision: Decision | str, *, content: str | None = None, reason: str = "") -> bool:
        """Answer an approval request; ``False`` when none is waiting with that id."""
        body = {"decision": Decision(decision).value, "content": content, "reason": reason}
        try:
            self.client.request("POST", self._path("approvals", request_id), json=body)
        except ServiceError as exc:
            if exc.status == 404:
                return False
            raise
        with self._lock:
            self._pending.pop(request_id, None)
        return True

    def close(self) -> None:
        """Nothing to release here: the session stays on the service."""

    # ---- more than a local Session has ----------------------------------------------

    def upload(self, path: str | os.PathLike[str]) -> str:
        """Upload a file for the next message; returns the name it has in the session."""
        source = Path(path)
        with open(source, "rb") as handle:
            self.client.request("PUT", self._path("uploads", source.name), content=handle)
        return source.name

    def round(self, round_id: str) -> Round:
        return from_data(self.client.request("GET", self._path("rounds", round_id)).json(), Round)

    def export(self, format: str = "markdown") -> bytes:
        """The session as ``markdown``, ``json`` or ``ipynb``."""
        return self.client.request("GET", self._path("export"), params={"format": format}).content

    def files(self, area: str = "artifacts") -> list[dict[str, Any]]:
        """The files of ``artifacts`` or ``files`` (the kernel's working directory)."""
        return list(self.client.request("GET", self._path(area)).json())

    def download(self, path: str, area: str = "artifacts") -> bytes:
        return self.client.request("GET", self._path(area, *path.split("/"))).content

    def cost(self) -> dict[str, Any]:
        return dict(self.client.request("GET", self._path("cost")).json())

    def delete(self) -> None:
        """Delete the session and everything it stored, on the service."""
        self.client.request("DELETE", self._path())

    def events(self, after: int = 0, round_id: str | None = None) -> Iterator[Event]:
        """The session's events from after ``after``, live; ends after ``round_id``'s end if given."""
        yield from self._follow(after, round_id, publish=False)

    # ---- the stream -------------------------------------------------------------------

    def _follow(self, after: int, round_id: str | None, *, publish: bool = True) -> Iterator[Event]:
        last, failures = after, 0
        params = {"round_id": round_id} if round_id else {}
        while True:
            try:
                with self.client.http.sse(
                    self._path("events"),
                    params=params,
                    headers={"Last-Event-ID": str(last)},
                    max_event_size=MAX_EVENT_BYTES,
                ) as source:
                    if source.response.is_error:
                        source.response.read()
                        raise error_of(source.response, self.client.url)
                    for message in source:
                        failures = 0
                        if message.event == RESYNC or not message.data:
                            continue
                        if message.id:
                            last = int(message.id)
                        event = from_json(message.data, Event)
                        self._note(event)
                        if publish:
                            self.client.publish(event)
                        yield event
                        if round_id is not None and event.type is EventType.round_end and event.round_id == round_id:
                            return
            except httpx2.TransportError as exc:
                failures += 1
                if failures > RECONNECTS:
                    raise WeaverError(f"lost the event stream of session {self.id} at {self.client.url}: {exc}") from None
                time.sleep(min(0.2 * 2**failures, 5.0))
                continue
            if round_id is None:
                return
            # The service ended the stream before the round's end (it is shutting down): try again.
            failures += 1
            if failures > RECONNECTS:
                raise WeaverError(f"the service stopped sending the events of session {self.id} before the round ended")
            time.sleep(min(0.2 * 2**failures, 5.0))

    def _note(self, event: Event) -> None:
        with self._lock:
            if event.type is EventType.approval_request:
                request = from_data(event.data["request"], ApprovalRequest)
                self._pending[request.id] = request
            elif event.type is EventType.approval:
                self._pending.pop(str(event.data.get("answer", {}).get("request_id")), None)
