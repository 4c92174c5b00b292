"""The live view: posts rendered from the real event stream of real sessions.

The roles here stream attachments the way the Planner and the CodeInterpreter do (through
``PostBuilder.stream``), so the view sees the same events; the console writes to a
``StringIO`` as a pipe or, forced, as a terminal.
"""

from __future__ import annotations

import asyncio
import io
import re
import threading
from types import SimpleNamespace

import pytest
from rich.console import Console

from weaver import serde
from weaver.console import LiveView, make_console
from weaver.hookspecs import hookimpl
from weaver.model import USER, AttachmentType, Post, RoundState
from weaver.roles import RoleContext
from weaver.specs import RoleSpec

LIVENESS = 30.0
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\]8;[^\x1b]*\x1b\\")
CODE = "import statistics\nstatistics.mean([1, 2, 3])\n"


class Planner:
    """Streams a plan the way the Planner does: reasoning, plan, then the current step."""

    async def reply(self, ctx: RoleContext) -> Post:
        post = ctx.new_post()
        ctx.status("calling the model")
        if ctx.post.send_from == USER:
            for kind, text in (
                (AttachmentType.plan_reasoning, "The user wants a mean."),
                (AttachmentType.plan, "1. load the numbers\n2. compute the mean\n3. report it"),
                (AttachmentType.current_plan_step, "2. compute the mean"),
            ):
                stream = post.stream(kind)
                for piece in re.findall(r".{1,7}", text, re.DOTALL):
                    stream.append(piece)
                stream.close()
            post.set_send_to("CodeInterpreter")
            post.message_delta(ctx.post.message)
        else:
            post.set_send_to(USER)
            post.message_delta("The mean is 2.")
            post.attach(AttachmentType.stop, "Completed")
        return post.build()


class Coder:
    """Streams code, reports executing it, and attaches a result and a plot; with ``sleep`` in
    the request it never finishes (a long-running execution)."""

    async def reply(self, ctx: RoleContext) -> Post:
        post = ctx.new_post(send_to=ctx.post.send_from)
        post.attach(AttachmentType.thought, "statistics.mean is enough.")
        post.attach(AttachmentType.reply_type, "python")
        stream = post.stream(AttachmentType.reply_content)
        for line in CODE.splitlines(keepends=True):
            stream.append(line)
        ctx.status("executing code")
        if "sleep" in ctx.post.message:
            await asyncio.sleep(3600)
        stream.close()
        post.attach(AttachmentType.execution_result, "2.0", {"ok": True, "duration_s": 0.01})
        post.attach(AttachmentType.artifact_paths, "/tmp/plot.png", ["/tmp/plot.png"])
        post.set_message("The following Python code ran successfully:\n" + CODE)
        return post.build()


@hookimpl
def _roles() -> list[RoleSpec]:
    return [
        RoleSpec(name="planner", alias="Planner", factory=Planner),
        RoleSpec(name="code_interpreter", alias="CodeInterpreter", factory=Coder),
    ]


@pytest.fixture
def app(make_app, register_plugin):
    register_plugin(SimpleNamespace(weaver_roles=_roles))
    return make_app(session={"roles": ["planner", "code_interpreter"]})


def watch(app, console: Console, **options):
    session = app.session()
    view = LiveView(console, session_id=session.id, **options)
    view.attach(app)
    return session, view


def test_pipe_output_shows_every_part_of_every_post_without_escapes(app):
    out = io.StringIO()
    session, _ = watch(app, make_console(out))
    round = session.send_message("mean of 1, 2, 3")
    text = out.getvalue()
    assert round.state is RoundState.finished
    assert "\x1b" not in text
    lines = [line.rstrip() for line in text.splitlines()]
    assert "── Planner ────────" in lines
    assert "  reasoning The user wants a mean." in lines
    assert "      1. load the numbers" in lines
    assert "    ▶ 2. compute the mean" in lines
    assert "      3. report it" in lines
    assert "  thought statistics.mean is enough." in lines
    assert "  statistics.mean([1, 2, 3])" in lines
    assert "  ✓ executed in 0.01 s" in lines
    assert "  artifact /tmp/plot.png" in lines
    # The hand-over repeats the code: only its first line is shown.
    assert "  → CodeInterpreter: mean of 1, 2, 3" in lines
    assert "  → Planner: The following Python code ran successfully: …" in lines
    assert "    The mean is 2." in lines
    assert lines[-1].startswith("✓ finished · ")
    # Each part once, in the order it was written.
    assert text.count("statistics.mean([1, 2, 3])") == 1
    assert text.count("compute the mean") == 1
    order = [text.index(s) for s in ("reasoning", "▶ 2.", "thought", "import statistics", "✓ executed", "The mean is 2.")]
    assert order == sorted(order)


def test_terminal_output_is_colored_and_code_is_highlighted(app):
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, color_system="standard", width=100)
    session, _ = watch(app, console)
    session.send_message("mean of 1, 2, 3")
    text = out.getvalue()
    assert re.search(r"\x1b\[[0-9;]*3[0-7]m", text), "no color on a terminal"
    plain = ANSI.sub("", text)
    assert "statistics.mean([1, 2, 3])" in plain
    # Syntax highlighting splits the code into differently styled tokens.
    assert "import statistics" not in text
    assert "▶ 2. compute the mean" in plain


