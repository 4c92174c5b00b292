"""Human approval: the policy that decides when to ask, the session port that asks and waits,
the answers from another thread, the timeout, and the log that records who decided what."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest

from weaver.approvals import ApprovalAnswer, ApprovalRequest, Decision, risky_reasons
from weaver.events import EventType
from weaver.extensions import Hooks
from weaver.hookspecs import hookimpl
from weaver.model import USER, Post, RoundState
from weaver.roles import RoleContext
from weaver.specs import PluginSpec, RoleSpec
from weaver.store import read_log

LIVENESS = 30.0


class Asker:
    """Asks a person to approve its message as code, and answers with what was decided."""

    answers: ClassVar[list[ApprovalAnswer]] = []

    async def reply(self, ctx: RoleContext) -> Post:
        request = ApprovalRequest("code", ctx.post.message, ("it is a test",), role=ctx.alias, round_id=ctx.round.id)
        answer = await ctx.hook.approve(request)
        Asker.answers.append(answer)
        post = ctx.new_post(send_to=USER)
        post.set_message(f"{answer.decision.value}: {answer.content} ({answer.reason})")
        return post.build()


@hookimpl
def _roles() -> list[RoleSpec]:
    return [RoleSpec("asker", "Asker", Asker, "Asks first.", calls_llm=False)]


@pytest.fixture
def session(make_app: Callable[..., Any], register_extension: Callable[..., Any]) -> Any:
    Asker.answers.clear()
    register_extension(SimpleNamespace(weaver_roles=_roles))
    return make_app(session={"roles": ["asker"]}, approval={"timeout_s": LIVENESS}).session()


def answer_when_asked(session: Any, decision: str, **kw: Any) -> threading.Thread:
    """A front end on its own thread: waits for the request, then answers it."""

    def run() -> None:
        deadline = time.monotonic() + LIVENESS
        while time.monotonic() < deadline:
            pending = session.pending_approvals()
            if pending:
                assert session.answer(pending[0].id, decision, **kw)
                return
            time.sleep(0.01)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize(
    ("decision", "kw", "said"),
    [
        ("approved", {}, "approved: print(1) ()"),
        ("edited", {"content": "print(2)", "reason": "safer"}, "edited: print(2) (safer)"),
        ("rejected", {"reason": "not now"}, "rejected: print(1) (not now)"),
    ],
)
def test_a_person_answers_from_another_thread_and_the_log_says_who_decided_what(
    session: Any, decision: str, kw: dict[str, Any], said: str
) -> None:
    front_end = answer_when_asked(session, decision, **kw)
    round = session.send_message("print(1)")
    front_end.join(LIVENESS)
    assert round.state is RoundState.finished and round.answer == said
    events = read_log(session.paths.log).events
    (asked,) = [e for e in events if e.type is EventType.approval_request]
    (answered,) = [e for e in events if e.type is EventType.approval]
    assert asked.data["request"]["content"] == "print(1)" and asked.data["request"]["reasons"] == ["it is a test"]
    assert answered.data["answer"]["decision"] == decision and answered.data["answer"]["by"] == "user"
    assert answered.data["answer"]["request_id"] == asked.data["request"]["id"]
    assert session.pending_approvals() == ()


def test_no_answer_in_time_is_a_recorded_rejection(make_app: Callable[..., Any], register_extension: Callable[..., Any]) -> None:
    register_extension(SimpleNamespace(weaver_roles=_roles))
    session = make_app(session={"roles": ["asker"]}, approval={"timeout_s": 0.2}).session()
    round = session.send_message("print(1)")
    assert round.answer == "rejected: print(1) (nobody answered within 0.2 s ([approval] timeout_s))"
    (answered,) = [e for e in read_log(session.paths.log).events if e.type is EventType.approval]
    assert answered.data["answer"]["by"] == "timeout"


def test_answers_to_unknown_or_settled_requests_are_refused(session: Any) -> None:
    assert session.answer("appr-nope", "approved") is False
    with pytest.raises(ValueError):
        session.answer("appr-nope", "maybe")
    front_end = answer_when_asked(session, "approved")
    session.send_message("x = 1")
    front_end.join(LIVENESS)
    assert session.answer(Asker.answers[0].request_id, "rejected") is False  # already decided


def test_an_edit_without_the_edited_text_is_refused(session: Any) -> None:
    seen: list[BaseException] = []

    def run() -> None:
        deadline = time.monotonic() + LIVENESS
        while not session.pending_approvals() and time.monotonic() < deadline:
            time.sleep(0.01)
        request = session.pending_approvals()[0]
        try:
            session.answer(request.id, Decision.edited)
        except ValueError as exc:
            seen.append(exc)
        session.answer(request.id, Decision.approved)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert session.send_message("x = 1").answer == "approved: x = 1 ()"
    thread.join(LIVENESS)
    assert seen and "edited content" in str(seen[0])


# ---- the policy ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("df.to_csv('out.csv')", ".to_csv()"),
        ("from pathlib import Path\nPath('x').write_text('y')", ".write_text()"),
        ("f = open('x.txt', 'w')", "opens a file for writing"),
        ("f = open('x.txt', mode='a')", "opens a file for writing"),
        ("import requests\nrequests.get('http://x')", "requests"),
        ("from urllib.request import urlopen", "urllib.request"),
        ("import socket", "socket"),
        ("lookup('AAPL')", "the plugin lookup"),
    ],
)
def test_risky_code_is_named_for_what_makes_it_risky(code: str, reason: str) -> None:
    reasons = risky_reasons(code, frozenset({"lookup"}))
    assert any(reason in r for r in reasons), reasons


@pytest.mark.parametrize(
    "code",
    [
        "df.groupby('region').sum()",
        "import pandas as pd\npd.read_csv('data/sales.csv')",
        "f = open('x.txt')",
        "f = open('x.txt', 'r')",
        "plt.plot([1, 2])",
        "free('AAPL')",
        "x = (",  # does not parse: the verifiers refuse it first
    ],
)
def test_ordinary_analysis_code_is_not_risky(code: str) -> None:
    assert risky_reasons(code, frozenset({"lookup"})) == []


def test_hook_weaver_approval_required(make_app: Callable[..., Any], register_extension: Callable[..., Any], weaver_pm: Any) -> None:
    @hookimpl
    def weaver_approval_required(kind, content, ctx):  # type: ignore[no-untyped-def]
        return "it drops a table" if kind == "code" and "DROP TABLE" in content.upper() else None

    register_extension(SimpleNamespace(weaver_approval_required=weaver_approval_required), name="no_drops")
    hooks = Hooks(weaver_pm)

    def reasons(kind: str, content: str, **approval: Any) -> list[str]:
        app = make_app(session={"roles": []}, approval=approval)
        ctx = app.session().hook_context("CodeInterpreter")
        return hooks.approval_reasons(kind, content, ctx)

    assert reasons("code", "df.sum()") == []
    assert reasons("code", "db.execute('drop table x')") == ["it drops a table"]
    assert reasons("code", "df.sum()", code="always") == ['[approval] code = "always"']
    assert reasons("code", "df.to_csv('x.csv')", code="risky")[0].startswith("it calls .to_csv()")
    assert reasons("plan", "1. load") == [] and reasons("plan", "1. load", plan=True) == ["[approval] plan = true"]


PAID = '''
def quote(ticker: str) -> float:
    """A paid quote."""
    return 1.0


def free(ticker: str) -> float:
    """A free one."""
    return 0.0
'''


def test_a_costly_plugin_asks_under_risky(
    make_app: Callable[..., Any], register_extension: Callable[..., Any], weaver_pm: Any, tmp_path: Any
) -> None:
    folder = tmp_path / "paid_plugins"
    folder.mkdir()
    (folder / "approval_test_paid.py").write_text(PAID)

    @hookimpl
    def weaver_plugins(config):  # type: ignore[no-untyped-def]
        return [
            PluginSpec("quote", "approval_test_paid:quote", "Paid quotes.", path=str(folder), cost=0.02),
            PluginSpec("free", "approval_test_paid:free", "Free.", path=str(folder)),
        ]

    register_extension(SimpleNamespace(weaver_plugins=weaver_plugins), name="paid")
    app = make_app(session={"roles": []}, approval={"code": "risky", "plugin_cost_over": 0.01})
    ctx = app.session().hook_context("CodeInterpreter")
    hooks = Hooks(weaver_pm)
    assert hooks.approval_reasons("code", "quote('X')", ctx) == ["it calls the plugin quote, which costs money per call"]
    assert hooks.approval_reasons("code", "free('X')", ctx) == []
