"""``weaver serve`` with ``weaver demo``'s cassette: the recorded session replays through the
service, for a user of its own, as it does in the terminal (no model, a real kernel)."""

from __future__ import annotations

from pathlib import Path

import pytest

from weaver.model import Round, RoundState
from weaver.serde import from_json
from weaver.testing import run_weaver
from weaver_server.testing import serve

pytestmark = pytest.mark.slow

TOKEN = "demo-token-0123456789abcdef"


def test_the_demo_replays_through_the_service_in_a_users_workspace(tmp_path: Path) -> None:
    from weaver_demo import CASSETTE, EXTENSIONS, REQUEST
    from weaver_demo.session import copy_project

    project = copy_project(tmp_path / "project")
    env = {
        "WEAVER_LOAD_EXTENSIONS": ",".join([*EXTENSIONS, "server"]),
        "WEAVER_LLM__MODE": "replay",
        "WEAVER_LLM__CASSETTE": str(project / CASSETTE),
    }
    with serve(project, tokens={"analyst": TOKEN}, env=env) as service:
        done = run_weaver("run", "--server", service.url, "--token", TOKEN, REQUEST, "--json", cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    round = from_json(done.stdout, Round)
    assert round.state is RoundState.finished, round.reason
    assert "West grew fastest" in (round.answer or "")  # the recorded answer, after the recorded code ran
    plots = list((project / ".weaver" / "users" / "analyst" / "sessions").glob("*/artifacts/*.png"))
    assert len(plots) == 1 and plots[0].stat().st_size > 1000
