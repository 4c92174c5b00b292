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

from __future__ import annotations

import gc
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from weaver.cli.state import CliState

__all__ = ["CliState", "main"]


def main(argv: Sequence[str] | None = None) -> None:
    """Run ``weaver`` (the console script); see :func:`weaver.cli.root.main`."""
    # Starting creates tens of thousands of objects that live as long as the process (modules,
    # classes, the commands) and frees almost none, so collecting meanwhile finds nothing to
    # free, many times over. weaver.cli.root.main turns collection back on once the command
    # line is ready, with what start-up made frozen out of every later collection.
    gc.disable()
    from weaver.cli.root import main as run

    run(argv)


def __getattr__(name: str) -> Any:
    # CliState on first use, so that importing the console script's module imports no Typer yet.
    if name == "CliState":
        from weaver.cli.state import CliState

        return CliState
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
