"""Approval in real rounds: the real Planner and CodeInterpreter, the default verifier, a real
kernel and the real ``openai`` client over HTTP to the fake server. A front end answers from
its own thread, as the chat prompt, the HTTP API or the web UI would."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import weaver_code_interpreter
import weaver_code_verifier
import weaver_planner
from weaver.events import EventType
from weaver.model import AttachmentType, RoundState
from weaver.store import read_log
from weaver.testing import FakeOpenAIServer
from weaver.testing.wire import code_reply, planner_reply

pytestmark = pytest.mark.slow

LIVENESS = 60.0
PLAN = "1. Compute the total\n2. Report it"


class FrontEnd:
    """Answers each approval request in turn with the next scripted answer, from its own thread."""

    def __init__(self, session: Any, answers: list[tuple[str, dict[str, Any]]]) -> None:
        self.session = session
        self.answers = list(answers)
        self.seen: list[Any] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        deadline = time.monotonic() + LIVENESS
        while self.answers and not self._stop.is_set() and time.monotonic() < deadline:
            for request in self.session.pending_approvals():
                if request.id not in {r.id for r in self.seen}:
                    self.seen.append(request)
                    decision, kw = self.answers.pop(0)
                    self.session.answer(request.id, decision, **kw)
            time.sleep(0.01)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(LIVENESS)


@pytest.fixture
def start(make_app: Callable[..., Any], register_extension: Callable[..., Any], fake_llm: FakeOpenAIServer) -> Iterator[Callable[..., Any]]:
    for extension in (weaver_planner, weaver_code_interpreter, weaver_code_verifier):
        register_extension(extension)
    front_ends: list[FrontEnd] = []

    def make(replies: list[str], answers: list[tuple[str, dict[str, Any]]], **approval: Any) -> tuple[Any, FrontEnd]:
        fake_llm.add(*replies)
        app = make_app(
            session={"roles": ["planner", "code_interpreter"]},
            llm=fake_llm.llm_config(),
            planner={"use_examples": False},
            execution={"pool_size": 0},
            approval={"timeout_s": LIVENESS, **approval},
        )
        session = app.session()
        front_ends.append(FrontEnd(session, answers))
        return session, front_ends[-1]

    yield make
    for front_end in front_ends:
        front_end.close()


def ci_messages(server: FakeOpenAIServer) -> list[str]:
    return [r["messages"][-1]["content"] for r in server.requests if r["messages"][0]["content"].startswith("You are CodeInterpreter.")]


def test_rejected_code_is_not_run_and_the_model_is_told_why(start: Any, fake_llm: FakeOpenAIServer) -> None:
    replies = [
        planner_reply("Add 2 and 3.", plan=PLAN),
        code_reply("from pathlib import Path\nPath('ran.txt').write_text('ran')"),
        code_reply("total = 2 + 3\nprint(total)"),
        planner_reply("It is 5.", send_to="User", stop="Completed", plan=PLAN, step="2. Report it"),
    ]
    session, front = start(replies, [("rejected", {"reason": "no files, please"}), ("approved", {})], code="always")
    round = session.send_message("what is 2 + 3")
    assert round.state is RoundState.finished and round.answer == "It is 5."
    assert not (session.cwd / "ran.txt").exists()
    second_try = ci_messages(fake_llm)[1]
    assert "The code was NOT run: the user rejected it: no files, please" in second_try
    ci = [p for p in round.posts if p.send_from == "CodeInterpreter"][-1]
    assert ci.attachment(AttachmentType.execution_result).extra["stdout"] == "5\n"
    kinds = [e.type for e in read_log(session.paths.log).events if e.type in (EventType.approval_request, EventType.approval)]
    assert kinds == [EventType.approval_request, EventType.approval] * 2
    assert [r.kind.value for r in front.seen] == ["code", "code"]


def test_edited_code_runs_as_edited_and_is_verified_again(start: Any) -> None:
    replies = [
        planner_reply("Add 2 and 3.", plan=PLAN),
        code_reply("print(2 + 3)"),
        code_reply("print(2 + 3)"),
        planner_reply("Done.", send_to="User", stop="Completed", plan=PLAN, step="2. Report it"),
    ]
    answers = [("edited", {"content": "import subprocess"}), ("edited", {"content": "print(20 + 30)"})]
    session, _ = start(replies, answers, code="always")
    round = session.send_message("what is 2 + 3")
    ci = [p for p in round.posts if p.send_from == "CodeInterpreter"][-1]
    assert ci.attachment(AttachmentType.execution_result).extra["stdout"] == "50\n"
    revise = [a.content for a in ci.attachments if a.type is AttachmentType.revise_message]
    assert any("import-not-allowed" in text for text in revise), "the edited code was verified like any other"


def test_risky_asks_only_for_risky_code(start: Any) -> None:
    replies = [
        planner_reply("Save the total.", plan=PLAN),
        code_reply("total = 2 + 3\nprint(total)"),
        planner_reply("Now save it.", plan=PLAN, step="2. Report it"),
        code_reply("from pathlib import Path\nPath('total.txt').write_text(str(total))"),
        planner_reply("Saved.", send_to="User", stop="Completed", plan=PLAN, step="2. Report it"),
    ]
    session, front = start(replies, [("approved", {})], code="risky")
    assert session.send_message("add and save").state is RoundState.finished
    (asked,) = front.seen
    assert "write_text" in asked.content and any(".write_text()" in reason for reason in asked.reasons)
    assert (session.cwd / "total.txt").read_text() == "5"


def test_a_rejected_plan_goes_back_to_the_planner_and_an_edited_plan_is_carried_out(
    start: Any, fake_llm: FakeOpenAIServer
) -> None:
    replies = [
        planner_reply("Delete the old rows.", plan="1. Delete the old rows\n2. Report"),
        planner_reply("Add 2 and 3.", plan=PLAN),
        code_reply("print(2 + 3)"),
        planner_reply("It is 5.", send_to="User", stop="Completed", plan=PLAN, step="2. Report it"),
    ]
    answers = [("rejected", {"reason": "never delete anything"}), ("edited", {"content": "1. Compute 2 + 3\n2. Report it"})]
    session, front = start(replies, answers, plan=True)
    round = session.send_message("what is 2 + 3")
    assert round.state is RoundState.finished
    assert [r.kind.value for r in front.seen] == ["plan", "plan"]  # asked once per proposed plan, not per step
    planner_requests = [r for r in fake_llm.requests if r["messages"][0]["content"].startswith("You are Planner.")]
    assert "The user rejected the plan: never delete anything" in planner_requests[1]["messages"][-1]["content"]
    first_handout = next(p for p in round.posts if p.send_from == "Planner" and p.send_to == "CodeInterpreter")
    assert first_handout.attachment(AttachmentType.plan).content == "1. Compute 2 + 3\n2. Report it"


def test_weaver_run_without_a_terminal_rejects_and_yes_approves(tmp_path: Path) -> None:
    replies = [
        planner_reply("Add 2 and 3.", plan=PLAN),
        code_reply("print(2 + 3)"),
        planner_reply("Could not run it.", send_to="User", stop="TaskFailure", plan=PLAN),
    ]
    (tmp_path / "weaver.toml").write_text(
        '[session]\nroles = ["planner", "code_interpreter"]\n[approval]\ncode = "always"\n'
        '[code_interpreter]\nmax_retries = 0\n[planner]\nuse_examples = false\n'
    )
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("WEAVER_", "OPENAI_"))}
    environ |= {"WEAVER_CONFIG": os.devnull, "WEAVER_LOAD_EXTENSIONS": "planner,code_interpreter,code_verifier"}
    for flags, said in (((), "nobody can approve here"), (("--yes",), "approved with --yes")):
        with FakeOpenAIServer(replies) as server:
            environ |= {"WEAVER_LLM__BASE_URL": server.base_url, "WEAVER_LLM__API_KEY": "test", "WEAVER_LLM__MODEL": "m"}
            subprocess.run(
                [sys.executable, "-m", "weaver.cli", "-p", str(tmp_path), "run", "what is 2 + 3", *flags],
                env=environ, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300, check=False,
            )  # fmt: skip
        logs = sorted((tmp_path / ".weaver" / "sessions").glob("*/events.jsonl"), key=os.path.getmtime)
        answers = [e for e in read_log(logs[-1]).events if e.type is EventType.approval]
        assert answers and said in answers[0].data["answer"]["reason"]
