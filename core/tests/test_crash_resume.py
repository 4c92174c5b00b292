"""SIGKILL a real process in the middle of a round, then resume: every post reported done is there."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from weaver.hookspecs import hookimpl
from weaver.model import USER, Post, RoundState
from weaver.roles import RoleContext
from weaver.specs import RoleSpec
from weaver.store import INTERRUPTED

LIVENESS = 60.0
POSTS_BEFORE_KILL = 6

CHILD = textwrap.dedent(
    """
    import asyncio
    import sys

    from weaver.engine import App
    from weaver.events import EventType
    from weaver.extensions import load_extensions, make_plugin_manager
    from weaver.hookspecs import hookimpl
    from weaver.model import USER
    from weaver.specs import RoleSpec


    class Stepper:
        async def reply(self, ctx):
            if ctx.post.message == "finish":
                return ctx.new_post(send_to=USER).build()
            await asyncio.sleep(0.05)
            post = ctx.new_post(send_to="Stepper")
            post.set_message("step")
            return post.build()


    @hookimpl
    def weaver_roles():
        return [RoleSpec(name="stepper", alias="Stepper", factory=Stepper)]


    def report(event):
        if event.type is EventType.post_end:
            print("POST", event.round_id, event.post_id, flush=True)
        elif event.type is EventType.round_end:
            print("ROUND_END", event.round_id, flush=True)


    pm = make_plugin_manager()
    load_extensions(pm, only=(), entry_points=())
    pm.register(sys.modules[__name__], name="crash_child")
    app = App(sys.argv[1], plugin_manager=pm, environ={}, session={"roles": ["stepper"], "max_hops": 100000})
    app.subscribe(report)
    session = app.session()
    print("SESSION", session.id, flush=True)
    session.send_message("finish")
    session.send_message("step")
    print("UNREACHABLE: the second round never ends by itself", flush=True)
    """
)


class Stepper:
    """The same role as the child's, so the test process can open the session again."""

    async def reply(self, ctx: RoleContext) -> Post:
        return ctx.new_post(send_to=USER).build()


@hookimpl
def _stepper_role() -> list[RoleSpec]:
    return [RoleSpec(name="stepper", alias="Stepper", factory=Stepper)]


def _lines(stream: Any) -> queue.Queue[str | None]:
    """Lines of ``stream`` as they arrive; ``None`` at its end."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _run_child_until_killed(script: Path, project: Path, stderr: Path) -> tuple[str, list[tuple[str, str]], list[str]]:
    """Run the child until it has reported ``POSTS_BEFORE_KILL`` posts of its second round, SIGKILL it.

    Returns the session id, every ``(round_id, post_id)`` the child reported done, and the
    ids of the rounds it reported ended.
    """
    with open(stderr, "w") as err:
        child = subprocess.Popen(
            [sys.executable, str(script), str(project)], stdout=subprocess.PIPE, stderr=err, text=True
        )
    lines = _lines(child.stdout)
    session_id, posts, ended = "", [], []
    try:
        while True:
            try:
                line = lines.get(timeout=LIVENESS)
            except queue.Empty:
                pytest.fail(f"the child reported nothing for {LIVENESS}s; stderr: {stderr.read_text()}")
            if line is None:
                pytest.fail(f"the child exited early ({child.wait()}); stderr: {stderr.read_text()}")
            kind, *fields = line.split()
            if kind == "SESSION":
                session_id = fields[0]
            elif kind == "POST":
                posts.append((fields[0], fields[1]))
            elif kind == "ROUND_END":
                ended.append(fields[0])
            if ended and sum(1 for round_id, _ in posts if round_id not in ended) >= POSTS_BEFORE_KILL:
                child.send_signal(signal.SIGKILL)
                break
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(timeout=LIVENESS)
    # Whatever the child printed before it died was reported done too.
    while (line := lines.get(timeout=LIVENESS)) is not None:
        kind, *fields = line.split()
        if kind == "POST":
            posts.append((fields[0], fields[1]))
    assert child.returncode == -signal.SIGKILL
    return session_id, posts, ended


@pytest.mark.slow
def test_sigkill_mid_round_then_resume(
    tmp_path: Path, make_app: Callable[..., Any], register_plugin: Callable[..., Any]
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    session_id, reported, ended = _run_child_until_killed(script, project, tmp_path / "child.err")
    assert session_id and len(ended) == 1

    register_plugin(SimpleNamespace(weaver_roles=_stepper_role))
    app = make_app(project, session={"roles": ["stepper"]})
    assert app.session_ids() == [session_id]
    resumed = app.resume(session_id)

    finished, interrupted = resumed.rounds
    assert finished.id == ended[0]
    assert finished.state is RoundState.finished
    assert [(finished.id, p.id) for p in finished.posts] == [pair for pair in reported if pair[0] == finished.id]

    kept = [(interrupted.id, p.id) for p in interrupted.posts]
    done_in_second = [pair for pair in reported if pair[0] != finished.id]
    assert len(done_in_second) >= POSTS_BEFORE_KILL
    assert kept[: len(done_in_second)] == done_in_second, "every post reported done is there, in order"
    assert interrupted.state is RoundState.failed
    assert interrupted.reason == INTERRUPTED
    assert interrupted.user_query == "step"
    assert all(p.message == "step" for p in interrupted.posts)
    resumed.close()

    log = resumed.paths.log
    with open(log, "a", encoding="utf-8") as handle:
        handle.write('{"type":"post_end","session_id":"' + session_id + '","round_id":"' + interrupted.id)
    again = app.resume(session_id)
    assert len(again.problems) == 1
    assert "torn last line" in again.problems[0] and str(log) in again.problems[0]
    assert again.rounds == resumed.rounds

    after = again.send_message("finish")
    assert after.state is RoundState.finished
    again.close()
    final = app.resume(session_id)
    assert [r.id for r in final.rounds] == [finished.id, interrupted.id, after.id]
    assert final.rounds[-1] == after
    assert len(final.problems) == 1, "the torn line stays reported; nothing written after it was lost"
