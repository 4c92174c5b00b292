"""``--server URL``: where ``weaver run`` and ``weaver chat`` find their sessions.

Without it, the project's own :class:`weaver.App`; with it, a Weaver service (``weaver
serve``) through :class:`weaver.client.Client`, which takes the same calls. The token and
the address are checked before anything else happens, so a wrong one exits 2 with nothing
run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import typer

from weaver.cli.state import CliState

if TYPE_CHECKING:
    from weaver.client import Client
    from weaver.engine import App


def server_option() -> Any:
    return typer.Option(
        "--server", metavar="URL", help="Run on the Weaver service at URL (weaver serve) instead of in this project."
    )


def token_option() -> Any:
    return typer.Option("--token", metavar="TOKEN", help="Your token for --server (default: $WEAVER_TOKEN).")


@contextlib.contextmanager
def sessions_of(state: CliState, server: str | None, token: str | None) -> Iterator[App | Client]:
    """The project's App (checked that a round can start), or a client of the service at ``server``."""
    if server is None:
        yield state.ready_app()
        return
    from weaver.client import Client  # httpx2 only for commands that talk to a service

    client = Client(server, token)
    try:
        client.user()
        yield client
    finally:
        client.close()
