"""``weaver mcp serve`` driven by the ``mcp`` SDK's own client over stdio: code run in a
session's kernel through the verified pipeline, its state kept between calls, artifacts
listed and fetched, and refused paths."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

pytestmark = pytest.mark.slow


async def _drive(project: Path) -> dict[str, Any]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("WEAVER_", "OPENAI_"))}
    env.update({"WEAVER_LOAD_EXTENSIONS": "mcp,code_verifier", "WEAVER_CONFIG": str(project / "none.toml")})
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "weaver.cli", "-p", str(project), "mcp", "serve"], env=env, cwd=str(project)
    )
    found: dict[str, Any] = {}
    async with Client(params, mode="legacy") as client:
        found["tools"] = sorted(tool.name for tool in (await client.list_tools()).tools)
        first = await client.call_tool("run_code", {"code": "total = 21 * 2\ntotal"})
        found["first"] = first.structured_content
        session_id = first.structured_content["session_id"]
        plot = "from pathlib import Path\nPath('../artifacts/report.txt').write_text('total is ' + str(total))\ntotal + 1"
        found["second"] = (await client.call_tool("run_code", {"code": plot, "session_id": session_id})).structured_content
        refused = await client.call_tool("run_code", {"code": "import subprocess", "session_id": session_id})
        found["refused"] = refused.structured_content
        found["listed"] = (await client.call_tool("list_artifacts", {"session_id": session_id})).structured_content
        found["fetched"] = (
            await client.call_tool("fetch_artifact", {"session_id": session_id, "path": "report.txt"})
        ).structured_content
        found["escape"] = await client.call_tool("fetch_artifact", {"session_id": session_id, "path": "../events.jsonl"})
    return found


def test_weaver_mcp_serve_runs_code_in_a_stateful_session_for_an_mcp_client(tmp_path: Path) -> None:
    (tmp_path / "weaver.toml").write_text('[session]\nroles = []\n\n[execution]\npool_size = 0\n')
    found = asyncio.run(asyncio.wait_for(_drive(tmp_path), 240))
    assert found["tools"] == ["fetch_artifact", "list_artifacts", "run_code", "run_request"]
    assert found["first"]["ok"] is True and found["first"]["value"] == "42"
    assert found["second"]["ok"] is True and found["second"]["value"] == "43", found["second"]["feedback"]
    assert found["refused"]["status"] == "blocked" and "subprocess" in found["refused"]["feedback"]
    assert "report.txt" in found["listed"]["result"]
    assert found["fetched"]["text"] == "total is 42"
    assert found["escape"].is_error and "no artifact" in found["escape"].content[0].text
