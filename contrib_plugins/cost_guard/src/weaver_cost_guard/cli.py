"""The ``weaver cost`` command (added through the ``weaver_cli`` hook)."""

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add ``weaver cost SESSION`` to the CLI."""
    app.command("cost")(cost)


def cost(
    ctx: typer.Context,
    session: Annotated[str, typer.Argument(help="The session id (as in the workspace's sessions/ folder).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Tokens and money a session spent, per role, per round and per model."""
    from weaver.cli import CliState
    from weaver.cli.output import echo_json, echo_table, warn
    from weaver_cost_guard.report import COLUMNS, load_session_cost, tables, total_line
    from weaver_cost_guard.report import as_json as report_json

    spent = load_session_cost(CliState.of(ctx).app().workspace, session)
    for problem in spent.problems:
        warn(problem)
    if as_json:
        echo_json(report_json(spent))
        return
    typer.echo(total_line(spent))
    for title, rows in tables(spent).items():
        typer.echo(f"\nper {title}:")
        echo_table((title, *COLUMNS), rows)
