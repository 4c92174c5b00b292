"""weaver-server: ``weaver serve``, Weaver as an HTTP service for a team.

An API over the sessions of many users (bearer tokens, each user's sessions in a workspace
of their own), rounds that run in the background, a live event stream per session over
Server-Sent Events that a client can reconnect to without losing anything, uploads,
artifacts, approvals, cost, and exports as Markdown, JSON and Jupyter notebooks. One
process, one :class:`weaver.App` and one warm kernel pool for everyone.

Modules, one job each: :mod:`~weaver_server.config` (the ``[server]`` table),
:mod:`~weaver_server.users` and :mod:`~weaver_server.auth` (tokens), :mod:`~weaver_server.names`
(what a file name may be), :mod:`~weaver_server.files` (files inside a session, no link
followed), :mod:`~weaver_server.stream` (the event stream), :mod:`~weaver_server.service`
(sessions and rounds of every user), :mod:`~weaver_server.views` and
:mod:`~weaver_server.export` (what is shown and exported), :mod:`~weaver_server.api` (the
routes), :mod:`~weaver_server.serve` (uvicorn and shutdown) and :mod:`~weaver_server.cli`.

This module is the entry point and stays light: ``weaver --help`` imports it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from weaver.hookspecs import hookimpl
from weaver.specs import ConfigTable
from weaver_server.config import ServerConfig

if TYPE_CHECKING:
    import typer

__all__ = ["ServerConfig"]


@hookimpl
def weaver_config_tables() -> list[ConfigTable]:
    return [ConfigTable("server", ServerConfig, "Where 'weaver serve' listens, its users' tokens and its limits", frozenset({"tokens"}))]


@hookimpl
def weaver_cli(app: typer.Typer) -> None:
    from weaver_server.cli import serve

    app.command("serve")(serve)
