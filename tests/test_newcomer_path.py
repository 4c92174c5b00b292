"""The README's "with a model of your own" commands, run as written, against a scripted model.

The commands come out of README.md itself, so the test fails when the README drifts from
what works: ``weaver init`` a project, point the environment at the model (here the fake
OpenAI server on 127.0.0.1), ``weaver doctor``, ``weaver chat`` (stdin closed: it ends at
once), ``weaver run "... data/sales.csv" --json``. The model's code reads the project's
data by the path the user named, in a real kernel, with the default sandbox and with
bubblewrap; uploads keep the relative path they were given.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shlex
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from weaver.execution.sandbox import bwrap_status
from weaver.model import AttachmentType, Round, RoundState
from weaver.serde import from_json
from weaver.testing import FakeOpenAIServer
from weaver.testing.cli import run_weaver
from weaver.testing.wire import code_reply, planner_reply

pytestmark = pytest.mark.slow

README = Path(__file__).parents[1] / "README.md"
BWRAP, BWRAP_DETAIL = bwrap_status()
PLAN = "1. Load data/sales.csv and total the amount per region\n2. Report the totals"
READ_THE_DATA = (
    "import pandas as pd\n"
    "sales = pd.read_csv('data/sales.csv')\n"
    "totals = sales.groupby('region')['amount'].sum()\n"
    "print(totals.to_json())"
)


def readme_commands() -> list[str]:
    """The shell lines of the README's block after "With a model of your own", comments removed."""
    text = README.read_text()
    start = text.index("With a model of your own")
    block = re.search(r"```bash\n(.*?)```", text[start:], re.DOTALL)
    assert block is not None, "the README shows the commands in a bash block"
    lines = [re.sub(r"\s+#\s.*$", "", line).strip() for line in block.group(1).splitlines()]
    return [line for line in lines if line]


def scripted_round() -> list[str]:
    return [
        planner_reply("Total the amount per region in data/sales.csv.", plan=PLAN),
        code_reply(READ_THE_DATA, thought="Read the file by the path the user gave."),
        planner_reply(
            "Revenue by region is in the output above.",
            send_to="User",
            stop="Completed",
            plan=PLAN,
            step="2. Report the totals",
        ),
    ]


