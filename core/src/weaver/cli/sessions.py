"""``weaver sessions list | show ID | resume ID | export ID``: the sessions stored in the workspace.

Sessions are read from their event logs (``<workspace>/sessions/<id>/events.jsonl``); a
round the log never saw end shows as failed ("interrupted"), and unreadable lines are
reported as warnings, never fatal.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from weaver.cli.output import command_group, echo_json, echo_table, warn
from weaver.cli.state import CliState

if TYPE_CHECKING:
    from weaver.engine import App
    from weaver.model import Round


def register(app: typer.Typer) -> None:
    group = command_group("List, show, resume and export stored sessions.")
    group.command("list")(list_sessions)
    group.command("show")(show)
    group.command("resume")(resume)
    group.command("export")(export)
    app.add_typer(group, name="sessions")


def _rounds(app: App, session_id: str) -> tuple[Round, ...]:
    """The rounds a stored session's log records; unreadable lines become warnings."""
    from weaver.errors import SessionNotFoundError
    from weaver.store import read_log, rebuild_rounds, session_paths

    paths = session_paths(app.workspace, session_id)
    if not paths.log.is_file():
        raise SessionNotFoundError(
            f"no session {session_id!r} in {app.workspace} ('weaver sessions list' shows them)", session_id=session_id
        )
    contents = read_log(paths.log)
    for problem in contents.problems:
        warn(problem)
    return rebuild_rounds(contents.events)


def _summary(session_id: str, rounds: tuple[Round, ...]) -> dict[str, Any]:
    from weaver.model import Usage

    usage = sum((r.usage for r in rounds), Usage())
    last = rounds[-1] if rounds else None
    return {
        "id": session_id,
        "rounds": len(rounds),
        "last_state": last.state.value if last else None,
        "first_request": rounds[0].user_query if rounds else None,
        "created_at": rounds[0].created_at if rounds else None,
        "updated_at": (last.ended_at or last.created_at) if last else None,
        "llm_calls": usage.llm_calls,
        "tokens": usage.total_tokens,
        "cost": usage.cost,
    }


def list_sessions(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List stored sessions, oldest first: id, rounds, how the last ended, the first request."""
    import time

    from weaver.console.blocks import describe

    app = CliState.of(ctx).app()
    rows = [_summary(session_id, _rounds(app, session_id)) for session_id in app.session_ids()]
    # Ids sort by the second they were made in; the first round's start orders within one.
    rows.sort(key=lambda row: (row["created_at"] is None, row["created_at"] or 0.0, row["id"]))
    if as_json:
        echo_json(rows)
        return
    if not rows:
        typer.echo(f"no sessions in {app.workspace}")
        return
    echo_table(
        ("id", "rounds", "last", "updated", "first request"),
        [
            (
                row["id"],
                row["rounds"],
                row["last_state"] or "-",
                time.strftime("%Y-%m-%d %H:%M", time.localtime(row["updated_at"])) if row["updated_at"] else "-",
                describe(row["first_request"]),
            )
            for row in rows
        ],
    )


def show(
    ctx: typer.Context,
    session_id: Annotated[str, typer.Argument(metavar="ID", help="The session id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the rounds as a JSON list.")] = False,
) -> None:
    """Show a stored session's rounds as the live view showed them."""
    from weaver.serde import to_data

    rounds = _rounds(CliState.of(ctx).app(), session_id)
    if as_json:
        echo_json([to_data(r) for r in rounds])
        return
    from weaver.console import blocks, make_console

    console = make_console()
    console.print(f"[bold]session {session_id}[/] · {blocks.counted(len(rounds), 'round')}")
    for round in rounds:
        for block in blocks.round_blocks(round):
            console.print(block)


def resume(
    ctx: typer.Context,
    session_id: Annotated[str, typer.Argument(metavar="ID", help="The session id.")],
) -> None:
    """Continue a stored session in 'weaver chat', with its earlier rounds as history."""
    from weaver.cli.chat import Chat

    app = CliState.of(ctx).ready_app()
    raise typer.Exit(Chat(app, app.resume(session_id)).loop())


def export(
    ctx: typer.Context,
    session_id: Annotated[str, typer.Argument(metavar="ID", help="The session id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Export JSON (a list of Rounds) instead of Markdown.")] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", metavar="FILE", dir_okay=False, help="Write to this file instead of stdout.")
    ] = None,
) -> None:
    """Export a stored session as Markdown (default) or JSON."""
    import json

    from weaver.console.transcript import session_markdown
    from weaver.serde import to_data

    rounds = _rounds(CliState.of(ctx).app(), session_id)
    if as_json:
        text = json.dumps([to_data(r) for r in rounds], indent=2, ensure_ascii=False) + "\n"
    else:
        text = session_markdown(session_id, rounds)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}", err=True)
