"""The ``weaver`` command line, built with Typer.

How it is put together, so that every later command (``run``, ``chat``, ``doctor``,
``sessions``, ``demo``, ``check``, ``cost``, ``install``) is one more module:

- :mod:`weaver.cli.root` builds the root command with the global options (``-p/--project``,
  ``--set table.key=value``, ``--strict-extensions``, ``-v/--verbose``, ``--version``); then every
  module named in :data:`weaver.cli.root.COMMANDS` adds its commands through its
  ``register(app: typer.Typer) -> None``; then extensions add theirs through the
  ``weaver_cli`` hook.
- To add ``weaver run``: write ``weaver/cli/run.py`` with ``register(app)`` (a group such as
  ``config`` registers a sub-``Typer``), and add ``"run"`` to ``COMMANDS``.
- A command takes ``ctx: typer.Context`` and reads the shared :class:`CliState` with
  ``CliState.of(ctx)``; ``state.app()`` builds the :class:`weaver.App` on first use, on the
  extensions the CLI already loaded. Extensions' commands do the same.
- ``weaver --help`` imports every command module and each extension's top-level module, so
  import anything heavy (the LLM client, the kernel, pandas) inside the command function.
- Commands write with ``typer.echo`` and offer ``--json`` where a program reads the output.
  A :class:`weaver.errors.WeaverError` raised anywhere becomes one line on stderr and exit
  status 1; ``-v`` adds the traceback. Only the CLI configures logging.
"""

from weaver.cli.root import main
from weaver.cli.state import CliState

__all__ = ["CliState", "main"]
