"""``weaver roles``: every role the extensions provide, and which ones ``[session] roles`` enables."""

from typing import Annotated

import typer

from weaver.cli.output import echo_json, echo_table, warn
from weaver.cli.state import CliState


def register(app: typer.Typer) -> None:
    app.command("roles")(roles)


def roles(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List roles: name, wire alias, providing extension, description, and whether it is enabled."""
    app = CliState.of(ctx).app()
    enabled = app.config.table("session").roles
    rows = [
        {
            "name": spec.name,
            "alias": spec.alias,
            "provider": app.registry.providers.get(("role", spec.name), ""),
            "description": spec.description,
            "enabled": spec.name in enabled or spec.alias in enabled,
        }
        for spec in sorted(app.registry.roles.values(), key=lambda spec: spec.name)
    ]
    known = {name for row in rows for name in (row["name"], row["alias"])}
    for name in enabled:
        if name not in known:
            warn(f"[session] roles names {name!r}, which no installed extension provides")
    if as_json:
        echo_json(rows)
        return
    echo_table(
        ("name", "alias", "provider", "enabled", "description"),
        [(r["name"], r["alias"], r["provider"], "yes" if r["enabled"] else "no", r["description"]) for r in rows],
    )
