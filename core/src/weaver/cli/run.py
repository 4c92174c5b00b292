"""``weaver run "request"``: one round, non-interactive, for scripts and CI.

The live view goes to stderr, so stdout carries only the result: the answer, or with
``--json`` the whole :class:`weaver.model.Round` as one line of JSON (the same shape the
session log stores in ``round_end`` events)::

    {"user_query": "...", "id": "round-...", "state": "finished" | "failed" | "cancelled",
     "reason": "Completed" | why it failed, "posts": [{"send_from", "send_to", "message",
     "attachments": [{"type", "content", "extra", "id"}], "id", "created_at"}],
     "answer": "..." | null, "usage": {"prompt_tokens", "completion_tokens", "cost",
     "llm_calls", "estimated"}, "created_at": 1700000000.0, "ended_at": 1700000012.3}

With ``--server URL`` the round runs on a Weaver service (``weaver serve``) instead, as the
user of ``--token`` (or ``$WEAVER_TOKEN``); the output and the exit status are the same.

Exit status: 0 the round finished; 1 it failed (or Weaver reported an error); 2 the
command line or the project's configuration is wrong (a bad option, an invalid
``weaver.toml`` value, a role nobody provides), so no round could run; 130 cancelled with
Ctrl-C.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from weaver.cli.remote import server_option, sessions_of, token_option
from weaver.cli.state import CliState


def register(app: typer.Typer) -> None:
    app.command("run")(run)


def run(
    ctx: typer.Context,
    request: Annotated[str, typer.Argument(metavar="REQUEST", help="What to ask, in plain words.")],
    files: Annotated[
        list[Path] | None,
        typer.Option(
            "--file",
            "-f",
            metavar="FILE",
            exists=True,
            dir_okay=False,
            readable=True,
            help="Upload a file into the session; repeatable.",
        ),
    ] = None,
    session_id: Annotated[
        str | None, typer.Option("--session", metavar="ID", help="Continue a stored session instead of starting one.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the Round as JSON on stdout.")] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Approve every approval request ([approval]) without asking.")
    ] = False,
    server: Annotated[str | None, server_option()] = None,
    token: Annotated[str | None, token_option()] = None,
) -> None:
    """Run one round and exit: 0 finished, 1 failed, 2 usage or config error, 130 cancelled.

    The live view goes to stderr; stdout gets the answer (or, with --json, the Round as one
    line of JSON). A configuration problem (an invalid weaver.toml, an unknown role, no
    model or API key, a session id that does not exist) exits 2 before any session is
    stored.
    """
    from weaver.cli.rounds import approve_all, exit_code, run_round
    from weaver.console import LiveView, make_console
    from weaver.serde import to_json

    console = make_console(stderr=True)
    with sessions_of(CliState.of(ctx), server, token) as app:
        session = app.resume(session_id) if session_id else app.session()
        view = LiveView(console, session_id=session.id)
        unsubscribe = view.attach(app)
        try:
            round = run_round(session, request, files or (), console, ask=approve_all if yes else None)
        finally:
            unsubscribe()
            view.close()
    console.print(f"[dim]session {session.id} · weaver sessions show {session.id}[/]")
    if as_json:
        typer.echo(to_json(round))
    elif round.answer and not sys.stdout.isatty():
        # On a terminal the live view has just shown the answer; a pipe gets it on stdout.
        typer.echo(round.answer)
    raise typer.Exit(exit_code(round))
