"""The README's "Host plugins and MCP servers" as written: its plugin file and its
``weaver.toml`` make a project whose host plugin kernel code calls, and whose MCP servers
are configured as the README says (one of them, a command not installed here, reported)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import weaver_data_plugins
import weaver_mcp
from weaver.testing.kernels import kernel_app

pytestmark = pytest.mark.slow
README = Path(__file__).resolve().parents[3] / "README.md"


def section_files() -> dict[str, str]:
    section = README.read_text(encoding="utf-8").split("## Host plugins and MCP servers", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(?:python|toml)\n(.*?)```", section, re.DOTALL)
    return {block.partition("\n")[0][2:].strip(): block.partition("\n")[2] for block in blocks}


def test_the_readme_project_runs_its_host_plugin_and_configures_its_servers(
    tmp_path: Path, weaver_pm: Any, register_plugin: Any
) -> None:
    for extension in (weaver_mcp, weaver_data_plugins):
        register_plugin(extension)
    files = section_files()
    assert set(files) == {"plugins/crm.py", "weaver.toml"}
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "crm.py").write_text(files["plugins/crm.py"])
    # The servers of the README are not installed here; the host plugin is what runs.
    toml = files["weaver.toml"].split("[mcp.servers.github]", 1)[0]
    (tmp_path / "weaver.toml").write_text(toml.replace('api_key = "..."', 'api_key = "crm-key-0123456789"'))
    with kernel_app(tmp_path, weaver_pm) as app:
        assert app.plugins.get("customer").spec.host
        session = app.session()
        result = app.run(session.execute("customer('ada@example.com')"))
    assert result.ok, result.error
    assert result.value_repr == "{'email': 'ada@example.com', 'key_length': 18}"


def test_the_readme_mcp_tables_validate(tmp_path: Path, weaver_pm: Any, register_plugin: Any) -> None:
    register_plugin(weaver_mcp)
    toml = section_files()["weaver.toml"]
    (tmp_path / "weaver.toml").write_text(toml[toml.index("[mcp.servers.github]") :])
    with kernel_app(tmp_path, weaver_pm) as app:
        servers = app.config.table("mcp").servers
        assert servers["search"].url.startswith("http://127.0.0.1")
        assert servers["github"].args == ("stdio",) and servers["github"].env == {
            "GITHUB_PERSONAL_ACCESS_TOKEN": "${GITHUB_TOKEN}"
        }
        failed = {s.name: s for s in app.plugins.statuses}["github.*"]
    assert failed.state.value == "failed" and "github-mcp-server" in failed.detail
