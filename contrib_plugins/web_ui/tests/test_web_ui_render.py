"""What the page makes of what a model and its code produce: text stays text, tables become
tables, files are reached only through the session's own areas."""

from __future__ import annotations

from pathlib import Path

from weaver.events import Event, EventType
from weaver.model import Attachment, AttachmentType, Post
from weaver.serde import to_data
from weaver_web_ui import render
from weaver_web_ui.files import SessionFiles
from weaver_web_ui.tables import from_html, table_of
from weaver_web_ui.transcript import Transcript


def test_a_table_of_markup_is_shown_as_its_text() -> None:
    table = from_html(
        "<table><thead><tr><th></th><th>name</th></tr></thead>"
        "<tbody><tr><th>0</th><td><img src=x onerror=alert(1)>&lt;img src=x onerror=alert(1)&gt;"
        "**bold** | [link](javascript:x)</td></tr></tbody></table>"
    )
    assert table is not None
    markdown = table.markdown()
    # A tag is dropped; text that reads as a tag is shown as text.
    assert "<img" not in markdown and markdown.count("&lt;img") == 1
    assert "\\*\\*bold\\*\\*" in markdown and "\\|" in markdown and "\\[link\\]" in markdown


def test_code_that_closes_its_fence_stays_inside_it() -> None:
    fenced = render.fence("print('```')\n````\n# </code><script>alert(1)</script>", "python")
    opening = fenced.splitlines()[0]
    assert opening == "`````python" and fenced.endswith("\n`````")


def test_a_broken_or_huge_file_is_no_table() -> None:
    assert table_of("x.csv", b"") is None
    assert table_of("x.html", b"<p>no table here</p>") is None
    wide = table_of("wide.csv", (",".join(f"c{i}" for i in range(500)) + "\n" + ",".join("1" * 500)).encode())
    assert wide is not None and len(wide.header) == 30


def test_an_artifact_outside_the_session_is_not_linked(tmp_path: Path) -> None:
    (tmp_path / "artifacts").mkdir()
    files = SessionFiles("session-1", tmp_path)
    assert files.artifact(str(tmp_path / "artifacts" / "plot.png")) == "plot.png"
    assert files.artifact("/etc/passwd") is None
    assert files.artifact(str(tmp_path / "artifacts" / ".." / ".." / "secret.png")) is None
    link = tmp_path / "artifacts" / "link.csv"
    link.symlink_to("/etc/passwd")
    assert files.table("artifacts", "link.csv") is None


def _event(kind: EventType, round_id: str, **data: object) -> Event:
    return Event(type=kind, session_id="session-1", round_id=round_id, data=data)


def test_a_round_read_back_marks_the_plan_and_ends_approvals_it_never_got() -> None:
    attachments = (Attachment(AttachmentType.plan, "1. Load\n2. Plot"), Attachment(AttachmentType.current_plan_step, "2. Plot"))
    plan_post = Post("Planner", "CodeInterpreter", "go", attachments)
    events = [
        _event(EventType.round_start, "r1", user_query="plot it"),
        _event(EventType.post_end, "r1", post=to_data(plan_post)),
        _event(EventType.approval_request, "r1", request={"id": "appr-1", "kind": "code", "content": "x = 1"}),
    ]
    transcript = Transcript(events)
    assert transcript.running is not None
    assert "- ▶ **2. Plot**" in render.plan_markdown(transcript.current)
    assert "- ✓ 1. Load" in render.plan_markdown(transcript.current)
    shown = render.messages(transcript, None)
    assert any(m.get("metadata", {}).get("title", "").startswith("Waiting for your approval") for m in shown)
    transcript.add(_event(EventType.round_end, "r1", round={"state": "cancelled", "reason": "cancelled"}))
    shown = render.messages(transcript, None)
    titles = [m.get("metadata", {}).get("title", "") for m in shown]
    assert "Not answered: the round ended first" in titles
    assert not any(t.startswith("Waiting") for t in titles)
    assert shown[-1]["content"].startswith("Cancelled") and not shown[-1]["content"].endswith(": cancelled")
