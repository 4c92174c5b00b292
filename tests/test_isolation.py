"""Two of everything: two Apps in one process with different settings, and two sessions of one
App at once, each keeping its own behaviour. The extensions are the installed distributions,
loaded through their entry points as a program embedding Weaver would load them; the real
CodeInterpreter, verifier, guards and kernel run; each App talks to its own fake model
server over HTTP."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from weaver.engine import App
from weaver.model import AttachmentType, Post, Round, RoundState
from weaver.testing import FakeOpenAIServer

pytestmark = pytest.mark.slow

EXTENSIONS = (
    "code_interpreter",
    "code_verifier",
    "retry_guard",
    "feedback_trimmer",
    "loop_detector",
    "memory_compressor",
)
PLUGIN = '''
import weaver


@weaver.plugin
def price(ticker: str) -> float:
    """The price of one ticker."""
    return float(len(ticker))
'''
CODE = {
    "subprocess": "import subprocess\nsubprocess.run(['true'])\nprint('ran a command')",
    "keyerror": "sales = {'Revenue_USD': 1}\nsales['revenue_usd']",
    "print": "for n in range(500):\n    print('line', n)",
    "loop": "prices = [price(t) for t in ['A', 'BB', 'CCC']]\nprices",
}


def current_task(request: dict[str, Any]) -> str:
    """The task the CodeInterpreter was asked for in this call (the latest request, not the history)."""
    asked = [m["content"] for m in request["messages"] if "# Request from User\n" in m["content"]]
    return asked[-1].rsplit("# Request from User\n", 1)[1].strip().removeprefix("task:") if asked else ""


def reply_to(request: dict[str, Any]) -> str:
    """A CodeInterpreter that writes the request's code, and answers in text once told its code did not run."""
    messages = request["messages"]
    if messages[0]["content"].startswith("You keep the running summary"):
        return "SUMMARY"
    if "The code was NOT run" in messages[-1]["content"]:
        return json.dumps({"thought": "It is refused here.", "reply_type": "text", "reply_content": "refused"})
    return json.dumps({"thought": "Do it.", "reply_type": "python", "reply_content": CODE[current_task(request)]})


def make_app(project: Path, server: FakeOpenAIServer, **settings: Any) -> App:
    environ = {"WEAVER_LOAD_EXTENSIONS": ",".join(EXTENSIONS), "WEAVER_CONFIG": str(project / "none.toml")}
    return App(
        project,
        environ=environ,
        llm=server.llm_config(),
        session={"roles": ["code_interpreter"]},
        execution={"pool_size": 0},
        code_interpreter={"history_max_tokens": 300},
        **settings,
    )


@pytest.fixture
def servers() -> Iterator[tuple[FakeOpenAIServer, FakeOpenAIServer]]:
    with FakeOpenAIServer() as a, FakeOpenAIServer() as b:
        a.responder = reply_to
        b.responder = reply_to
        yield a, b


def project(root: Path, name: str) -> Path:
    folder = root / name
    (folder / "plugins").mkdir(parents=True)
    (folder / "plugins" / "prices.py").write_text(PLUGIN, encoding="utf-8")
    return folder


def ci_post(round: Round) -> Post:
    return [p for p in round.posts if p.send_from == "CodeInterpreter"][-1]


def summary_requests(server: FakeOpenAIServer) -> list[dict[str, Any]]:
    return [r for r in server.requests if r["messages"][0]["content"].startswith("You keep the running summary")]


def attempts(server: FakeOpenAIServer, task: str) -> int:
    return sum(1 for r in server.requests if current_task(r) == task)


def test_two_apps_in_one_process_keep_their_own_settings(tmp_path: Path, servers: Any) -> None:
    server_a, server_b = servers
    strict = make_app(project(tmp_path, "strict"), server_a, loop_detector={"block": True})
    lax = make_app(
        project(tmp_path, "lax"),
        server_b,
        code_verifier={"enabled": False},
        retry_guard={"max_identical_errors": 0},
        feedback_trimmer={"enabled": False},
        memory_compressor={"summarize_with_llm": False},
    )
    try:
        a, b = strict.session(), lax.session()
        # Interleaved, strict first: the App built last must not set the rules for the first.
        done = {}
        for task in ("subprocess", "keyerror", "print", "loop"):
            done[("a", task)] = a.send_message(f"task:{task}")
            done[("b", task)] = b.send_message(f"task:{task}")
        assert all(r.state is RoundState.finished for r in done.values())

        # The verifier: on in A (the code is refused), off in B (it runs).
        assert ci_post(done["a", "subprocess"]).message == "refused"
        assert "ran a command" in ci_post(done["b", "subprocess"]).message

        # The circuit breaker: A stops at the third identical error, B retries to max_retries.
        assert attempts(server_a, "keyerror") == 3
        assert "Circuit breaker" in ci_post(done["a", "keyerror"]).message
        assert attempts(server_b, "keyerror") == 4
        assert "Circuit breaker" not in ci_post(done["b", "keyerror"]).message

        # Feedback trimming: A's result is trimmed, B's is whole.
        a_out = ci_post(done["a", "print"]).attachment(AttachmentType.execution_result)
        b_out = ci_post(done["b", "print"]).attachment(AttachmentType.execution_result)
        assert a_out is not None and b_out is not None
        assert "output lines omitted" in a_out.content and "line 250\n" not in a_out.content
        assert "line 250\n" in b_out.content

        # The loop detector: blocking in A (refused before it runs), warning in B (it runs).
        assert ci_post(done["a", "loop"]).message == "refused"
        b_loop = ci_post(done["b", "loop"])
        assert "[1.0, 2.0, 3.0]" in b_loop.message
        assert any(a.type is AttachmentType.guard_verdict and "price" in a.content for a in b_loop.attachments)

        # The memory compressor: A asks its model for summaries between rounds, B never does.
        strict.run(a.settle())
        assert summary_requests(server_a) and not summary_requests(server_b)
    finally:
        strict.close()
        lax.close()


def test_two_sessions_of_one_app_at_once_count_their_own_failures(tmp_path: Path) -> None:
    """Each session fails twice and then succeeds; shared counters would trip the breaker."""

    def flaky(request: dict[str, Any]) -> str:
        # Earlier attempts are whole assistant turns, or one line each in the last request.
        last = request["messages"][-1]["content"]
        tries = sum(1 for m in request["messages"] if m["role"] == "assistant") + len(re.findall(r"^\d+\. code ", last, re.MULTILINE))
        content = "{}['missing']" if tries < 2 else "'fixed'"
        return json.dumps({"thought": "Try.", "reply_type": "python", "reply_content": content})

    with FakeOpenAIServer() as server:
        server.responder = flaky
        app = make_app(project(tmp_path, "shared"), server)
        try:
            first, second = app.session(), app.session()

            async def both() -> list[Round]:
                return list(await asyncio.gather(first.asend_message("alpha"), second.asend_message("beta")))

            rounds = asyncio.run(both())
        finally:
            app.close()
    for round in rounds:
        post = ci_post(round)
        assert round.state is RoundState.finished
        assert "Circuit breaker" not in post.message and "'fixed'" in post.message
        assert [a.type for a in post.attachments].count(AttachmentType.invalid_response) == 2
