"""``examples/embed/embed.py`` runs as its README says, against a scripted model and a real kernel."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from weaver.testing import FakeOpenAIServer
from weaver.testing.wire import code_reply, planner_reply

pytestmark = pytest.mark.slow

EMBED = Path(__file__).resolve().parents[1] / "examples" / "embed" / "embed.py"


def test_embed_prints_events_as_they_happen_and_the_answer(tmp_path):
    (tmp_path / "weaver.toml").write_text('[session]\nroles = ["planner", "code_interpreter"]\n')
    replies = [
        planner_reply("Compute 6 * 7."),
        code_reply("print(6 * 7)"),
        planner_reply("6 * 7 = 42", send_to="User", stop="Completed", step="2. Report the result"),
    ]
    with FakeOpenAIServer(replies) as server:
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("WEAVER_", "OPENAI_"))}
        environ |= {
            "WEAVER_CONFIG": os.devnull,
            "WEAVER_LOAD_EXTENSIONS": "planner,code_interpreter,code_verifier",
            "WEAVER_LLM__BASE_URL": server.base_url,
            "WEAVER_LLM__API_KEY": "test",
            "WEAVER_LLM__MODEL": "fake-model",
        }
        result = subprocess.run(
            [sys.executable, str(EMBED), str(tmp_path), "what is 6 * 7"],
            env=environ, capture_output=True, text=True, timeout=300, check=False,
        )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "[Planner] calling the model" in lines
    assert "[CodeInterpreter] executing code" in lines
    assert "executed: ok=True" in lines
    assert "Planner -> CodeInterpreter: Compute 6 * 7." in lines
    assert lines.index("Planner -> CodeInterpreter: Compute 6 * 7.") < lines.index("executed: ok=True")
    assert lines[-1] == "finished: 6 * 7 = 42"
