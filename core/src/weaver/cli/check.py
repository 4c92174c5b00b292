"""``weaver check FILE``: run the installed code verifiers on a file, as the CodeInterpreter would."""

from pathlib import Path
from typing import Annotated

import typer

from weaver.cli.output import echo_json
from weaver.cli.state import CliState


def register(app: typer.Typer) -> None:
    app.command("check")(check)


def check(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="The Python file to check.")],
    plugin_only: Annotated[
        bool, typer.Option("--plugin-only", help="Check as plugin-only mode does: only calls to the enabled plugins.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help='Print a JSON list of {"line", "rule", "message"}.')] = False,
) -> None:
    """Verify FILE with every installed verifier: exit 0 when clean, 1 with the violations."""
    from weaver.context import HookContext
    from weaver.execution.pipeline import verify_code
    from weaver.specs import VerifyMode

    app = CliState.of(ctx).app()
    mode = VerifyMode.plugin_only if plugin_only else VerifyMode.normal
    code = file.read_text(encoding="utf-8")
    context = HookContext(session_id="weaver-check", config=app.config, role="CodeInterpreter", plugins=app.plugin_specs)
    violations = verify_code(app.hooks, code, mode, context)
    if as_json:
        echo_json([{"line": v.line, "rule": v.rule, "message": v.message} for v in violations])
    elif violations:
        for v in violations:
            typer.echo(f"{file}:{v.line}: [{v.rule}] {v.message}")
        typer.echo(f"{len(violations)} problem{'s' if len(violations) != 1 else ''} found")
    else:
        typer.echo(f"{file}: ok")
    if violations:
        raise typer.Exit(1)
