"""Embedding Weaver in your own async program, watching the session's events as they happen.

    python examples/embed/embed.py PROJECT_DIR "mean of x in data.csv"

PROJECT_DIR holds a ``weaver.toml`` (``weaver init`` makes one). The program never prints
Weaver's own view: it reacts to the event stream, as a web app or a bot would.
"""

from __future__ import annotations

import asyncio
import sys

import weaver
from weaver.events import Event, EventType


async def ask(project: str, request: str) -> weaver.Round:
    """Run one round; print what happens as it happens; return the finished Round."""
    events: asyncio.Queue[Event] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    with weaver.App(project) as app:
        # Subscribers run on Weaver's own loop thread: hand each event over to ours.
        unsubscribe = app.subscribe(lambda event: loop.call_soon_threadsafe(events.put_nowait, event))
        session = app.session()
        round_task = asyncio.create_task(session.asend_message(request))
        while True:
            event = await events.get()
            if event.type is EventType.status:
                print(f"[{event.data.get('role')}] {event.data['message']}")
            elif event.type is EventType.post_end:
                post = event.data["post"]
                print(f"{post['send_from']} -> {post['send_to']}: {post['message'][:80]}")
            elif event.type is EventType.execution:
                print(f"executed: ok={event.data['result']['ok']}")
            elif event.type is EventType.round_end:
                break
        unsubscribe()
        return await round_task


def main() -> int:
    project, request = sys.argv[1], sys.argv[2]
    round = asyncio.run(ask(project, request))
    print(f"{round.state.value}: {round.answer or round.reason}")
    return 0 if round.state is weaver.RoundState.finished else 1


if __name__ == "__main__":
    sys.exit(main())
