"""Small output helpers shared by the commands: command groups, aligned text tables and JSON."""

import json
from collections.abc import Sequence
from typing import Any

import typer


def command_group(help: str, *, no_args_is_help: bool = True) -> typer.Typer:
    """A group of subcommands (``weaver sessions ...``) with the root command's help style."""
    return typer.Typer(help=help, no_args_is_help=no_args_is_help, rich_markup_mode=None)


def echo_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout (for programs reading ``--json`` output)."""
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def echo_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print rows under headers, each column as wide as its widest cell."""
    cells = [[str(h).upper() for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


def warn(message: str) -> None:
    """One ``warning: ...`` line on stderr, the shape the CLI's log lines have."""
    typer.echo(f"warning: {message}", err=True)
