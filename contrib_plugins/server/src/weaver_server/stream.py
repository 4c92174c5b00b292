"""The live event stream of one session: numbered, replayable from the log, never in a round's way.

Every durable event of a session is a line of its log; the stream numbers them as the log
does (the n-th durable event has id ``n``), so an id is a place in the log. A client that
reconnects with ``Last-Event-ID: n`` (or ``?after=n``) is sent events ``n+1...`` from the log,
then the live ones. Events that are not durable (deltas of a streaming post, status lines)
carry no id: they are there for watching a round, and what they built is in the durable
``post_end`` that follows, so nothing is lost by missing them.

Back-pressure: the session's loop hands an event to each stream client's buffer and moves
on; it never waits for a client. A client whose buffer is full (it reads slower than the
session writes) has its buffered live events dropped and is sent a ``resync`` event, then
the durable events it missed, read again from the log, then live events as before: a slow
client costs disk reads, never memory without bound and never a round's time.
"""

from __future__ import annotations

import asyncio
import collections
import json
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import attrs

from weaver.events import Event
from weaver.serde import to_data
from weaver.store import read_log

RESYNC = "resync"
"""The stream's own event type: live events were dropped; what the log holds follows again."""
RETRY_MS = 2000
"""How soon a browser's ``EventSource`` reconnects after the connection drops."""


def event_json(event: Event) -> str:
    """The event envelope as one line of JSON (text that is not valid Unicode escaped), the
    text the session log writes (:attr:`Event.json`, built once for both)."""
    text = event.json
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(to_data(event), ensure_ascii=True, separators=(",", ":"))
    return text


@attrs.frozen
class Item:
    """One event for a stream: its id (durable events) or the id of the durable one before it."""

    seq: int
    durable: bool
    type: str
    data: str


@attrs.frozen
class StreamMessage:
    """What the stream sends: an event (``id`` set for durable ones), a resync notice, or a heartbeat."""

    event: str | None = None
    data: str | None = None
    id: str | None = None
    comment: str | None = None


class Subscriber:
    """One stream client's buffer, filled from the session's loop, emptied by the client's request."""

    def __init__(self, loop: asyncio.AbstractEventLoop, limit: int, seen: int) -> None:
        self.loop = loop
        self.limit = limit
        self.seen = seen
        """The last durable id already on disk when this client subscribed (or resynced)."""
        self.items: collections.deque[Item] = collections.deque()
        self.overflowed = False
        self.closed = False
        self._wake = asyncio.Event()
        self._signalled = False

    def push(self, item: Item) -> None:
        """Called with the hub's lock held, on any thread."""
        if self.overflowed or self.closed:
            return
        if len(self.items) >= self.limit:
            self.items.clear()
            self.overflowed = True
        else:
            self.items.append(item)
        self._signal()

    def close(self) -> None:
        self.closed = True
        self._signal()

    def _signal(self) -> None:
        if not self._signalled:
            self._signalled = True
            try:
                self.loop.call_soon_threadsafe(self._wake.set)
            except RuntimeError:  # the server's loop is closed: nobody is reading any more
                pass

    async def wait(self, timeout: float) -> bool:
        """Wait for something to read; ``False`` after ``timeout`` seconds of nothing."""
        try:
            await asyncio.wait_for(self._wake.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def reset(self) -> None:
        """Called with the hub's lock held, after the client took what was there."""
        self._wake.clear()
        self._signalled = False


class EventHub:
    """The stream of one session: its durable-event count and the clients watching it.

    ``publish`` is called on Weaver's loop thread for each of the session's events, after a
    durable one is in the log; ``subscribe`` and ``follow`` run on the server's loop.
    """

    def __init__(self, log: Path, limit: int) -> None:
        self.log = log
        self.limit = limit
        self._lock = threading.Lock()
        self._seq = len(read_log(log).events) if log.is_file() else 0
        self._subscribers: set[Subscriber] = set()
        self._closed = False

    @property
    def seq(self) -> int:
        """The id of the last durable event in the log."""
        with self._lock:
            return self._seq

    @property
    def watched(self) -> bool:
        with self._lock:
            return bool(self._subscribers)

    def publish(self, event: Event) -> None:
        with self._lock:
            if event.durable:
                self._seq += 1
            if not self._subscribers:
                return
            item = Item(self._seq, event.durable, event.type.value, event_json(event))
            for subscriber in self._subscribers:
                subscriber.push(item)

    def subscribe(self, loop: asyncio.AbstractEventLoop) -> Subscriber:
        with self._lock:
            subscriber = Subscriber(loop, self.limit, self._seq)
            if self._closed:
                subscriber.close()
            else:
                self._subscribers.add(subscriber)
            return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            self._subscribers.discard(subscriber)

    def close(self) -> None:
        """End every stream of this session (deleted, or the server is stopping)."""
        with self._lock:
            self._closed = True
            for subscriber in self._subscribers:
                subscriber.close()
            self._subscribers.clear()

    def _take(self, subscriber: Subscriber) -> tuple[list[Item], bool, bool]:
        with self._lock:
            items = list(subscriber.items)
            subscriber.items.clear()
            overflowed, subscriber.overflowed = subscriber.overflowed, False
            if overflowed:
                subscriber.seen = self._seq
            subscriber.reset()
            return items, overflowed, subscriber.closed

    async def _replay(self, after: int, upto: int) -> list[Item]:
        events = (await asyncio.to_thread(read_log, self.log)).events if upto > after else ()
        return [
            Item(number, True, event.type.value, event_json(event))
            for number, event in enumerate(events[after:upto], after + 1)
        ]

    async def follow(
        self, after: int, heartbeat_s: float, until: Callable[[Item], bool] = lambda item: False
    ) -> AsyncIterator[StreamMessage]:
        """The stream for a client that has seen up to ``after``: missed events, then live ones.

        Ends when the hub closes, or after the item ``until`` accepts. An ``after`` past the
        log's end counts as the end.
        """
        subscriber = self.subscribe(asyncio.get_running_loop())
        try:
            last = min(after, subscriber.seen)
            backlog, ended = await self._replay(last, subscriber.seen), False
            while True:
                for item in backlog:
                    if item.durable and item.seq <= last or not item.durable and item.seq < last:
                        continue  # already sent: replayed from the log, or stale since then
                    if item.durable:
                        last = item.seq
                    yield StreamMessage(item.type, item.data, str(item.seq) if item.durable else None)
                    if until(item):
                        return
                if ended:
                    return
                if not await subscriber.wait(heartbeat_s):
                    yield StreamMessage(comment="heartbeat")
                    backlog = []
                    continue
                backlog, overflowed, ended = self._take(subscriber)
                if overflowed:
                    yield StreamMessage(RESYNC, json.dumps({"after": last, "upto": subscriber.seen}))
                    backlog = await self._replay(last, subscriber.seen) + backlog
        finally:
            self.unsubscribe(subscriber)


def sse_fields(message: StreamMessage) -> dict[str, Any]:
    """The fields of :class:`fastapi.sse.ServerSentEvent` for one message."""
    return {"event": message.event, "raw_data": message.data, "id": message.id, "comment": message.comment}
