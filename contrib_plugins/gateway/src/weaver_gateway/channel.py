"""One kernel on a gateway, talked to over ``/api/kernels/{id}/channels``.

The websocket carries Jupyter messages as JSON text frames, each with a ``channel`` key
(``shell``, ``iopub``, ``control``): Jupyter Server's original kernel websocket protocol,
which every gateway version serves (binary frames, for messages with buffers, are read too).
A reader task sorts what arrives into a queue per channel; a writer task sends what
:meth:`GatewayKernel.submit` queued, so a request made while the socket is being reopened
goes out once it is open again.

Faults, each ending in a recorded failure rather than a hang:

- the socket drops (a proxy, the network): it is reopened up to
  ``[gateway] reconnect_attempts`` times with the same ``session_id``, and the gateway
  replays what the kernel sent meanwhile (Jupyter Server buffers a session's messages while
  it has no connection), so reading resumes where it stopped;
- the gateway no longer has the kernel (it restarted, its idle culler ended the kernel, or
  someone deleted it): reopening answers 404, or a liveness check finds no kernel;
- the kernel process died: the gateway restarts it empty and says so with an IOPub status
  ``restarting`` (or ``dead``).

In all three :meth:`is_alive` turns false, so a waiting request raises
:class:`~weaver.execution.channel.KernelDied` and the executor starts a new kernel.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import ssl
from collections.abc import Mapping
from queue import Empty
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from jupyter_client.jsonutil import json_default
from jupyter_client.session import Session
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from weaver.execution.channel import KernelChannel
from weaver.execution.config import ExecutionConfig
from weaver.execution.executor import KernelStartError
from weaver_gateway import lifecycle
from weaver_gateway.client import GatewayClient, GatewayError, tls_context
from weaver_gateway.config import GatewayConfig

log = logging.getLogger("weaver.gateway")

MAX_MESSAGE = 64 * 1024 * 1024
"""Largest message read from the websocket (a transfer answer of 4 MiB is about 6 MB)."""
CHECK_EVERY_S = 2.0
"""How often a request with no news asks the gateway whether the kernel still exists."""
BACKOFF_S = 0.5


HEADER_LINES = ("> %s: %s", "< %s: %s")
"""How the websocket library logs the handshake's headers, the token's and [gateway] headers' among them."""


def _no_headers(record: logging.LogRecord) -> bool:
    return record.msg not in HEADER_LINES


WEBSOCKET_LOG = logging.getLogger("weaver.gateway.websocket")
"""The websocket library's log for gateway channels: its lines, without the header lines."""
WEBSOCKET_LOG.addFilter(_no_headers)


def channels_url(config: GatewayConfig, kernel_id: str, session_id: str) -> str:
    parts = urlsplit(config.base)
    scheme = "wss" if parts.scheme == "https" else "ws"
    path = f"{parts.path}/api/kernels/{quote(kernel_id)}/channels"
    return urlunsplit((scheme, parts.netloc, path, f"session_id={quote(session_id)}", ""))


def decode_frame(frame: str | bytes) -> dict[str, Any]:
    """A Jupyter message from a websocket frame: JSON text, or the binary form
    (a count of parts, their offsets, the JSON message, then its buffers, which are dropped)."""
    if isinstance(frame, bytes):
        count = int.from_bytes(frame[:4], "big")
        offsets = [int.from_bytes(frame[4 * (i + 1) : 4 * (i + 2)], "big") for i in range(count)]
        end = offsets[1] if count > 1 else len(frame)
        frame = frame[offsets[0] : end].decode("utf-8")
    msg: dict[str, Any] = json.loads(frame)
    msg.setdefault("msg_type", msg.get("header", {}).get("msg_type", ""))
    return msg


