"""``weaver plugins``: every function generated code could call, where it comes from, and its status.

Each plugin the loader found is one row: loaded, disabled, not configured, failed (with
why), or shadowed (an extension's plugin the project's own plugin of that name replaces).
The rows are the loader's :class:`weaver.plugins.records.PluginStatus` records, rendered.
``weaver plugins test NAME`` runs a plugin's own tests.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from weaver.cli.output import command_group, echo_json
from weaver.cli.state import CliState

if TYPE_CHECKING:
    from weaver.plugins.records import PluginStatus


def register(app: typer.Typer) -> None:
    group = command_group("The plugins generated code can call.", no_args_is_help=False)
    group.callback(invoke_without_command=True)(plugins)
    group.command("test")(test)
    app.add_typer(group, name="plugins")


def where(status: PluginStatus, project_dir: Path) -> str:
    """Where a plugin comes from, for a reader: a project-relative file and its format, or
    the extension with its distribution."""
    from weaver.plugins.records import PluginOrigin  # ~9 ms of plugin modules, not on every `weaver --help`

    if status.origin is PluginOrigin.extension:
        return f"{status.source} ({status.distribution})" if status.distribution else status.source
    if status.origin in (PluginOrigin.config, PluginOrigin.source):
        return status.source
    path = Path(status.source)
    shown = path.relative_to(project_dir) if path.is_relative_to(project_dir) else path
    return f"{shown} ({status.origin.label})"


def as_row(status: PluginStatus) -> dict[str, Any]:
    """A status as ``--json`` prints it (``status`` is the state's wire name)."""
    from weaver.serde import to_data  # cattrs, only when JSON is printed

    data = to_data(status)
    return {"name": data.pop("name"), "status": data.pop("state"), **data, "severity": status.severity.value}


def plugins(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List every plugin generated code could call: where it comes from and its status
    (loaded, disabled, not configured, failed and why, shadowed and by what).

    Extensions (the installed distributions) are listed by ``weaver extensions``.
    """
    if ctx.invoked_subcommand is not None:
        return
    state = CliState.of(ctx)
    statuses = state.app().plugins.statuses
    if as_json:
        echo_json({"plugins": [as_row(status) for status in statuses]})
        return
    from weaver.plugins.records import PluginState  # as in where()

    counts = Counter(status.state for status in statuses)
    summary = ", ".join(f"{counts[kind]} {kind.label}" for kind in PluginState if counts[kind])
    typer.echo(f"Plugins ({summary or 'none found'}):")
    name_width = max((len(s.name) for s in statuses), default=0)
    labels = [s.state.label + (", on the host" if s.host else "") for s in statuses]
    state_width = max((len(label) for label in labels), default=0)
    for status, label in zip(statuses, labels):
        typer.echo(f"  {status.name.ljust(name_width)}  {label.ljust(state_width)}  {where(status, state.project_dir)}")
        text = status.detail or (status.description.splitlines() or [""])[0]
        if text:
            typer.echo(f"      {text}")


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
