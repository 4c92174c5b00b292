"""``weaver install PACKAGE...`` / ``weaver uninstall PACKAGE...``: pip, in Weaver's own environment.

An extension must be installed where Weaver runs (a pipx or uv tool environment, a
virtualenv); these commands run ``python -m pip`` with the interpreter running Weaver, so
nobody has to find that environment. The exit status is pip's.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    app.command("install")(install)
    app.command("uninstall")(uninstall)


def _pip(*args: str) -> None:
    command = [sys.executable, "-m", "pip", *args]
    raise typer.Exit(subprocess.call(command))


def install(
    packages: Annotated[list[str] | None, typer.Argument(metavar="PACKAGE", help="What pip should install.")] = None,
    upgrade: Annotated[bool, typer.Option("--upgrade", "-U", help="Upgrade packages to the newest version.")] = False,
    editable: Annotated[
        str | None, typer.Option("--editable", "-e", metavar="PATH", help="Install a local project in editable mode.")
    ] = None,
    force_reinstall: Annotated[bool, typer.Option("--force-reinstall", help="Reinstall even if up to date.")] = False,
    no_cache_dir: Annotated[bool, typer.Option("--no-cache-dir", help="Don't use pip's cache.")] = False,
) -> None:
    """Install extensions (or any package) into the environment Weaver runs in."""
    if not packages and not editable:
        raise typer.BadParameter("name at least one PACKAGE, or a path with --editable")
    options = [
        flag for flag, on in (("--upgrade", upgrade), ("--force-reinstall", force_reinstall), ("--no-cache-dir", no_cache_dir)) if on
    ]
    _pip("install", *options, *(["--editable", editable] if editable else []), *(packages or ()))


def uninstall(
    packages: Annotated[list[str], typer.Argument(metavar="PACKAGE", help="What pip should uninstall.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Don't ask for confirmation.")] = False,
) -> None:
    """Uninstall packages from the environment Weaver runs in."""
    _pip("uninstall", *(["--yes"] if yes else []), *packages)
