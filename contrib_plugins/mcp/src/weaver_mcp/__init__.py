"""MCP for Weaver: the tools of MCP servers as typed host plugins, and Weaver as an MCP server.

- ``[mcp.servers.NAME]`` (:mod:`weaver_mcp.config`): each server's tools become host plugins
  ``NAME.<tool>`` with typed signatures from their schemas (:mod:`weaver_mcp.schema`),
  called from kernel code and run on the host (:mod:`weaver_mcp.client`); ``weaver
  plugins`` lists them and ``weaver doctor`` checks each server.
- ``weaver mcp serve`` (:mod:`weaver_mcp.serve`): the project as an MCP server on stdio,
  for other agents and IDEs.

This module is imported on every ``weaver`` command: it imports nothing of the SDK.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from weaver.hookspecs import hookimpl
from weaver.specs import ConfigTable, PluginSourceSpec
from weaver_mcp.config import McpConfig, ServerConfig

if TYPE_CHECKING:
    from pathlib import Path

    import typer

    from weaver.config import Config


@hookimpl
def weaver_config_tables() -> list[ConfigTable]:
    return [ConfigTable("mcp", McpConfig, "MCP servers whose tools generated code may call")]


@hookimpl
def weaver_plugin_sources(config: Config) -> list[PluginSourceSpec]:
    settings = config.table(McpConfig)
    return [
        PluginSourceSpec(
            name, functools.partial(_server, name, server, config.project_dir), server.description or f"the MCP server {name}"
        )
        for name, server in settings.servers.items()
    ]


def _server(name: str, settings: ServerConfig, project_dir: Path) -> object:
    from weaver_mcp.client import McpServer  # the SDK only when a server is used

    return McpServer(name, settings, project_dir)


@hookimpl
def weaver_cli(app: typer.Typer) -> None:
    from weaver_mcp.serve import register

    register(app)
