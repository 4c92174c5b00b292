"""``weaver init DIR``: a new project: a commented ``weaver.toml``, ``plugins/``, ``data/``, an example.

The files come from :mod:`weaver.cli.project_template` (package data); ``gitignore`` is
written as ``.gitignore``. Existing files are never overwritten without ``--force``.
"""

from __future__ import annotations

from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Annotated

import typer

TEMPLATE = "project_template"
_RENAMED = {"gitignore": ".gitignore"}


def register(app: typer.Typer) -> None:
    app.command("init")(init)


def _template_files(root: Traversable, prefix: Path = Path()) -> list[tuple[Path, Traversable]]:
    files: list[tuple[Path, Traversable]] = []
    for item in sorted(root.iterdir(), key=lambda t: t.name):
        if item.name == "__pycache__":
            continue
        if item.is_dir():
            files += _template_files(item, prefix / item.name)
        else:
            files.append((prefix / _RENAMED.get(item.name, item.name), item))
    return files


def init(
    directory: Annotated[Path, typer.Argument(metavar="DIR", file_okay=False, help="Where to create the project.")] = Path(),
    force: Annotated[bool, typer.Option("--force", help="Overwrite files that already exist.")] = False,
) -> None:
    """Create a Weaver project in DIR (created if missing; default: the current directory)."""
    files = _template_files(resources.files("weaver.cli") / TEMPLATE)
    existing = [relative for relative, _ in files if (directory / relative).exists()]
    if existing and not force:
        names = ", ".join(str(p) for p in existing)
        typer.echo(f"error: {directory} already has {names}; use --force to overwrite", err=True)
        raise typer.Exit(2)
    for relative, source in files:
        target = directory / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read_bytes())
        typer.echo(f"created {target}")
    typer.echo(
        f"\nNext: cd {directory}, set OPENAI_API_KEY (or [llm] base_url in weaver.toml), then 'weaver chat'."
        "\nNo model at hand? 'weaver demo' replays a recorded session offline."
    )
