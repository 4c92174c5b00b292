"""A session's event stream in batches, for a page that redraws a few times a second.

The service's stream (:meth:`weaver_server.service.WeaverService.follow`) is read by a task
into a queue; :func:`batches` hands over everything that arrived within a frame, so a model
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


async def batches(service: Any, user: str, session_id: str, after: int, round_id: str | None) -> AsyncIterator[Batch]:
    """The session's events after durable event ``after``, until ``round_id`` ends (or forever)."""

    def until(item: Item) -> bool:
        return round_id is not None and item.type == "round_end" and f'"round_id":"{round_id}"' in item.data

    queue: asyncio.Queue[Any] = asyncio.Queue()
    done = object()

    async def read() -> None:
        try:
            async for message in service.follow(user, session_id, after, until):
                if message.event is not None and message.data is not None:
                    queue.put_nowait(message)
        finally:
            queue.put_nowait(done)

    reader = asyncio.create_task(read())
    try:
        while True:
            first = await queue.get()
            got = [first]
            await asyncio.sleep(FRAME_S)
            while not queue.empty():
                got.append(queue.get_nowait())
            ended = any(item is done for item in got)
            messages = [item for item in got if item is not done]
            events = tuple(
                (int(m.id) if m.id else None, from_data(json.loads(m.data), Event)) for m in messages if m.event != RESYNC
            )
            yield Batch(events, any(m.event == RESYNC for m in messages), ended)
            if ended:
                return
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader
