"""One asyncio loop on a daemon thread, on which all of an App's sessions work."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The loop running in this thread, if any."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class LoopThread:
    """One asyncio loop on a daemon thread; started on first use.

    The synchronous API submits to it and waits; the asynchronous API awaits it, so LLM
    streams and kernel channels always live on one loop whatever the caller uses.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="weaver-loop", daemon=True)
                thread.start()
                self._loop = loop
            return self._loop

    def owns_current_thread(self) -> bool:
        """Whether the caller runs on this loop (so it must await, not wait)."""
        return self._loop is not None and running_loop() is self._loop

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        if self.owns_current_thread():
            coro.close()
            raise RuntimeError("use the async API (await ...) from inside Weaver's own event loop")
        return self.submit(coro).result()

    async def arun(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` on this loop from any loop (directly when already on it)."""
        if running_loop() is self.loop:
            return await coro
        return await asyncio.wrap_future(self.submit(coro))

    def call_soon(self, callback: Any, *args: Any) -> None:
        """Schedule ``callback(*args)`` on the loop from any thread."""
        self.loop.call_soon_threadsafe(callback, *args)

    def stop(self) -> None:
        with self._lock:
            if self._loop is not None:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._loop = None
