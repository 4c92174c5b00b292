"""One MCP server as a source of host plugins, on the ``mcp`` SDK's client.

The connection lives on an event loop of its own, on a thread of its own: the SDK's client
is an async context that must be entered and left in one task, and the App asks for the
tools from wherever its plugins first load (a CLI command, or a session already on the
App's loop). The server starts on the first listing or call, once, and stops when the
App closes (:meth:`McpServer.close`). A stdio server's stderr is logged, line by line, to
``weaver.mcp.<name>``; its last lines are in the error when the server cannot start.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import string
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TextIO, cast

from weaver.plugins.sources import SourceTool
from weaver_mcp.config import ServerConfig
from weaver_mcp.schema import WRAPPED, tool_of, unwraps

STDERR_LINES = 20
"""Lines of a server's stderr an error message quotes."""
MAX_PAGES = 100


class McpToolError(Exception):
    """An MCP tool answered with ``isError``; the message is its text."""


class McpServerError(Exception):
    """An MCP server could not be started or reached."""


class _Stderr:
    """A pipe for a server's stderr, drained into the log by a thread; keeps the last lines."""

    def __init__(self, name: str) -> None:
        read, write = os.pipe()
        self.file = cast(TextIO, os.fdopen(write, "w"))
        self.lines: collections.deque[str] = collections.deque(maxlen=STDERR_LINES)
        self._log = logging.getLogger(f"weaver.mcp.{name}")
        self._thread = threading.Thread(target=self._drain, args=(read,), name=f"mcp-{name}-stderr", daemon=True)
        self._thread.start()

    def _drain(self, fd: int) -> None:
        with os.fdopen(fd, encoding="utf-8", errors="replace") as pipe:
            for line in pipe:
                self.lines.append(line.rstrip())
                self._log.info("%s", line.rstrip())

    def tail(self) -> str:
        return "\n".join(self.lines)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.file.close()
        self._thread.join(timeout=2)


