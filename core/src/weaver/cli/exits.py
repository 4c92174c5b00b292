"""The exit statuses every ``weaver`` command uses, and which errors mean which.

========  ==================================================================
status    meaning
========  ==================================================================
0         done: the command did its job, the round finished
1         a round failed (an error, a guard stopped it, a limit was hit), a
          check failed, or Weaver reported an error at run time
2         the command line or the configuration is wrong: a bad option, an
          invalid ``weaver.toml``, an unknown role, a session that does not
          exist, a model that is not configured; nothing was run or stored
130       cancelled with Ctrl-C (128 + SIGINT, as shells report it)
========  ==================================================================
"""

from __future__ import annotations

from weaver.errors import (
    ConfigError,
    DuplicateProviderError,
    ExtensionLoadError,
    SessionNotFoundError,
    UnknownNameError,
    WeaverError,
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_CANCELLED = 130

USAGE_ERRORS: tuple[type[WeaverError], ...] = (
    ConfigError,
    UnknownNameError,
    DuplicateProviderError,
    ExtensionLoadError,
    SessionNotFoundError,
)
"""Errors that mean the command line or the configuration is wrong, not that work failed."""

SUMMARY = "Exit status: 0 done, 1 failed, 2 usage or configuration error, 130 cancelled."
"""The line every command's help ends with."""


def status_of(error: WeaverError) -> int:
    """The exit status for an error that ended a command."""
    from weaver.store import InvalidSessionId  # the store module is not on `weaver --help`'s path

    return EXIT_USAGE if isinstance(error, (*USAGE_ERRORS, InvalidSessionId)) else EXIT_FAILED
