"""Streamed text reaches the event stream at a bounded rate, never out of order.

A model streams a token every few milliseconds, and a role reports each as an
``attachment_delta`` or ``message_delta``; a screen or a UI needs about 30 updates a second,
and every event costs its subscribers and hooks. So a session holds back consecutive deltas
of one streaming part (one attachment of a post, or a post's message) and publishes them as
one event, whose ``delta`` is their text joined:

- ``interval_s`` after the first of them (a timer on the session's loop), so a stream that
  pauses is still shown within that time;
- when their text reaches :data:`MAX_CHARS`;
- before a delta of another part, and before any other event of the session, so the text
  of a part always arrives whole and in order before the attachment, post or round that
  closes it (and before a status line that says the part is complete).

``interval_s = 0`` publishes every delta as it comes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from weaver.events import Event, EventType

DELTAS = frozenset({EventType.attachment_delta, EventType.message_delta})
MAX_CHARS = 4096
"""Held-back text past this length is published at once, however young."""


class DeltaBuffer:
    """The deltas of one part held back for a session; ``publish`` receives what goes out."""

    def __init__(self, publish: Callable[[Event], None], interval_s: float) -> None:
        self._publish = publish
        self._interval = interval_s
        self._first: Event | None = None
        self._parts: list[str] = []
        self._chars = 0
        self._timer: asyncio.TimerHandle | None = None

    def add(self, event: Event) -> None:
        """Hold back a delta event (one of :data:`DELTAS`), publishing what it must."""
        first = self._first
        if first is not None and not _same_part(first, event):
            self.flush()
            first = None
        delta = str(event.data.get("delta", ""))
        if first is None and (self._interval <= 0 or not self._start(event)):
            self._publish(event)
            return
        self._parts.append(delta)
        self._chars += len(delta)
        if self._chars >= MAX_CHARS:
            self.flush()

    def flush(self) -> None:
        """Publish the held-back text now (nothing when there is none)."""
        first = self._first
        if first is None:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        parts = self._parts
        self._first, self._parts, self._chars = None, [], 0
        if len(parts) == 1:
            self._publish(first)
        else:
            self._publish(Event(first.type, first.session_id, first.round_id, first.post_id, {**first.data, "delta": "".join(parts)}))

    def _start(self, event: Event) -> bool:
        """Begin holding ``event`` back; ``False`` off the event loop, where no timer can end the wait."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        self._first = event
        self._timer = loop.call_later(self._interval, self.flush)
        return True


def _same_part(held: Event, event: Event) -> bool:
    return (
        held.type is event.type
        and held.post_id == event.post_id
        and held.data.get("attachment_id") == event.data.get("attachment_id")
    )