def shell_environment(tmp_path: Path, server: FakeOpenAIServer) -> dict[str, str]:
    """A newcomer's environment: ``weaver`` on PATH, no Weaver settings, the model's endpoint."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("WEAVER_", "OPENAI_"))}
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "weaver").write_text(f'#!/bin/sh\nexec {sys.executable} -m weaver.cli "$@"\n')
    (bin_dir / "weaver").chmod(0o755)
    environ["PATH"] = f"{bin_dir}:{environ.get('PATH', os.defpath)}"
    environ["HOME"] = str(tmp_path / "home")
    environ["OPENAI_BASE_URL"] = server.base_url  # what the README's comment offers for a local server
    environ["WEAVER_CONFIG"] = os.devnull
    return environ


def expected_totals(csv_path: Path) -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    with csv_path.open() as f:
        for row in csv.DictReader(f):
            totals[row["region"]] += float(row["amount"])
    return dict(totals)


def run_readme(
    tmp_path: Path, server: FakeOpenAIServer, setting: str = ""
) -> tuple[subprocess.CompletedProcess[str], Path]:
    commands = readme_commands()
    assert commands[0].startswith("weaver init myproject && cd myproject"), commands
    assert any(c.startswith("weaver run ") and "data/sales.csv" in c and "--json" in c for c in commands), commands
    script = ["set -e"]
    for command in commands:
        if command.startswith("weaver run "):
            script.append(command.replace(" --json", " --json >round.json 2>run.log", 1))
        elif command == "weaver chat":
            script.append("weaver chat </dev/null >chat.log 2>&1")
        elif command == "weaver doctor":
            script.append("weaver doctor >doctor.log 2>&1")
        else:
            script.append(command)
        if command.startswith("weaver init") and setting:
            script.append(f"printf '%s\\n' {shlex.quote(setting)} >> weaver.toml")
    result = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=tmp_path,
        env=shell_environment(tmp_path, server),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return result, tmp_path / "myproject"


def logs(project: Path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text()}" for p in sorted(project.glob("*.log")))


@pytest.mark.parametrize("sandbox", ["auto", "bwrap"])
def test_the_readme_commands_as_written_answer_from_the_projects_data(tmp_path: Path, sandbox: str) -> None:
    if sandbox == "bwrap" and not BWRAP and os.environ.get("CI") != "true":
        pytest.skip(f"bubblewrap: {BWRAP_DETAIL}")
    setting = "" if sandbox == "auto" else '\n[execution]\nsandbox = "bwrap"'
    with FakeOpenAIServer(scripted_round(), model="gpt-4o-mini") as server:
        result, project = run_readme(tmp_path, server, setting)
    assert result.returncode == 0, result.stderr + logs(project) if project.exists() else result.stderr
    assert "llm" in (project / "doctor.log").read_text()
    round = from_json((project / "round.json").read_text(), Round)
    assert round.state is RoundState.finished, (round.reason, logs(project))
    code_post = round.posts[2]
    executed = code_post.attachment(AttachmentType.execution_result)
    assert executed is not None and executed.extra["outcome"] == "ok", logs(project)
    printed = json.loads(executed.extra["stdout"])
    assert printed == pytest.approx(expected_totals(project / "data" / "sales.csv"))
    # What the CodeInterpreter was told: the files its code can really open, with sizes.
    request = server.requests[1]["messages"][-1]["content"]
    size = (project / "data" / "sales.csv").stat().st_size
    assert f"- data/sales.csv ({size} bytes)" in request or f"- data/sales.csv ({size / 1024:.1f} KB)" in request
    # The project itself is never written by code: the round left data/ as weaver init made it.
    assert sorted(p.name for p in (project / "data").iterdir()) == ["sales.csv"]


def test_uploads_keep_the_path_they_were_given(tmp_path: Path) -> None:
    """``--file reports/q1.csv`` is ``reports/q1.csv`` for code; ``--file data/sales.csv`` is
    the project's own file (not copied); an absolute path keeps only its file name."""
    project = tmp_path / "shop"
    (project / "data").mkdir(parents=True)
    (project / "data" / "sales.csv").write_text("region,amount\nnorth,2\nsouth,5\n")
    (project / "reports").mkdir()
    (project / "reports" / "q1.csv").write_text("region,amount\nnorth,10\n")
    elsewhere = tmp_path / "elsewhere" / "targets.csv"
    elsewhere.parent.mkdir()
    elsewhere.write_text("region,target\nnorth,7\n")
    code = (
        "import pandas as pd\n"
        "print(pd.read_csv('reports/q1.csv').amount.sum(), pd.read_csv('data/sales.csv').amount.sum(),"
        " pd.read_csv('targets.csv').target.sum())"
    )
    replies = [
        planner_reply("Sum the three files.", plan=PLAN),
        code_reply(code),
        planner_reply("10, 7 and 7", send_to="User", stop="Completed", plan=PLAN, step="2. Report the totals"),
    ]
    with FakeOpenAIServer(replies) as server:
        (project / "weaver.toml").write_text(
            f'[llm]\nbase_url = "{server.base_url}"\napi_key = "test"\nmodel = "fake-model"\nmax_retries = 0\n'
        )
        args = ["run", "-f", "reports/q1.csv", "-f", "data/sales.csv", "-f", str(elsewhere), "sum them", "--json"]
        result = run_weaver(*args, cwd=project, load=None, timeout=300)
    assert result.returncode == 0, result.stderr
    round = from_json(result.stdout, Round)
    files = [a.content for a in round.posts[0].attachments if a.type is AttachmentType.file]
    assert files == ["reports/q1.csv", "data/sales.csv", "targets.csv"]
    executed = round.posts[2].attachment(AttachmentType.execution_result)
    assert executed is not None and executed.extra["stdout"].split() == ["10", "7", "7"], executed.extra
    (session_dir,) = (project / ".weaver" / "sessions").iterdir()
    cwd = session_dir / "cwd"
    assert (cwd / "reports" / "q1.csv").is_file() and (cwd / "targets.csv").is_file()
    assert (cwd / "data").is_symlink() or not (cwd / "data").exists(), "the project's data is never copied"
