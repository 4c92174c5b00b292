"""A session starts its kernel when it is created, so the kernel starts while the Planner's
first call is under way, not after it.

The real Planner and CodeInterpreter, the real ``openai`` client over HTTP to the fake server,
real kernels. Ordering is read from one list that a log handler (the execution layer's
records) and an extension (``weaver_before_llm_call``, ``weaver_event``) append to, all on the
engine's loop thread, so its order is the order things happened in. Nothing here is timed: the
first reply is held until the kernel is ready (or a liveness bound passes, which then fails the
ordering checks).
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import weaver_code_interpreter
import weaver_code_verifier
import weaver_planner
from weaver import hookimpl
from weaver.execution import lifecycle
from weaver.execution.executor import KernelStartError
from weaver.model import USER, RoundState
from weaver.testing import FakeOpenAIServer
from weaver.testing.kernels import LIVENESS_S, wait_gone
from weaver.testing.wire import code_reply, planner_reply

pytestmark = pytest.mark.slow

CI = "CodeInterpreter"
PLAN = "1. Compute the sum\n2. Report it"
LAUNCH = "starting a kernel"
READY = "ready"


class Timeline(logging.Handler):
    """What happened, in order: kernel log records, LLM calls as they begin, events."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.entries: list[tuple[str, str]] = []
        self.kernel_ready = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith(LAUNCH):
            self.entries.append(("launch", message))
        elif message.endswith(READY) and " kernel " in message:
            self.entries.append(("ready", message))
            self.kernel_ready.set()

    @hookimpl
    def weaver_before_llm_call(self, request: Any, ctx: Any) -> None:
        self.entries.append(("call", ctx.role))

    @hookimpl
    def weaver_event(self, event: Any, ctx: Any) -> None:
        if event.type.value in ("round_start", "llm_call", "execution", "round_end"):
            self.entries.append((event.type.value, event.data.get("role", "")))

    def index(self, kind: str, detail: str | None = None) -> int:
        """Where the first entry of ``kind`` (with ``detail``) is; fails the test if none."""
        for n, (k, d) in enumerate(self.entries):
            if k == kind and (detail is None or d == detail):
                return n
        raise AssertionError(f"no {kind} {detail or ''} in {self.entries}")

    def count(self, kind: str) -> int:
        return sum(k == kind for k, _ in self.entries)


@pytest.fixture
def timeline(register_extension: Any) -> Iterator[Timeline]:
    handler = Timeline()
    logger = logging.getLogger("weaver.execution")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    register_extension(handler, name="timeline")
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def held_first_reply(timeline: Timeline, replies: list[str]) -> Any:
    """A responder whose first reply waits until a session's kernel is ready: a first call
    slower than a kernel start."""
    script = iter(replies)
    calls = []

    def respond(body: dict[str, Any]) -> str:
        calls.append(body)
        if len(calls) == 1:
            timeline.kernel_ready.wait(LIVENESS_S)
        return next(script)

    return respond


ROUND = [
    planner_reply("Compute 2 + 3 and show it.", plan=PLAN),
    code_reply("x = 2 + 3\nx"),
    planner_reply("2 + 3 = 5", send_to=USER, stop="Completed", plan=PLAN, step="2. Report it"),
]
ANSWER_DIRECTLY = [planner_reply("Hello.", send_to=USER, stop="Completed", plan=PLAN)]


@pytest.fixture
def start(make_app: Any, register_extension: Any, tmp_path: Path) -> Any:
    """``start(responder, **config)``: an App with the Planner, the CodeInterpreter and the
    verifier on a fake server answering with ``responder``."""
    for extension in (weaver_planner, weaver_code_interpreter, weaver_code_verifier):
        register_extension(extension)
    servers: list[FakeOpenAIServer] = []

    def make(responder: Any, **config: Any) -> Any:
        server = FakeOpenAIServer(responder).__enter__()
        servers.append(server)
        config.setdefault("execution", {"pool_size": 0})
        config.setdefault("planner", {"use_examples": False})
        return make_app(tmp_path, llm=server.llm_config(), session={"roles": ["planner", "code_interpreter"]}, **config)

    yield make
    for server in servers:
        server.__exit__(None, None, None)


def new_kernels(before: tuple[int, ...]) -> set[int]:
    return set(lifecycle.live_pids()) - set(before)