class GatewayKernel(KernelChannel):
    """A kernel started on a gateway; create with :meth:`start`."""

    def __init__(self, gateway: GatewayConfig, config: ExecutionConfig, client: GatewayClient) -> None:
        super().__init__(config)
        self.gateway = gateway
        self.client = client
        self.kernel_id = ""
        self.session = Session(key=b"", username="weaver")
        output: asyncio.Queue[dict[str, Any]] = asyncio.Queue()  # iopub and stdin, in the order they came
        self._queues: dict[str, asyncio.Queue[dict[str, Any]]] = {"iopub": output, "stdin": output, "shell": asyncio.Queue()}
        self._outbox: asyncio.Queue[str] = asyncio.Queue()
        self._ws: ClientConnection | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._lost: str | None = None
        self._checked = 0.0
        self.reconnects = 0
        """Times the websocket was reopened."""

    @classmethod
    async def start(cls, gateway: GatewayConfig, config: ExecutionConfig, session_id: str = "") -> GatewayKernel:
        """Start a kernel on the gateway and open its channels; the kernel is tagged and
        written down (:mod:`weaver_gateway.lifecycle`) before anything else can fail."""
        client = GatewayClient(gateway)
        kernel = cls(gateway, config, client)
        try:
            await lifecycle.sweep(client)
            env = {"KERNEL_WEAVER_HOST": lifecycle.host_tag(), "KERNEL_WEAVER_SESSION": session_id or "pool"}
            if gateway.kernel_username:
                env["KERNEL_USERNAME"] = gateway.kernel_username
            env.update(forwarded_env(gateway))
            try:
                kernel.kernel_id = await asyncio.wait_for(client.start_kernel(env), config.startup_timeout_s)
            except TimeoutError:
                raise GatewayError(
                    f"the gateway at {gateway.base} did not start a kernel within {config.startup_timeout_s:g} s "
                    "([execution] startup_timeout_s)",
                    url=gateway.base,
                ) from None
            lifecycle.track(gateway, kernel.kernel_id, session_id)
            await kernel._open()
            await kernel._ready()
        except GatewayError as exc:
            await kernel.shutdown()
            raise KernelStartError(str(exc)) from None
        except BaseException:
            await kernel.shutdown()
            raise
        return kernel

    # ---- the websocket -------------------------------------------------------------------

    async def _connect(self) -> ClientConnection:
        url = channels_url(self.gateway, self.kernel_id, self.session.session)
        tls = tls_context(self.gateway)
        options: dict[str, Any] = {}
        if url.startswith("wss:"):
            options["ssl"] = tls if not isinstance(tls, bool) else (True if tls else _unverified())
        try:
            return await connect(
                url,
                additional_headers=self.gateway.header_map(),
                open_timeout=self.gateway.connect_timeout_s,
                max_size=MAX_MESSAGE,
                proxy=None,
                logger=WEBSOCKET_LOG,
                **options,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            raise GatewayError(
                f"the gateway at {self.gateway.base} refused the kernel's channels with HTTP {status}"
                + (": the kernel is gone" if status == 404 else ""),
                url=self.gateway.base,
                status=status,
            ) from None
        except (OSError, WebSocketException, TimeoutError) as exc:
            raise GatewayError(
                f"the gateway at {self.gateway.base} is unreachable for the kernel's channels: {exc or type(exc).__name__}",
                url=self.gateway.base,
            ) from None

    async def _open(self) -> None:
        self._ws = await self._connect()
        self._tasks = [asyncio.ensure_future(self._read()), asyncio.ensure_future(self._write())]

    async def _ready(self) -> None:
        """Wait for the kernel's answer to a ``kernel_info_request``."""
        msg = self.session.msg("kernel_info_request", {})
        self._send("shell", msg)
        deadline = asyncio.get_running_loop().time() + self.config.startup_timeout_s
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0 or self._lost:
                raise GatewayError(
                    f"the kernel on the gateway at {self.gateway.base} did not answer"
                    + (f": {self._lost}" if self._lost else f" within {self.config.startup_timeout_s:g} s"),
                    url=self.gateway.base,
                )
            try:
                reply = await self._next_shell(min(remaining, 0.5))
            except Empty:
                continue
            if reply.get("parent_header", {}).get("msg_id") == msg["header"]["msg_id"]:
                return

    async def _read(self) -> None:
        while True:
            assert self._ws is not None
            try:
                frame = await self._ws.recv()
            except ConnectionClosed:
                if self._lost is not None or not await self._reconnect():
                    return
                continue
            try:
                msg = decode_frame(frame)
            except (ValueError, UnicodeDecodeError, IndexError):
                log.warning("kernel %s: a websocket frame that is no Jupyter message was dropped", self.kernel_id)
                continue
            channel = msg.get("channel")
            if channel == "iopub" and msg["msg_type"] == "status" and not msg.get("parent_header"):
                state = msg.get("content", {}).get("execution_state")
                if state in ("restarting", "dead"):
                    # The gateway's restarter saw the process die; what restarts is an empty kernel.
                    self._lost = "the kernel process on the gateway died (the gateway reported it " + state + ")"
                    return
            queue = self._queues.get(str(channel))
            if queue is not None:
                queue.put_nowait(msg)

    async def _reconnect(self) -> bool:
        for attempt in range(self.gateway.reconnect_attempts):
            await asyncio.sleep(BACKOFF_S * (attempt + 1))
            try:
                self._ws = await self._connect()
            except GatewayError as exc:
                if exc.status == 404:
                    self._lost = f"the gateway at {self.gateway.base} no longer has the kernel (it was culled, deleted, or the gateway restarted)"
                    return False
                continue
            self.reconnects += 1
            log.info("kernel %s: the websocket was reopened (%d)", self.kernel_id, self.reconnects)
            return True
        self._lost = f"the connection to the gateway at {self.gateway.base} was lost and could not be reopened"
        return False

    async def _write(self) -> None:
        frame: str | None = None
        while True:
            if frame is None:
                frame = await self._outbox.get()
            ws = self._ws
            try:
                assert ws is not None
                await ws.send(frame)
                frame = None
            except ConnectionClosed:
                if self._lost is not None:
                    return
                # The reader reopens the socket; send again on the new one.
                while self._ws is ws and self._lost is None:
                    await asyncio.sleep(0.05)

    def _send(self, channel: str, msg: dict[str, Any]) -> None:
        self._outbox.put_nowait(json.dumps({**msg, "channel": channel, "buffers": []}, default=json_default))

    # ---- the channel's carrier -----------------------------------------------------------

    def _send_execute(self, content: dict[str, Any], metadata: dict[str, Any]) -> str:
        msg = self.session.msg("execute_request", content, metadata=metadata)
        self._send("shell", msg)
        return str(msg["header"]["msg_id"])

    async def _next(self, channel: str, timeout: float) -> dict[str, Any]:
        queue = self._queues[channel]
        if not queue.empty():
            return queue.get_nowait()
        try:
            return await asyncio.wait_for(queue.get(), timeout)
        except TimeoutError:
            raise Empty from None

    async def _next_output(self, timeout: float) -> tuple[str, dict[str, Any]]:
        msg = await self._next("iopub", timeout)
        return str(msg.get("channel")), msg

    def _send_input(self, value: str, request: dict[str, Any]) -> None:
        self._send("stdin", self.session.msg("input_reply", {"value": value}, parent=request))

    async def _next_shell(self, timeout: float) -> dict[str, Any]:
        return await self._next("shell", timeout)

    async def is_alive(self) -> bool:
        if self._lost is not None:
            return False
        loop = asyncio.get_running_loop()
        if loop.time() - self._checked >= CHECK_EVERY_S:
            self._checked = loop.time()
            try:
                model = await self.client.kernel(self.kernel_id)
            except GatewayError:
                return True  # unreachable for now: the socket says whether it is gone
            if model is None or model.get("execution_state") == "dead":
                self._lost = f"the gateway at {self.gateway.base} no longer has the kernel (it was culled, deleted, or the gateway restarted)"
                return False
        return True

    async def interrupt(self) -> None:
        if self.kernel_id and self._lost is None:
            try:
                await self.client.interrupt(self.kernel_id)
            except GatewayError as exc:
                log.warning("kernel %s: the interrupt failed: %s", self.kernel_id, exc)

    def exit_description(self) -> str:
        return self._lost or "the kernel on the gateway stopped answering"

    def kill(self) -> None:
        self._lost = self._lost or "the kernel was shut down"
        for task in self._tasks:
            task.cancel()

    async def shutdown(self) -> None:
        self.kill()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws.close(), self.gateway.connect_timeout_s)
            self._ws = None
        if self.kernel_id:
            try:
                await self.client.delete(self.kernel_id)
                lifecycle.forget(self.kernel_id)
            except GatewayError as exc:
                # Left to the exit handler and the janitor, which retry.
                log.warning("kernel %s was not deleted: %s", self.kernel_id, exc)
            self.kernel_id = ""
        await self.client.aclose()


def forwarded_env(gateway: GatewayConfig, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The host variables ``[gateway] env`` names, those that are set."""
    return {name: environ[name] for name in gateway.env if name in environ}


def _unverified() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context

