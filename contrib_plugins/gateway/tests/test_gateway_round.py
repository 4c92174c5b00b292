"""``weaver run`` end to end over a real Kernel Gateway: the real Planner and CodeInterpreter,
a scripted model over HTTP, a CSV uploaded, a project plugin called, a plot drawn and
brought back; in the next round (a new process, the same session) the code hits the time
limit and is interrupted, and the session goes on. Then no kernel is left on the gateway."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from weaver.model import AttachmentType, Round, RoundState
from weaver.serde import from_json
from weaver.testing import FakeOpenAIServer
from weaver.testing.wire import code_reply, planner_reply, text_reply
from weaver_gateway.testing import GatewayServer

pytestmark = pytest.mark.slow

PLAN = "1. Load the sales and double the total with the plugin, plot them\n2. Report"
PLUGIN = '''
import weaver


@weaver.plugin
def double(x: float) -> float:
    """Twice ``x``.

    Examples:
        >>> double(2)
        4
    """
    return 2 * x
'''
ANALYSIS = """import pandas as pd
import matplotlib.pyplot as plt
sales = pd.read_csv('sales.csv')
doubled = double(float(sales['amount'].sum()))
print('doubled total', doubled)
sales.plot(x='region', y='amount', kind='bar')
plt.show()
"""


def weaver_run(project: Path, gateway: GatewayServer, *args: str) -> tuple[subprocess.CompletedProcess[str], Round]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("WEAVER_", "OPENAI_", "KG_"))}
    environ |= {
        "WEAVER_CONFIG": os.devnull,
        "WEAVER_LOAD_EXTENSIONS": "planner,code_interpreter,code_verifier,gateway",
        "WEAVER_GATEWAY__TOKEN": gateway.token,  # the token from the environment, never the project file
    }
    command = [sys.executable, "-m", "weaver.cli", "-p", str(project), *args, "--json"]
    done = subprocess.run(command, env=environ, capture_output=True, text=True, timeout=600, check=False)
    return done, from_json(done.stdout, Round)


def test_a_round_uploads_calls_a_plugin_plots_and_the_next_is_interrupted(no_kernel_left: GatewayServer, tmp_path: Path) -> None:
    gateway = no_kernel_left
    project = tmp_path / "project"
    (project / "plugins").mkdir(parents=True)
    (project / "plugins" / "doubling.py").write_text(PLUGIN)
    upload = tmp_path / "sales.csv"
    upload.write_text("region,amount\nnorth,120\nsouth,340\neast,90\n")
    replies = [
        planner_reply("Load sales.csv, double its total with the plugin and plot it.", plan=PLAN),
        code_reply(ANALYSIS, thought="Read the upload, call the plugin, draw."),
        planner_reply("The doubled total is 1100.0; the chart is saved.", send_to="User", stop="Completed", plan=PLAN, step="2. Report"),
        planner_reply("Wait for the slow job.", plan="1. Run the slow job\n2. Report"),
        code_reply("import time\nstarted = True\ntime.sleep(600)", thought="A job that takes too long."),
        text_reply("The job took longer than the time limit.", thought="It timed out; stop here."),
        planner_reply("The job timed out.", send_to="User", stop="Completed", plan="1. Run the slow job\n2. Report", step="2. Report"),
    ]
    with FakeOpenAIServer(replies) as server:
        (project / "weaver.toml").write_text(
            f'[llm]\nbase_url = "{server.base_url}"\napi_key = "test"\nmodel = "fake-model"\nmax_retries = 0\n'
            '[session]\nroles = ["planner", "code_interpreter"]\n'
            '[execution]\nexecutor = "gateway"\ninterrupt_grace_s = 30\npool_size = 0\n'
            f'[gateway]\nurl = "{gateway.url}"\nkernel_name = "{gateway.config()["kernel_name"]}"\n'
            "[code_interpreter]\nmax_retries = 0\n"
        )
        first, round1 = weaver_run(project, gateway, "run", "double the sales total and plot it", "-f", str(upload))
        assert first.returncode == 0, first.stderr
        assert (round1.state, round1.answer) == (RoundState.finished, "The doubled total is 1100.0; the chart is saved.")
        result = round1.posts[2].attachment(AttachmentType.execution_result).extra
        assert result["outcome"] == "ok", result
        assert "doubled total 1100.0" in result["stdout"]
        assert result["plugin_calls"] == {"double": 1}
        (chart,) = [a for a in result["artifacts"] if a["mime"] == "image/png"]
        assert Path(chart["path"]).read_bytes().startswith(b"\x89PNG")  # the figure came back to the host
        (session_dir,) = (project / ".weaver" / "sessions").iterdir()
        assert Path(chart["path"]).parent == session_dir / "artifacts"
        assert gateway.kernels() == []  # the first process deleted its kernel when it exited

        second, round2 = weaver_run(
            project, gateway, "--set", "execution.timeout_s=3", "run", "run the slow job", "--session", session_dir.name
        )
    assert second.returncode == 0, second.stderr
    assert round2.state is RoundState.finished and round2.answer == "The job timed out."
    timed_out = round2.posts[2].attachment(AttachmentType.execution_result).extra
    assert timed_out["outcome"] == "timeout_interrupted", timed_out
    assert not timed_out["state_lost"] and "started" in {v["name"] for v in timed_out["variables"]}
