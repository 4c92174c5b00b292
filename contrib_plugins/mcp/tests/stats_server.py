"""An MCP server for the tests, on the ``mcp`` SDK's server side: two typed tools over stdio.

Run as ``python stats_server.py`` (stdio) or ``python stats_server.py http PORT``
(streamable HTTP on 127.0.0.1); every call is also written to the file named by
``STATS_CALL_LOG`` (when set), so a test can tell whether the server was really reached.
"""

from __future__ import annotations

import os
import statistics
import sys

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("stats")


def _note(text: str) -> None:
    print(f"stats server: {text}", file=sys.stderr, flush=True)
    log = os.environ.get("STATS_CALL_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as file:
            file.write(text + "\n")


@server.tool()
def summarize(rows: list[dict[str, float]], column: str) -> dict[str, float]:
    """Count, mean and maximum of one column of a table given as rows."""
    _note(f"summarize {column} over {len(rows)} rows")
    values = [row[column] for row in rows]
    return {"count": float(len(values)), "mean": statistics.fmean(values), "max": max(values)}


@server.tool(name="scale-values")
def scale(values: list[float], factor: float = 2.0) -> list[float]:
    """Every value multiplied by factor."""
    _note(f"scale {len(values)} values by {factor}")
    if factor == 0:
        raise ToolError("factor 0 would erase the data")
    return [v * factor for v in values]


if __name__ == "__main__":
    _note("starting")
    if sys.argv[1:2] == ["http"]:
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run("stdio")
