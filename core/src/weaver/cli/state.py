"""What every command shares: the global options, the loaded extensions and the App."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import attrs
import pluggy
import typer

from weaver.config import PROJECT_FILE, extensions_strict, read_layers
from weaver.extensions import Hooks, LoadReport, load_extensions, make_plugin_manager, selected_from_env

if TYPE_CHECKING:
    from weaver.engine import App

log = logging.getLogger("weaver.cli")
TASKWEAVER_PROJECT_FILE = "taskweaver_config.json"


@attrs.define
class CliState:
    """The extensions loaded for this run of ``weaver``, its global options, and its App.

    Extensions load before the options are parsed (their commands must be known to parse
    them), so loading is never strict here; :meth:`start` applies strict mode afterwards.
    """

    pm: pluggy.PluginManager
    report: LoadReport
    held_logs: list[logging.LogRecord] = attrs.field(factory=list)
    """Warnings logged while loading, shown by :meth:`start` unless strict mode turns them into an error."""
    project_dir: Path = attrs.field(factory=Path.cwd)
    sets: tuple[str, ...] = ()
    verbose: bool = False
    _app: App | None = attrs.field(default=None, init=False)

    @classmethod
    def load(cls) -> CliState:
        """Load the extensions ``WEAVER_LOAD_EXTENSIONS`` selects (all when it is unset)."""
        pm = make_plugin_manager()
        return cls(pm, load_extensions(pm, only=selected_from_env()))

    @classmethod
    def of(cls, ctx: typer.Context) -> CliState:
        """The state of the running ``weaver`` command, from any command's context."""
        state = ctx.find_object(cls)
        if state is None:
            raise RuntimeError("no CliState: run commands through weaver.cli.main")
        return state

    def add_extension_commands(self, app: typer.Typer) -> None:
        """Call the ``weaver_cli`` hook; an extension whose hook raises is reported as failed and dropped."""
        failures = Hooks(self.pm).cli(app)
        self.report = LoadReport(
            tuple(
                attrs.evolve(info, error=failures[info.name], hooks=()) if info.name in failures else info
                for info in self.report.extensions
            )
        )
        for name in failures:
            self.pm.unregister(name=name)

    def start(self, *, project_dir: Path | None, sets: Sequence[str], strict: bool, verbose: bool) -> None:
        """Apply the global options; in strict mode an extension that failed is an error."""
        self.verbose = verbose
        self.project_dir = (project_dir or Path.cwd()).resolve()
        self.sets = (*sets, "extensions.strict=true") if strict else tuple(sets)
        if extensions_strict(read_layers(self.project_dir, cli_sets=self.sets)):
            self.report.raise_first_failure()
        for record in self.held_logs:
            logging.getLogger(record.name).handle(record)
        self.held_logs.clear()

    def app(self) -> App:
        """The :class:`weaver.App` for the project, built on first use.

        Its configuration warnings (a table no extension owns, with the likely intended
        name; a key that moved) are logged once, here, for every command that reads it.
        """
        if self._app is None:
            from weaver.engine import App

            self._app = App(self.project_dir, plugin_manager=self.pm, load_report=self.report, cli_sets=self.sets)
            for warning in self._app.config.warnings:
                log.warning("%s", warning)
        return self._app

    def ready_app(self) -> App:
        """The App, checked that a round can start (:meth:`weaver.App.preflight`): for the
        commands that run rounds, before they create or resume a session.

        In a folder with no ``weaver.toml`` it says where sessions will be kept, since it
        creates the workspace there.
        """
        app = self.app()
        # A TaskWeaver project copied unchanged has its own marker instead of weaver.toml.
        if not any((app.project_dir / name).is_file() for name in (PROJECT_FILE, TASKWEAVER_PROJECT_FILE)):
            log.warning(
                "no %s in %s: using the defaults; sessions are kept in %s ('weaver init' makes a project)",
                PROJECT_FILE, app.project_dir, app.workspace,
            )  # fmt: skip
        app.preflight()
        return app

    def close(self) -> None:
        if self._app is not None:
            self._app.close()


class _ListHandler(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__()
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def holding_logs(name: str) -> Iterator[list[logging.LogRecord]]:
    """Keep what logger ``name`` (and its children) log, instead of showing it, until the block ends."""
    logger = logging.getLogger(name)
    records: list[logging.LogRecord] = []
    handler = _ListHandler(records)
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield records
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
