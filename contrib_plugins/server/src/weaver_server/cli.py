"""``weaver serve``: the HTTP service (added through the ``weaver_cli`` hook)."""

from __future__ import annotations

from typing import Annotated

import typer


def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option("--host", metavar="ADDRESS", help="Bind this address ([server] host).")] = None,
    port: Annotated[int | None, typer.Option("--port", metavar="PORT", help="Listen on this port ([server] port; 0: any free one).")] = None,
    access_log: Annotated[bool, typer.Option("--access-log", help="Log every request on stderr.")] = False,
) -> None:
    """Serve the project over HTTP: sessions, live events, files, approvals, exports.

    Binds 127.0.0.1 unless told otherwise; every request needs a user's token ([server]
    tokens or tokens_file; without any, one is made for the user 'local' and printed). The
    API is under /v1, its schema at /openapi.json and /docs. SIGTERM or Ctrl-C stops it:
    running rounds are recorded as cancelled and every kernel is shut down.
    """
    from weaver.cli import CliState
    from weaver_server.serve import run

    app = CliState.of(ctx).ready_app()
    raise typer.Exit(run(app, host=host, port=port, access_log=access_log))
