"""The warm pool: kernels started ahead of time, each handed to exactly one session.

A pool belongs to one event loop (a kernel's sockets do), one ``[execution]``
configuration and one :class:`~weaver.execution.boundary.KernelSite` (a workspace, its
project files and plugin folders); :func:`pool_for` finds it. Its kernels are started
before their session is known, so there is a pool only for a site that names no session
(:func:`weaver.execution.boundary.shared_kernels_allowed`). It starts filling when asked
(:func:`warm_up`, called by ``App.warm_up()``) and refills shortly after every kernel it
hands out (:data:`REFILL_DELAY_S`), so it costs nothing to an application that never asks
for it. Pool kernels are started with the same scrubbed environment and limits as any
other, in an empty directory of their own, and have already answered a first request
(:meth:`~weaver.execution.process.KernelProcess.warm_up`), after which they refuse user code
until a session's setup succeeds in them; the session that takes one moves it to its
``cwd/`` and sends its first code along with that setup (see
:meth:`weaver.execution.kernel.LocalExecutor._ensure_kernel`). A kernel is never given back.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import weakref

from weaver.execution.boundary import KernelSite
from weaver.execution.config import ExecutionConfig
from weaver.execution.process import KernelProcess

log = logging.getLogger("weaver.execution.pool")

REFILL_DELAY_S = 0.5
"""How long after handing a kernel out the pool starts its replacement. Starting a kernel
keeps a core busy for most of a second; started at once, it would slow down the session
that is adopting the kernel and running its first code. A session that asks for a kernel
in the meantime starts the refill at once.
"""

_pools: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[tuple[ExecutionConfig, KernelSite], KernelPool]
] = weakref.WeakKeyDictionary()


class KernelPool:
    """Up to ``config.pool_size`` started kernels for ``site`` waiting for sessions."""

    def __init__(self, config: ExecutionConfig, site: KernelSite) -> None:
        self.config = config
        self.site = site
        self.size = config.pool_size
        self.active = False
        self._ready: collections.deque[KernelProcess] = collections.deque()
        self._starting: set[asyncio.Task[KernelProcess]] = set()
        self._refill: asyncio.TimerHandle | None = None
        self._closed = False

    @property
    def ready_count(self) -> int:
        return len(self._ready)

    def fill(self) -> None:
        """Start kernels in the background until the pool holds ``size`` of them."""
        self.active = True
        if self._refill is not None:
            self._refill.cancel()
            self._refill = None
        while not self._closed and len(self._ready) + len(self._starting) < self.size:
            task = asyncio.ensure_future(_start_warm(self.config, self.site))
            self._starting.add(task)
            task.add_done_callback(self._started)

    def _started(self, task: asyncio.Task[KernelProcess]) -> None:
        self._starting.discard(task)
        if task.cancelled():
            return
        if task.exception() is not None:
            # Not refilled on failure (that would retry forever); a session taking a
            # kernel then starts one itself and sees the error.
            log.warning("a pool kernel failed to start: %s", task.exception())
            return
        kernel = task.result()
        if self._closed:
            asyncio.ensure_future(kernel.shutdown())
        else:
            self._ready.append(kernel)

    async def wait_ready(self) -> None:
        """Wait until every kernel being started has started (or failed)."""
        while self._starting:
            await asyncio.wait(set(self._starting))

    async def take(self) -> KernelProcess:
        """A started kernel, never handed out before; starts one if the pool has none."""
        if self._refill is not None and not self._ready:
            self.fill()
        try:
            while self._ready or self._starting:
                if self._ready:
                    kernel = self._ready.popleft()
                    if await kernel.is_alive():
                        return kernel
                    await kernel.shutdown()
                else:
                    await asyncio.wait(set(self._starting), return_when=asyncio.FIRST_COMPLETED)
            return await KernelProcess.start(self.config, self.site)
        finally:
            if self.active and self._refill is None:
                self._refill = asyncio.get_running_loop().call_later(REFILL_DELAY_S, self.fill)

    async def close(self) -> None:
        """Stop filling and shut down every kernel in the pool."""
        self._closed = True
        if self._refill is not None:
            self._refill.cancel()
            self._refill = None
        for task in list(self._starting):
            task.cancel()
        if self._starting:
            await asyncio.wait(set(self._starting))
        while self._ready:
            await self._ready.popleft().shutdown()


async def _start_warm(config: ExecutionConfig, site: KernelSite) -> KernelProcess:
    kernel = await KernelProcess.start(config, site)
    try:
        await kernel.warm_up()
    except BaseException:
        await kernel.shutdown()
        raise
    return kernel


def pool_for(config: ExecutionConfig, site: KernelSite) -> KernelPool | None:
    """The running loop's pool for ``config`` and ``site``; ``None`` when pooling is off or
    ``site`` names a session."""
    if config.pool_size <= 0 or site.session is not None:
        return None
    pools = _pools.setdefault(asyncio.get_running_loop(), {})
    key = (config, site)
    if key not in pools:
        pools[key] = KernelPool(config, site)
    return pools[key]


async def warm_up(config: ExecutionConfig, site: KernelSite, wait: bool = False) -> None:
    """Start filling the pool for ``config`` and ``site`` on the running loop; ``wait``
    until it is full."""
    pool = pool_for(config, site)
    if pool is None:
        return
    pool.fill()
    if wait:
        await pool.wait_ready()


async def close_pools() -> None:
    """Shut down every pool of the running loop (``App.close()`` calls this)."""
    for pool in _pools.pop(asyncio.get_running_loop(), {}).values():
        await pool.close()
