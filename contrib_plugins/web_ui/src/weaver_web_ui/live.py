"""A session's event stream in batches, for a page that redraws a few times a second.

The service's stream (:meth:`weaver_server.service.WeaverService.follow`) is read by a task
into a queue; :meth:`Watch.batches` hands over everything that arrived within a frame, so a model
streaming fifty deltas a second costs the browser a few redraws, and a kernel that prints
nothing for a minute costs none. A ``resync`` (the page read too slowly) is passed on for
the caller to read the log again; the ids of durable events let it skip what it has.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import attrs

from weaver.events import Event
from weaver.serde import from_data
from weaver_server.stream import RESYNC, Item

FRAME_S = 0.2
"""How often the page redraws while events arrive."""


@attrs.frozen
class Batch:
    """Events that arrived in one frame, each with its id in the log (``None`` for one that
    is not durable); ``resync`` when the stream skipped ahead; ``ended`` once it is over."""

    events: tuple[tuple[int | None, Event], ...] = ()
    resync: bool = False
    ended: bool = False


class Watch:
    """The session's events after durable event ``after``, in batches, until ``round_id``
    ends (``None``: the next round that ends, for a round about to be started).

    Entering subscribes to the stream at once: a round started after that is seen from its
    first event, even what is never written to the log (the streaming code, the kernel's
    first lines), which a subscription made once the round runs would miss.
    """

    def __init__(self, service: Any, user: str, session_id: str, after: int, round_id: str | None = None) -> None:
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None
        self._follow = (service, user, session_id, after, round_id)

    async def __aenter__(self) -> Watch:
        self._reader = asyncio.create_task(self._read())
        # The reader's first step subscribes (the stream's follow does so before it first
        # waits); tasks run in the order they are scheduled, so it has once this returns.
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader

    async def _read(self) -> None:
        service, user, session_id, after, round_id = self._follow

        def until(item: Item) -> bool:
            return item.type == "round_end" and (round_id is None or f'"round_id":"{round_id}"' in item.data)

        try:
            async for message in service.follow(user, session_id, after, until):
                if message.event is not None and message.data is not None:
                    self._queue.put_nowait(message)
        finally:
            self._queue.put_nowait(_DONE)

    async def batches(self) -> AsyncIterator[Batch]:
        while True:
            got = [await self._queue.get()]
            await asyncio.sleep(FRAME_S)
            while not self._queue.empty():
                got.append(self._queue.get_nowait())
            ended = any(item is _DONE for item in got)
            messages = [item for item in got if item is not _DONE]
            events = tuple(
                (int(m.id) if m.id else None, from_data(json.loads(m.data), Event)) for m in messages if m.event != RESYNC
            )
            yield Batch(events, any(m.event == RESYNC for m in messages), ended)
            if ended:
                return


_DONE = object()
"""Put in the queue when the stream has ended."""
