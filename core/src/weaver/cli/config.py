"""``weaver config ...``: the effective configuration and where each value came from."""

import json
from itertools import groupby
from typing import Annotated

import typer

from weaver.cli.output import command_group, echo_json
from weaver.cli.state import CliState

ALIGN_LIMIT = 40
"""Source comments line up after values up to this width; longer lines don't push the others out."""


def register(app: typer.Typer) -> None:
    group = command_group("Inspect the configuration.")
    group.command("show")(show)
    app.add_typer(group, name="config")


def show(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print the effective configuration with the source of each value; secrets are masked."""
    app = CliState.of(ctx).app()
    secret_keys = {name: table.secret_keys for name, table in app.registry.config_tables.items()}
    rows = app.config.rows(secret_keys)
    if as_json:
        echo_json(
            {
                "values": [{"key": key, "value": value, "source": source} for key, value, source in rows],
                "warnings": list(app.config.warnings),
            }
        )
        return
    for table, table_rows in groupby(rows, key=lambda row: row[0].split(".", 1)[0]):
        lines = [
            (f"{key.split('.', 1)[1]} = {json.dumps(value, default=str)}", source) for key, value, source in table_rows
        ]
        width = min(max(len(line) for line, _ in lines), ALIGN_LIMIT)
        typer.echo(f"[{table}]")
        for line, source in lines:
            typer.echo(f"{line.ljust(width)}  # {source}")
        typer.echo("")
