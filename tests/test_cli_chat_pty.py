"""``weaver chat`` in a pseudo-terminal, against a scripted model, with a real kernel.

The person at the terminal sees the plan (current step marked) and the code live, cancels
a long-running round with Ctrl-C, gets the prompt back in the same session, asks again,
and leaves with two Ctrl-C at the prompt.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import pexpect
import pytest

from weaver.testing import FakeOpenAIServer
from weaver.testing.wire import code_reply, planner_reply

pytestmark = pytest.mark.slow

ANSI = re.compile(r"\x1b\[[0-9;?<>=]*[A-Za-z~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][A-Z0-9]|\x1b[=>78]|\r")
PLAN = "1. Sum the numbers in a long computation\n2. Report the sum"
TIMEOUT = 60.0


class Screen:
    """What the terminal has shown so far, escapes removed, read as it arrives."""

    def __init__(self, child: pexpect.spawn) -> None:
        self.child = child
        self.raw = ""
        self.seen = 0

    @property
    def text(self) -> str:
        return ANSI.sub("", self.raw)

    def wait_for(self, pattern: str, timeout: float = TIMEOUT) -> re.Match[str]:
        """Wait until ``pattern`` (a regex) appears after what earlier waits consumed."""
        deadline = time.monotonic() + timeout
        while True:
            found = re.compile(pattern).search(self.text, self.seen)
            if found:
                self.seen = found.end()
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{pattern!r} not shown in {timeout} s; the screen after the last match:\n{self.text[self.seen:]}")
            try:
                self.raw += self.child.read_nonblocking(65536, timeout=0.2)
            except pexpect.TIMEOUT:
                pass


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return tmp_path


def spawn_chat(project: Path, server: FakeOpenAIServer) -> pexpect.spawn:
    (project / "weaver.toml").write_text(
        f'[llm]\nbase_url = "{server.base_url}"\napi_key = "test"\nmodel = "fake-model"\n'
        '[session]\nroles = ["planner", "code_interpreter"]\n'
    )
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("WEAVER_", "OPENAI_", "NO_COLOR"))}
    environ |= {
        "WEAVER_CONFIG": os.devnull,
        "WEAVER_LOAD_EXTENSIONS": "planner,code_interpreter,code_verifier",
        "TERM": "xterm-256color",
        # Nothing answers prompt_toolkit's cursor-position query in a pexpect terminal.
        "PROMPT_TOOLKIT_NO_CPR": "1",
    }
    return pexpect.spawn(
        sys.executable,
        ["-m", "weaver.cli", "-p", str(project), "chat"],
        env=environ,
        cwd=str(project),
        dimensions=(50, 120),
        encoding="utf-8",
        codec_errors="replace",
        timeout=TIMEOUT,
    )


def test_chat_shows_plan_and_code_live_cancels_with_ctrl_c_and_continues(project):
    replies = [
        planner_reply("Add up 1 to 10, slowly.", plan=PLAN, reasoning="The user wants a sum."),
        code_reply("import time\nprint('working', flush=True)\ntime.sleep(600)\ntotal = sum(range(11))", thought="Sum it."),
        # After the cancel the same kernel must answer at once: the sleep was interrupted.
        planner_reply("Compute 6 * 7 and print it.", plan="1. Compute 6 * 7\n2. Report it"),
        code_reply("print('after the cancel', 6 * 7)", thought="One line."),
        planner_reply(
            "6 * 7 is 42.", send_to="User", stop="Completed", plan="1. Compute 6 * 7\n2. Report it", step="2. Report it"
        ),
    ]
    with FakeOpenAIServer(replies) as server:
        child = spawn_chat(project, server)
        screen = Screen(child)
        try:
            screen.wait_for(r"Weaver chat · session (session-\S+)")
            screen.wait_for(r"you>")
            child.sendline("add up 1 to 10")
            screen.wait_for(r"reasoning The user wants a sum\.")
            screen.wait_for(r"▶ 1\. Sum the numbers in a long computation")
            screen.wait_for(r"2\. Report the sum")
            screen.wait_for(r"thought Sum it\.")
            screen.wait_for(r"time\.sleep\(600\)")
            screen.wait_for(r"CodeInterpreter: executing code · \d+\.\d s")
            child.sendcontrol("c")
            screen.wait_for(r"cancelling the round")
            screen.wait_for(r"■ cancelled")
            screen.wait_for(r"you>")

            child.sendline("what is 6 times 7")
            screen.wait_for(r"after the cancel 42")
            screen.wait_for(r"6 \* 7 is 42\.")
            screen.wait_for(r"✓ finished · [0-9.]+ s · 3 LLM calls")
            screen.wait_for(r"you>")

            child.sendline("/cost")
            screen.wait_for(r"1\. add up 1 to 10: 2 LLM calls")
            screen.wait_for(r"2\. what is 6 times 7: 3 LLM calls")
            screen.wait_for(r"you>")

            child.sendcontrol("c")
            screen.wait_for(r"Ctrl-C again to quit")
            child.sendcontrol("c")
            child.expect(pexpect.EOF)
            screen.raw += child.before or ""
        finally:
            child.close(force=True)
        assert child.exitstatus == 0, f"the screen after the last match:\n{screen.text[screen.seen:]}"
        assert len(server.requests) == 5
    history = (project / ".weaver" / "chat_history").read_text()
    assert "+add up 1 to 10" in history and "+/cost" in history