def test_no_color_turns_colors_off_on_a_terminal(app, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("NO_COLOR", "1")
    out = io.StringIO()
    console = make_console(out)
    assert console.is_terminal
    session, _ = watch(app, console, live=False)
    session.send_message("mean of 1, 2, 3")
    text = out.getvalue()
    assert "statistics.mean" in text
    assert not re.search(r"\x1b\[[0-9;]*(3[0-7]|9[0-7]|38;)", text), "a color escape despite NO_COLOR"


def start_round(session, text: str) -> tuple[threading.Thread, dict]:
    result: dict = {}
    worker = threading.Thread(target=lambda: result.setdefault("round", session.send_message(text)))
    worker.start()
    return worker, result


def wait_for(condition) -> None:
    for _ in range(int(LIVENESS / 0.05)):
        if condition():
            return
        threading.Event().wait(0.05)
    raise AssertionError("timed out")


def test_status_line_shows_the_activity_and_its_elapsed_time(app):
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, color_system=None, width=100)
    session, _ = watch(app, console, live=True)
    worker, result = start_round(session, "sleep please")
    wait_for(lambda: re.search(r"executing code · \d+\.\d s", ANSI.sub("", out.getvalue())))
    assert session.cancel()
    worker.join(LIVENESS)
    plain = ANSI.sub("", out.getvalue())
    assert re.search(r"CodeInterpreter: executing code · \d+\.\d s · round \d+ s", plain)
    assert result["round"].state is RoundState.cancelled


def test_a_cancelled_round_keeps_the_code_it_was_running(app):
    out = io.StringIO()
    session, _ = watch(app, make_console(out))
    worker, result = start_round(session, "sleep please")
    # The code is printed once it is complete: when execution starts.
    wait_for(lambda: "statistics.mean([1, 2, 3])" in out.getvalue())
    assert session.cancel()
    worker.join(LIVENESS)
    assert result["round"].state is RoundState.cancelled
    lines = out.getvalue().rstrip().splitlines()
    assert lines[-1].startswith("■ cancelled")
    assert out.getvalue().count("statistics.mean([1, 2, 3])") == 1


class BrokenPipe(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_pipe_silences_the_view_without_stopping_the_session(app):
    session, _ = watch(app, make_console(BrokenPipe()))
    worker, result = start_round(session, "mean of 1, 2, 3")
    worker.join(LIVENESS)
    assert result["round"].state is RoundState.finished


def test_a_round_summary_says_each_thing_once() -> None:
    from weaver.console.blocks import round_summary
    from weaver.model import Round

    def line(state: RoundState, reason: str) -> str:
        return round_summary(Round(user_query="q", state=state, reason=reason)).plain

    assert line(RoundState.cancelled, "cancelled") == "■ cancelled"
    assert line(RoundState.finished, "Completed") == "✓ finished"
    assert line(RoundState.finished, "Clarification") == "✓ finished: Clarification"
    assert line(RoundState.failed, "hop limit reached") == "✗ failed: hop limit reached"


def test_an_attachment_type_an_extension_declared_shows_as_text() -> None:
    from weaver.console.blocks import attachment_block
    from weaver.model import Attachment

    block = attachment_block(Attachment("sql_query", "SELECT 1"))
    assert block is not None and block.plain == "sql_query SELECT 1"


def test_log_lines_print_above_the_live_region_not_inside_it(app):
    import logging

    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100, color_system=None)
    root = logging.getLogger()
    before = list(root.handlers)
    session = app.session()
    view = LiveView(console, session_id=session.id)
    detach = view.attach(app)

    def warn_once(event):
        if event.type.value == "status" and event.data.get("message") == "executing code":
            logging.getLogger("weaver.test").warning("the disk is nearly full")

    unsubscribe = app.subscribe(warn_once)
    session.send_message("mean of 1, 2, 3")
    unsubscribe()
    detach()
    text = ANSI.sub("", out.getvalue())
    lines = [line.strip() for line in text.replace("\r", "\n").splitlines()]
    assert "warning: the disk is nearly full" in lines  # a line of its own
    assert not any("the disk is nearly full" in line and "·" in line for line in lines)  # not in the status line
    assert root.handlers == before  # detaching gives logging its handlers back


def test_output_shows_as_it_is_printed_and_the_result_does_not_repeat_it():
    from weaver.console import blocks
    from weaver.events import Event, EventType
    from weaver.model import Attachment

    out = io.StringIO()
    view = LiveView(Console(file=out, width=100, color_system=None), session_id="s")
    view(Event(EventType.round_start, "s", "r", data={"user_query": "q"}))
    view(Event(EventType.post_start, "s", "r", "p", {"send_from": "CodeInterpreter"}))
    view(Event(EventType.output, "s", "r", data={"stream": "stdout", "text": "tick 1\n", "role": "CodeInterpreter"}))
    assert "tick 1" in out.getvalue()  # before the execution ends
    view(Event(EventType.output, "s", "r", data={"stream": "stdout", "text": "tick 2\n", "role": "CodeInterpreter"}))
    result = {"ok": True, "duration_s": 2.0, "stdout": "tick 1\ntick 2\n", "value_repr": "'done'"}
    view(Event(EventType.attachment, "s", "r", "p", {"attachment": serde.to_data(Attachment("execution_result", "", result))}))
    text = out.getvalue()
    assert text.count("tick 1") == 1 and text.count("tick 2") == 1 and "'done'" in text
    replay = Console(file=io.StringIO(), width=100, color_system=None, record=True)
    replay.print(blocks.execution_block(Attachment("execution_result", "", result)))
    assert "tick 1" in replay.export_text()  # where nothing was streamed (sessions show), the result shows it
