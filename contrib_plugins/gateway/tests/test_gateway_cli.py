"""The gateway through the CLI: ``weaver doctor`` checks it (reachable, auth, a kernel round
trip), ``weaver config show`` masks its secrets, and a token in the project file is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from weaver.testing import run_weaver
from weaver_gateway.testing import GatewayServer, free_port

pytestmark = pytest.mark.slow


def project(tmp_path: Path, url: str, extra: str = "") -> Path:
    (tmp_path / "weaver.toml").write_text(
        f'[execution]\nexecutor = "gateway"\npool_size = 0\n[gateway]\nurl = "{url}"\nkernel_name = "weaver-python"\n{extra}'
    )
    return tmp_path


def doctor_rows(cwd: Path, token: str) -> dict[str, dict[str, str]]:
    done = run_weaver("doctor", "--json", cwd=cwd, load="gateway", env={"WEAVER_GATEWAY__TOKEN": token}, timeout=300)
    assert done.returncode in (0, 1), done.stderr
    return {row["name"]: row for row in json.loads(done.stdout)}


def test_doctor_checks_the_gateway_with_a_round_trip_and_leaves_no_kernel(no_kernel_left: GatewayServer, tmp_path: Path) -> None:
    rows = doctor_rows(project(tmp_path, no_kernel_left.url), no_kernel_left.token)
    assert rows["gateway"]["status"] == "ok" and no_kernel_left.url in rows["gateway"]["detail"]
    assert rows["gateway kernelspec"]["status"] == "ok"
    assert rows["gateway kernel"]["status"] == "ok", rows["gateway kernel"]
    assert "a plugin's source sent and called" in rows["gateway kernel"]["detail"]
    assert rows["gateway weaver-core"]["status"] == "ok"
    assert "kernel user" not in rows  # the local kernel's checks are not run for a remote executor
    assert no_kernel_left.token not in json.dumps(rows)


def test_doctor_fails_on_a_refused_token_and_an_unreachable_gateway(no_kernel_left: GatewayServer, tmp_path: Path) -> None:
    refused = doctor_rows(project(tmp_path, no_kernel_left.url), "not-the-token")
    assert refused["gateway auth"]["status"] == "fail" and "HTTP 401" in refused["gateway auth"]["detail"]
    assert "not-the-token" not in json.dumps(refused)
    url = f"http://127.0.0.1:{free_port()}"
    unreachable = doctor_rows(project(tmp_path, url), "t")
    assert unreachable["gateway"]["status"] == "fail" and url in unreachable["gateway"]["detail"]


def test_doctor_names_a_kernelspec_the_gateway_lacks(no_kernel_left: GatewayServer, tmp_path: Path) -> None:
    cwd = project(tmp_path, no_kernel_left.url)
    text = (cwd / "weaver.toml").read_text().replace('"weaver-python"', '"no-such-kernel"')
    (cwd / "weaver.toml").write_text(text)
    rows = doctor_rows(cwd, no_kernel_left.token)
    assert rows["gateway kernelspec"]["status"] == "fail" and "weaver-python" in rows["gateway kernelspec"]["detail"]


def test_config_show_masks_the_token_and_headers(tmp_path: Path) -> None:
    cwd = project(tmp_path, "http://127.0.0.1:9", 'headers = ["X-Proxy-Key: hidden-value"]\n')
    done = run_weaver("config", "show", "--json", cwd=cwd, load="gateway", env={"WEAVER_GATEWAY__TOKEN": "secret-token"})
    assert done.returncode == 0, done.stderr
    assert "secret-token" not in done.stdout and "hidden-value" not in done.stdout
    assert '"gateway.token"' in done.stdout


def test_a_token_in_the_project_file_is_refused_naming_where_it_belongs(no_kernel_left: GatewayServer, tmp_path: Path) -> None:
    cwd = project(tmp_path, no_kernel_left.url, f'token = "{no_kernel_left.token}"\n')
    done = run_weaver("doctor", "--json", cwd=cwd, load="gateway", timeout=300)
    rows = {row["name"]: row for row in json.loads(done.stdout)}
    assert done.returncode == 1
    assert rows["gateway"]["status"] == "fail" and "WEAVER_GATEWAY__TOKEN" in rows["gateway"]["detail"]
    assert "weaver.toml" in rows["gateway"]["detail"] and no_kernel_left.token not in done.stdout + done.stderr
