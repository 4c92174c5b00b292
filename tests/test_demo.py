"""``weaver demo``, the README's first command: offline, a real kernel, a plot file.

No fake server runs: the model's replies can only come from the cassette. The process is
started with an audit hook (a ``sitecustomize`` on ``PYTHONPATH``) that refuses and records
any name lookup or connection to a host other than this machine, so a network access would
fail the test even if something caught the error.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from weaver_demo import CASSETTE, project_dir

pytestmark = pytest.mark.slow

OFFLINE = '''
import os, socket, sys

_LOCAL = {"127.0.0.1", "::1", "localhost", "0.0.0.0", "", None}
_LOG = os.environ["WEAVER_TEST_NETWORK_LOG"]


def _refuse(event, args):
    if event == "socket.getaddrinfo":
        host = args[0]
    elif event == "socket.connect" and args[0].family in (socket.AF_INET, socket.AF_INET6):
        host = args[1][0]
    else:
        return
    if isinstance(host, bytes):
        host = host.decode()
    if host not in _LOCAL:
        with open(_LOG, "a") as log:
            log.write(f"{event} {host}\\n")
        raise OSError(f"network is off for this test: {event} {host}")


sys.addaudithook(_refuse)
'''


def offline(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An environment whose Python processes refuse non-local network access, and its log."""
    hooks = tmp_path / "offline"
    hooks.mkdir(exist_ok=True)
    (hooks / "sitecustomize.py").write_text(OFFLINE)
    log = tmp_path / "network.log"
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("WEAVER_", "NO_COLOR"))}
    environ |= {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(hooks), environ.get("PYTHONPATH")])),
        "WEAVER_TEST_NETWORK_LOG": str(log),
        # Settings a user might have: the demo must not be swayed by them.
        "OPENAI_API_KEY": "sk-must-not-be-used",
        "OPENAI_BASE_URL": "https://api.openai.invalid/v1",
        "WEAVER_LLM__MODEL": "some-other-model",
    }
    return environ, log


def run_demo(tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], Path]:
    environ, log = offline(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "weaver.cli", "demo"],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return result, log


def test_the_offline_hook_catches_network_access(tmp_path):
    environ, log = offline(tmp_path)
    probe = "import socket\ntry:\n    socket.getaddrinfo('example.com', 443)\nexcept OSError as e:\n    print(e)"
    result = subprocess.run(
        [sys.executable, "-c", probe], env=environ, capture_output=True, text=True, timeout=60, check=False
    )
    assert "network is off for this test" in result.stdout
    assert log.read_text() == "socket.getaddrinfo example.com\n"


def test_demo_replays_offline_with_a_real_kernel_and_writes_the_plot(tmp_path):
    cassette = project_dir() / CASSETTE
    before = hashlib.sha256(cassette.read_bytes()).hexdigest()

    result, network_log = run_demo(tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert not network_log.exists(), network_log.read_text()
    out = result.stdout
    assert "replays a recorded session" in out
    assert "No model and no network are used" in out
    assert "▶ 2. Plot the monthly revenue per region" in out
    assert 'ax = table.plot(figsize=(9, 5), marker="o", title="Monthly revenue per region, 2024")' in out
    # Numbers the kernel computed from data/shop.db during this run, not recorded text:
    assert re.search(r"West\s+2024-01\s+2024-12\s+495\.0\s+1359\.7\s+864\.7\s+174\.7", out)
    assert "West grew fastest in 2024" in out
    assert "✓ finished" in out
    (plot,) = re.findall(r"^plot: (\S+\.png)$", out, re.MULTILINE)
    plot = Path(plot)
    assert plot.is_relative_to(tmp_path / "weaver-demo" / ".weaver" / "sessions")
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot.stat().st_size > 10_000
    assert hashlib.sha256(cassette.read_bytes()).hexdigest() == before, "replay must not write the cassette"


def test_demo_runs_again_in_the_same_directory(tmp_path):
    first, _ = run_demo(tmp_path)
    second, network_log = run_demo(tmp_path)
    assert (first.returncode, second.returncode) == (0, 0), second.stdout + second.stderr
    assert not network_log.exists()
    plots = sorted((tmp_path / "weaver-demo" / ".weaver" / "sessions").glob("*/artifacts/*.png"))
    assert len(plots) == 2
