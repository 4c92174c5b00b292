"""``[mcp]``: the MCP servers whose tools generated code may call.

::

    [mcp.servers.github]                 # a server started as a process, spoken to over stdio
    command = "github-mcp-server"
    args = ["stdio"]
    env = { GITHUB_TOKEN = "${GITHUB_TOKEN}" }   # ${NAME}: from the host's environment

    [mcp.servers.search]                 # a server reached over streamable HTTP
    url = "http://127.0.0.1:8931/mcp"

A stdio server gets a minimal environment (the MCP SDK's: ``PATH``, ``HOME`` and the like)
plus ``env``; nothing else of the host's environment, API keys included, unless ``env``
passes it on.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from weaver.config import at_least, greater_than


@attrs.frozen
class ServerConfig:
    """One ``[mcp.servers.<name>]``: ``command`` (with ``args``, ``env``, ``cwd``) or ``url``."""

    command: str = ""
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = attrs.field(factory=dict)
    cwd: str = ""
    """The server's working directory (relative to the project); default the project's."""
    url: str = ""
    """A streamable HTTP endpoint, instead of a command."""
    description: str = ""
    """What the server is for, as the prompt and ``weaver plugins`` show it."""
    cost: float = attrs.field(default=0.0, validator=at_least(0))
    """What one call of any of its tools costs (see ``[approval] plugin_calls = "costly"``)."""
    startup_timeout_s: float = attrs.field(default=30.0, validator=greater_than(0))
    """How long the server has to start and list its tools."""


@attrs.frozen
class McpConfig:
    """``[mcp]``: ``servers`` by name; each name is also the kernel name of its tools (``github.search_issues``)."""

    servers: Mapping[str, ServerConfig] = attrs.field(factory=dict)
