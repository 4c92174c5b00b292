"""``weaver extensions``: the extensions that loaded, what they implement, and what failed."""

from typing import Annotated, Any

import pluggy
import typer

from weaver import hookspecs
from weaver.cli.output import echo_json
from weaver.cli.state import CliState
from weaver.extensions import ExtensionInfo


def register(app: typer.Typer) -> None:
    app.command("extensions")(extensions)


def extensions(
    ctx: typer.Context,
    show_all: Annotated[
        bool, typer.Option("--all", help="Also list every hook spec and which extensions implement it.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List extensions: name, module, distribution, version, hooks implemented, load failures.

    Extensions are the installed distributions that add roles, guards, verifiers and
    plugins; 'weaver plugins' lists the plugins, the functions generated code calls.
    """
    state = CliState.of(ctx)
    from weaver.serde import to_data

    extensions = [{**to_data(info), "ok": info.ok} for info in state.report.extensions]
    specs = hook_specs(state.pm) if show_all else None
    if as_json:
        echo_json({"extensions": extensions} | ({"hooks": specs} if specs is not None else {}))
        return
    failed = len(state.report.failed)
    typer.echo(f"Extensions ({len(extensions) - failed} loaded, {failed} failed):")
    for info in state.report.extensions:
        _echo_extension(info)
    if specs is not None:
        typer.echo("\nHook specs:")
        for spec in specs:
            flags = [flag for flag in ("historic", "firstresult") if spec[flag]]
            typer.echo(f"  {spec['name']}" + (f" ({', '.join(flags)})" if flags else ""))
            typer.echo(f"      {spec['summary']}")
            typer.echo(f"      implemented by: {', '.join(spec['implemented_by']) or '-'}")


def hook_specs(pm: pluggy.PluginManager) -> list[dict[str, Any]]:
    """Every hook spec in order: name, first docstring line, options, implementers in call order."""
    specs = []
    for name in hookspecs.HOOK_NAMES:
        caller = getattr(pm.hook, name)
        opts = caller.spec.opts if caller.spec is not None else {}
        specs.append(
            {
                "name": name,
                "summary": (getattr(hookspecs, name).__doc__ or "").strip().splitlines()[0],
                "historic": bool(opts.get("historic")),
                "firstresult": bool(opts.get("firstresult")),
                "implemented_by": [impl.plugin_name for impl in reversed(caller.get_hookimpls())],
            }
        )
    return specs


def _echo_extension(info: ExtensionInfo) -> None:
    origin = f"{info.distribution} {info.version}".strip() or "(no distribution)"
    status = "built in" if info.builtin else ("ok" if info.ok else "FAILED")
    typer.echo(f"  {info.name}  {origin}  [{status}]")
    typer.echo(f"      module: {info.module}")
    if info.ok:
        typer.echo(f"      hooks:  {', '.join(info.hooks) or '-'}")
    else:
        typer.echo(f"      error:  {info.error}")
