"""``weaver plugins``: the functions generated code can call, where each comes from, and whether it loads.

``weaver plugins test NAME`` runs a plugin's own tests.
"""

from typing import Annotated

import typer

from weaver.cli.output import command_group, echo_json
from weaver.cli.state import CliState


def register(app: typer.Typer) -> None:
    group = command_group("The plugins generated code can call.", no_args_is_help=False)
    group.callback(invoke_without_command=True)(plugins)
    group.command("test")(test)
    app.add_typer(group, name="plugins")


def plugins(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the plugins generated code can call: name, source, and why one did not load.

    Extensions (the installed distributions) are listed by ``weaver extensions``.
    """
    if ctx.invoked_subcommand is not None:
        return
    plugin_set = CliState.of(ctx).app().plugins
    rows = [
        {"name": p.name, "source": p.source, "status": "loaded", "description": p.schema.description.strip()}
        for p in plugin_set.plugins
    ]
    rows += [{"name": e.name, "source": e.source, "status": "failed", "description": e.message} for e in plugin_set.errors]
    if as_json:
        echo_json({"plugins": rows})
        return
    loaded = len(plugin_set.plugins)
    typer.echo(f"Plugins ({loaded} loaded, {len(plugin_set.errors)} not loaded):")
    for row in rows:
        summary = (row["description"].splitlines() or [""])[0]
        typer.echo(f"  {row['name']}  [{row['status']}]  {row['source']}")
        if summary:
            typer.echo(f"      {summary}")


def test(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The plugin (a function generated code calls) to test.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Run a plugin's own tests: the >>> examples of its docs in a real kernel, and test_<name>.py beside it."""
    from weaver.plugins.testing import run_plugin_tests

    report = run_plugin_tests(CliState.of(ctx).app(), name)
    if as_json:
        from weaver.serde import to_data

        echo_json({**to_data(report), "ok": report.ok})
    elif not report.has_tests:
        typer.echo(f"plugin {name!r} has no tests: add >>> examples to its docs, or test_{name}.py beside its file")
    else:
        if report.examples_attempted:
            passed = report.examples_attempted - report.examples_failed
            typer.echo(f"examples: {passed} passed, {report.examples_failed} failed")
            if report.examples_failed:
                typer.echo(report.examples_output)
        if report.test_file is not None:
            typer.echo(f"{report.test_file}: pytest exit code {report.test_exit_code}")
            if report.test_exit_code:
                typer.echo(report.test_output)
    if not report.ok:
        raise typer.Exit(1)
