"""``weaver mcp serve``: the project as an MCP server on stdio, for other agents and IDEs.

Its tools:

- ``run_request(request, session_id=None)``: one round (Planner, CodeInterpreter, ...) in a
  new session or a stored one; the answer, the round's state and the session's id;
- ``run_code(code, session_id=None)``: code through the verified pipeline
  (``Session.run_code``: verifiers, guards, approval, the kernel, feedback), in the
  session's stateful kernel;
- ``list_artifacts(session_id)`` and ``fetch_artifact(session_id, path)``: the files a
  session's code wrote (text as text, other files as base64).

Sessions opened by the server stay open (their kernels keep their variables) until it stops.
Only the MCP protocol goes to stdout; logs go to stderr.
"""

from __future__ import annotations

import base64
import mimetypes
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from weaver.engine import App, Session

MAX_FETCH_BYTES = 10_000_000


def register(app: typer.Typer) -> None:
    from weaver.cli.output import command_group

    group = command_group("Weaver and the Model Context Protocol.")
    group.command("serve")(serve)
    app.add_typer(group, name="mcp")


def serve(ctx: typer.Context) -> None:
    """Serve this project over MCP on stdio: run requests, run code in a session's kernel, fetch artifacts."""
    from weaver.cli.state import CliState

    build_server(CliState.of(ctx).app()).run("stdio")


def build_server(app: App) -> MCPServer:
    """An MCP server whose tools work on ``app``'s sessions."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    from weaver.errors import WeaverError

    server: MCPServer = MCPServer("weaver", instructions="Weaver: a Planner and a CodeInterpreter with a stateful Python kernel.")
    sessions: dict[str, Session] = {}

    def session(session_id: str | None) -> Session:
        try:
            return opened(session_id)
        except WeaverError as exc:  # a configuration or an unknown session: the client is told why
            raise ToolError(str(exc)) from None

    def opened(session_id: str | None) -> Session:
        if session_id is None:
            created = app.session()
            sessions[created.id] = created
            return created
        if session_id not in sessions:
            sessions[session_id] = app.resume(session_id)
        return sessions[session_id]

    @server.tool()
    async def run_request(
        request: Annotated[str, "what to do, in plain words"], session_id: str | None = None
    ) -> dict[str, Any]:
        """Run one request in a Weaver session (a new one unless session_id names a stored one):
        plan, code in a stateful Python kernel, answer."""
        try:
            app.preflight()
        except WeaverError as exc:
            raise ToolError(str(exc)) from None
        chosen = session(session_id)
        finished = await chosen.asend_message(request)
        return {
            "session_id": chosen.id,
            "state": finished.state.value,
            "answer": finished.answer or "",
            "reason": finished.reason or "",
        }

    @server.tool()
    async def run_code(code: str, session_id: str | None = None) -> dict[str, Any]:
        """Run Python code in a session's stateful kernel through Weaver's verified pipeline
        (code verifiers, guards, approval, the kernel); the feedback a model would read."""
        chosen = session(session_id)
        done = await chosen.arun_code(code)
        result = done.result
        return {
            "session_id": chosen.id,
            "status": done.status,
            "ok": done.ok,
            "feedback": done.feedback,
            "value": result.value_repr if result is not None else None,
            "stdout": result.stdout if result is not None else "",
        }

    @server.tool()
    def list_artifacts(session_id: str) -> list[str]:
        """The files a session's code wrote to its artifacts folder, as paths within it."""
        root = session(session_id).artifacts_dir
        if not root.is_dir():
            return []
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and not p.is_symlink())

    @server.tool()
    def fetch_artifact(session_id: str, path: str) -> dict[str, Any]:
        """One artifact of a session: text files as text, others as base64."""
        data = read_artifact(session(session_id).artifacts_dir, path)
        if data is None:
            raise ToolError(f"no artifact {path!r} in session {session_id}; list_artifacts names them")
        if len(data) > MAX_FETCH_BYTES:
            raise ToolError(f"{path} is larger than {MAX_FETCH_BYTES} bytes")
        mime = mimetypes.guess_type(path)[0] or "application/octet-stream"
        try:
            return {"path": path, "mime": mime, "text": data.decode("utf-8")}
        except UnicodeDecodeError:
            return {"path": path, "mime": mime, "base64": base64.b64encode(data).decode("ascii")}

    return server


def read_artifact(root: Path, path: str) -> bytes | None:
    """The first bytes (one more than :data:`MAX_FETCH_BYTES`) of the regular file ``path``
    in ``root``, reached through no link (the kernel writes there); ``None`` if there is none."""
    from weaver.execution import files

    try:
        parts = files.relative_parts(path)
        with files.directory(root) as top:
            parent = files.open_beneath(top, parts[:-1])
            try:
                fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=parent)
            finally:
                os.close(parent)
    except (OSError, files.UnsafePathError):
        return None
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            return None
        return file.read(MAX_FETCH_BYTES + 1)