class McpServer:
    """A :class:`weaver.plugins.sources.PluginSource` for one ``[mcp.servers.<name>]``."""

    def __init__(self, name: str, settings: ServerConfig, project_dir: Path, environ: Mapping[str, str] | None = None) -> None:
        self.name = name
        self.settings = settings
        self.project_dir = project_dir
        self._environ = dict(os.environ if environ is None else environ)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: Any = None
        self._stop: asyncio.Event | None = None
        self._serving: Future[None] | None = None
        self._stderr: _Stderr | None = None
        self._tools: tuple[SourceTool, ...] | None = None
        self._wrapped: set[str] = set()

    # ---- PluginSource -------------------------------------------------------------

    def tools(self) -> Sequence[SourceTool]:
        """The server's tools (starting the server if it is not running)."""
        with self._lock:
            if self._tools is None:
                self._start()
                self._tools = self._run(self._list(), self.settings.startup_timeout_s)
            return self._tools

    async def call(self, tool: str, arguments: Mapping[str, Any]) -> Any:
        """Call ``tool``; its structured result, else its text. Cancelling cancels the request."""
        await asyncio.to_thread(self.tools)  # started once, off the caller's loop
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(self._call(tool, dict(arguments)), self._loop)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            future.cancel()
            raise

    def close(self) -> None:
        """Stop the server and the connection's thread."""
        with self._lock:
            self._teardown()

    def _teardown(self) -> None:
        loop, self._loop = self._loop, None
        if loop is None:
            return
        if self._stop is not None:
            loop.call_soon_threadsafe(self._stop.set)
        if self._serving is not None:
            with contextlib.suppress(BaseException):
                self._serving.result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)
        loop.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    # ---- the connection, on its own loop --------------------------------------------

    def _start(self) -> None:
        if self._loop is not None:
            return
        if not self.name.isidentifier():
            raise McpServerError(f"[mcp.servers.{self.name}]: the name must be a Python identifier (code calls {self.name}.<tool>)")
        if bool(self.settings.command) == bool(self.settings.url):
            raise McpServerError(f"[mcp.servers.{self.name}] needs either command (a stdio server) or url (streamable HTTP)")
        loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=loop.run_forever, name=f"mcp-{self.name}", daemon=True)
        self._thread.start()
        self._loop = loop
        ready: Future[None] = Future()
        self._serving = asyncio.run_coroutine_threadsafe(self._serve(ready), loop)
        try:
            ready.result(timeout=self.settings.startup_timeout_s)
        except Exception as exc:  # noqa: BLE001 - whatever stops the server is reported with its stderr
            # The next listing (weaver doctor's, a later App's) starts afresh.
            what = f"did not answer within {self.settings.startup_timeout_s:g} s" if isinstance(exc, TimeoutError) else _describe(exc)
            if self._stderr is not None:
                self._stderr.close()  # what the server wrote before it failed, read to its end
            error = McpServerError(self._why(what))
            self._teardown()
            raise error from None

    async def _serve(self, ready: Future[None]) -> None:
        from mcp import Client, StdioServerParameters
        from mcp.client.stdio import stdio_client

        self._stop = asyncio.Event()
        try:
            if self.settings.url:
                transport: Any = self.settings.url
            else:
                self._stderr = _Stderr(self.name)
                params = StdioServerParameters(
                    command=self.settings.command,
                    args=list(self.settings.args),
                    env={key: string.Template(value).safe_substitute(self._environ) for key, value in self.settings.env.items()},
                    cwd=str(self.project_dir / self.settings.cwd) if self.settings.cwd else str(self.project_dir),
                )
                transport = stdio_client(params, errlog=self._stderr.file)
            async with Client(transport, mode="legacy") as client:
                self._client = client
                ready.set_result(None)
                await self._stop.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
        finally:
            self._client = None

    def _run(self, coro: Any, timeout: float) -> Any:
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout=timeout)
        except TimeoutError:
            future.cancel()
            raise McpServerError(self._why(f"did not list its tools within {timeout:g} s")) from None
        except Exception as exc:  # noqa: BLE001 - whatever stops the server is reported with its stderr
            raise McpServerError(self._why(_describe(exc))) from None

    async def _list(self) -> tuple[SourceTool, ...]:
        found, cursor = [], None
        for _ in range(MAX_PAGES):
            page = await self._connected().list_tools(cursor=cursor)
            found += page.tools
            cursor = page.next_cursor
            if not cursor:
                break
        tools = []
        for tool in found:
            if unwraps(tool.output_schema):
                self._wrapped.add(tool.name)
            tools.append(tool_of(tool.name, tool.description, tool.input_schema, tool.output_schema, self.settings.cost))
        return tuple(tools)

    async def _call(self, tool: str, arguments: dict[str, Any]) -> Any:
        result = await self._connected().call_tool(tool, arguments)
        text = "\n".join(getattr(part, "text", "") for part in result.content if getattr(part, "type", "") == "text")
        if result.is_error:
            raise McpToolError(text or f"the tool {tool} failed")
        if result.structured_content is not None:
            structured = result.structured_content
            if tool in self._wrapped and isinstance(structured, dict) and WRAPPED in structured:
                return structured[WRAPPED]
            return structured
        return text

    def _connected(self) -> Any:
        if self._client is None:
            raise McpServerError(self._why("is not connected (it exited?)"))
        return self._client

    def _why(self, what: str) -> str:
        where = f"command {' '.join([self.settings.command, *self.settings.args])!r}" if self.settings.command else self.settings.url
        tail = self._stderr.tail() if self._stderr is not None else ""
        return f"MCP server {self.name} ({where}) {what}" + (f"; its stderr ended with:\n{tail}" if tail else "")


def _describe(exc: BaseException) -> str:
    """An exception (an anyio exception group included) as its innermost causes' messages."""
    inner = getattr(exc, "exceptions", None)
    if inner:
        return "; ".join(_describe(e) for e in inner)
    if isinstance(exc, FileNotFoundError):
        return f"could not be started: {exc.strerror}: {exc.filename or ''}".rstrip(": ")
    return f"failed: {type(exc).__name__}: {exc}"
