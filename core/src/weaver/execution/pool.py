"""The warm pool: kernels started ahead of time, each handed to exactly one session.

A :class:`KernelPool` holds kernels of any carrier (:class:`~weaver.execution.channel.KernelChannel`):
it is given the function that starts one. It belongs to one event loop (a kernel's sockets
do) and one key, which says what its kernels are started for; :func:`pool_of` finds or
makes it, and :func:`close_pools` closes every pool of a loop. The local executor's key is
one ``[execution]`` configuration and one :class:`~weaver.execution.boundary.KernelSite`
(a workspace, its project files and plugin folders); :func:`pool_for` finds that pool.
Its kernels are started before their session is known, so there is a local pool only for a
site that names no session (:func:`weaver.execution.boundary.shared_kernels_allowed`). It starts filling when asked
(:func:`warm_up`, called by ``App.warm_up()``) and refills shortly after every kernel it
hands out (:data:`REFILL_DELAY_S`), so it costs nothing to an application that never asks
for it. Pool kernels are started with the same scrubbed environment and limits as any
other, in an empty directory of their own, and have already answered a first request
(:meth:`~weaver.execution.channel.KernelChannel.warm_up`), after which they refuse user code
until a session's setup succeeds in them; the session that takes one moves it to its
``cwd/`` and sends its first code along with that setup (see
:meth:`weaver.execution.kernel.KernelExecutor._ensure_kernel`). A kernel is never given back.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
import weakref
from collections.abc import Awaitable, Callable, Hashable

from weaver.execution.boundary import KernelSite
from weaver.execution.channel import KernelChannel
from weaver.execution.config import ExecutionConfig
from weaver.execution.process import KernelProcess

log = logging.getLogger("weaver.execution.pool")

REFILL_DELAY_S = 0.5
"""How long after handing a kernel out the pool starts its replacement. Starting a kernel
keeps a core busy for most of a second; started at once, it would slow down the session
that is adopting the kernel and running its first code. A session that asks for a kernel
in the meantime starts the refill at once.
"""

StartKernel = Callable[[], Awaitable[KernelChannel]]
"""Starts one kernel for a pool (not yet warmed up)."""

_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Hashable, KernelPool]] = weakref.WeakKeyDictionary()


class KernelPool:
    """Up to ``size`` kernels started by ``start`` and warmed up, waiting for sessions."""

    def __init__(self, size: int, start: StartKernel) -> None:
        self.size = size
        self.start = start
        self.active = False
        self._ready: collections.deque[KernelChannel] = collections.deque()
        self._starting: set[asyncio.Task[KernelChannel]] = set()
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
            task = asyncio.ensure_future(_start_warm(self.start))
            self._starting.add(task)
            task.add_done_callback(self._started)

    def _started(self, task: asyncio.Task[KernelChannel]) -> None:
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

    async def take(self) -> KernelChannel:
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
            return await self.start()
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


async def _start_warm(start: StartKernel) -> KernelChannel:
    kernel = await start()
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
    return pool_of((config, site), config.pool_size, functools.partial(KernelProcess.start, config, site))


def pool_of(key: Hashable, size: int, start: StartKernel) -> KernelPool:
    """The running loop's pool for ``key``, made with ``size`` and ``start`` on first use;
    ``key`` says what its kernels are started for (another carrier's settings, say)."""
    pools = _pools.setdefault(asyncio.get_running_loop(), {})
    if key not in pools:
        pools[key] = KernelPool(size, start)
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