@pytest.mark.parametrize("pool_size", [0, 1])
def test_the_kernel_starts_with_the_session_and_is_ready_before_the_first_reply(
    start: Any, timeline: Timeline, pool_size: int
) -> None:
    app = start(held_first_reply(timeline, ROUND), execution={"pool_size": pool_size})
    before = lifecycle.live_pids()
    if pool_size:
        app.warm_up(wait=True)  # a pool kernel waiting, as in a long-lived front end
    pooled = new_kernels(before)
    round = app.session().send_message("what is 2 + 3")

    assert round.state is RoundState.finished, round.reason
    if pool_size:
        # The session took the pool's kernel (the pool refills itself afterwards).
        assert [f"kernel {pid} ready" for pid in pooled] == [d.split(": ")[-1] for k, d in timeline.entries if k == "ready"]
    else:
        assert timeline.count("launch") == 1, timeline.entries
    # The kernel was started before the Planner's first call began, was ready while that
    # call was still out, and the execution found it ready: nothing was started after it.
    ready = timeline.index("ready")
    assert timeline.index("launch") < timeline.index("call", "Planner") < ready < timeline.index("llm_call", "Planner")
    assert ready < timeline.index("call", CI) < timeline.index("execution")
    assert timeline.count("ready") == 1


def test_a_new_session_starts_its_kernel_before_any_round(start: Any, timeline: Timeline) -> None:
    app = start(held_first_reply(timeline, ROUND))
    before = lifecycle.live_pids()
    session = app.session()
    assert timeline.kernel_ready.wait(LIVENESS_S), timeline.entries
    (pid,) = new_kernels(before)
    assert timeline.entries == [("launch", timeline.entries[0][1]), ("ready", timeline.entries[1][1])]

    round = session.send_message("what is 2 + 3")
    assert round.state is RoundState.finished, round.reason
    assert timeline.count("launch") == 1 and new_kernels(before) == {pid}  # the same kernel ran the code


def test_a_session_that_never_runs_code_leaves_no_kernel_behind(start: Any, timeline: Timeline) -> None:
    app = start(lambda body: ANSWER_DIRECTLY[0])
    before = lifecycle.live_pids()
    answered = app.session()
    assert answered.send_message("hello").answer == "Hello."
    assert timeline.count("execution") == 0
    assert timeline.kernel_ready.wait(LIVENESS_S), timeline.entries  # started with the session all the same
    started = new_kernels(before)
    assert len(started) == 1
    answered.close()
    (pid,) = started
    assert wait_gone(pid) and pid not in lifecycle.live_pids()

    # Closed at once, while its kernel may still be starting; and one the App closes.
    app.session().close()
    app.session()
    app.close()
    assert not new_kernels(before)
    assert timeline.count("launch") == 3


def test_without_prestart_no_kernel_starts_until_code_runs(start: Any, timeline: Timeline) -> None:
    app = start(lambda body: ANSWER_DIRECTLY[0], execution={"pool_size": 0, "prestart": False})
    session = app.session()
    assert session.send_message("hello").state is RoundState.finished
    app.run(session.settle())
    assert timeline.count("launch") == 0


def test_sessions_whose_roles_run_no_code_start_no_kernel(make_app: Any, register_extension: Any, timeline: Timeline) -> None:
    register_extension(weaver_planner)
    with FakeOpenAIServer(ANSWER_DIRECTLY) as server:
        app = make_app(llm=server.llm_config(), session={"roles": ["planner"]}, planner={"use_examples": False})
        assert app.session().send_message("hello").state is RoundState.finished
    assert timeline.count("launch") == 0


@pytest.fixture
def broken_python(tmp_path: Path) -> str:
    """An interpreter that answers Weaver's questions about its paths but dies as a kernel
    (in the sandbox, where the project's files are not, it is not found at all)."""
    script = tmp_path / "python-without-kernel"
    script.write_text(f'#!/bin/sh\n[ "$1" = "-c" ] && exec {sys.executable} "$@"\necho "no kernel here" >&2\nexit 3\n')
    script.chmod(0o755)
    return str(script)


def failure(start: Any, timeline: Timeline, python: str, **execution: Any) -> tuple[str, str, int]:
    """A round whose kernel cannot start: its reason, the direct execution's error, and how
    many kernels were started for them."""
    app = start(lambda body: next(script), execution={"pool_size": 0, "python": python, **execution})
    script = iter(ROUND)
    session = app.session()
    round = session.send_message("what is 2 + 3")
    assert round.state is RoundState.failed
    with pytest.raises(KernelStartError) as raised:
        app.run(session.execute("1"))
    return round.reason, str(raised.value), timeline.count("launch")


def test_a_kernel_that_cannot_start_fails_where_code_first_needs_it_as_without_prestart(
    start: Any, timeline: Timeline, broken_python: str
) -> None:
    early = failure(start, timeline, broken_python)
    launches = timeline.count("launch")
    late = failure(start, timeline, broken_python, prestart=False)
    assert early[:2] == late[:2]
    assert early[0].startswith("KernelStartError: the kernel did not start") and early[1] in early[0]
    # The early start's failure was the first execution's: no second start for it.
    assert launches == 2 and late[2] - launches == 2
