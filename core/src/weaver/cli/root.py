"""The root ``weaver`` command: global options, the core's commands, the extensions' commands."""

import gc
import logging
import signal
import traceback
from collections.abc import Sequence
from importlib import import_module
from pathlib import Path
from typing import Annotated, Any

import typer

from weaver import __version__
from weaver.cli.exits import EXIT_CANCELLED, SUMMARY, status_of
from weaver.cli.state import CliState, holding_logs
from weaver.errors import WeaverError

COMMANDS: tuple[str, ...] = (
    "init", "chat", "run", "sessions", "plugins", "extensions", "roles", "config", "check", "doctor", "install"
)
"""Modules of :mod:`weaver.cli` that each add their commands with ``register(app)``, in help order."""


def build(state: CliState | None = None) -> tuple[typer.Typer, CliState]:
    """The root command with every command on it, and the state its commands share.

    ``state`` defaults to loading the installed extensions; tests pass one built on their
    own plugin manager.
    """
    app = typer.Typer(
        name="weaver",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        # Plain help: no type labels on flags, no padding when piped, the same on every terminal.
        rich_markup_mode=None,
    )
    app.callback()(_root)
    for name in COMMANDS:
        import_module(f"weaver.cli.{name}").register(app)
    with holding_logs("weaver") as held:
        state = state or CliState.load()
        state.add_extension_commands(app)
    state.held_logs.extend(held)
    return app, state


def main(argv: Sequence[str] | None = None) -> None:
    """Run ``weaver`` (the console script); exits with the command's status (:mod:`weaver.cli.exits`)."""
    _configure_logging()
    # SIGTERM (a container stopping, a supervisor) takes the Ctrl-C path: the round is
    # cancelled and recorded, kernels are shut down, nothing is left behind.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    app, state = build()
    command = typer.main.get_command(app)
    _end_help_with(command, SUMMARY)
    # Start-up is over (weaver.cli.main paused collection for it): what it made lives as long
    # as the process, so it is frozen out of the collections the command's work will trigger.
    gc.freeze()
    gc.enable()
    try:
        status = command.main(args=argv, prog_name="weaver", obj=state, standalone_mode=False)
    except typer.TyperException as exc:  # a usage error (status 2), shown as the parser words it
        exc.show()  # type: ignore[attr-defined]
        status = exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("cancelled", err=True)
        status = EXIT_CANCELLED
    except WeaverError as exc:
        if state.verbose:
            traceback.print_exc()
        typer.echo(f"error: {exc}", err=True)
        status = status_of(exc)
    finally:
        state.close()
    raise SystemExit(status if isinstance(status, int) else 0)


def _end_help_with(command: Any, text: str) -> None:
    """Give every command's help (extensions' included) the same closing line."""
    command.epilog = command.epilog or text
    for sub in getattr(command, "commands", {}).values():
        _end_help_with(sub, text)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"weaver {__version__}")
        raise typer.Exit()


def _root(
    ctx: typer.Context,
    project: Annotated[
        Path | None,
        typer.Option(
            "-p",
            "--project",
            metavar="DIR",
            file_okay=False,
            exists=True,
            help="Project directory (holds weaver.toml). Default: the current directory.",
        ),
    ] = None,
    sets: Annotated[
        list[str] | None,
        typer.Option(
            "--set", metavar="TABLE.KEY=VALUE", help="Override one config value; repeatable. Highest config layer."
        ),
    ] = None,
    llm_mode: Annotated[
        str | None,
        typer.Option(
            "--llm-mode", metavar="MODE", help="LLM calls: live, record, replay or replay_or_record (sets llm.mode)."
        ),
    ] = None,
    cassette: Annotated[
        str | None,
        typer.Option("--cassette", metavar="PATH", help="The cassette to record to or replay from (sets llm.cassette)."),
    ] = None,
    strict_extensions: Annotated[
        bool,
        typer.Option(
            "--strict-extensions",
            "--strict-plugins",
            help="Fail when an extension fails to load, instead of skipping it (--strict-plugins: the old name).",
        ),
    ] = False,
    verbose: Annotated[
        bool, typer.Option("-v", "--verbose", help="Show more logging, and tracebacks on errors.")
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", is_eager=True, callback=_print_version, help="Print the version and exit.")
    ] = False,
) -> None:
    """Weaver: ask in plain words; roles plan, write Python, run it in a kernel and answer."""
    if verbose:
        logging.getLogger().setLevel(logging.INFO)
    llm_sets = [f"llm.{key}={value}" for key, value in (("mode", llm_mode), ("cassette", cassette)) if value]
    CliState.of(ctx).start(project_dir=project, sets=[*(sets or ()), *llm_sets], strict=strict_extensions, verbose=verbose)


class _Formatter(logging.Formatter):
    """``warning: message``: the same shape as the CLI's ``error: message`` lines."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {super().format(record)}"


def _configure_logging() -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(_Formatter())
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
