"""The page and what each control does.

Every handler runs on the service's own event loop and goes through the service with the
user Gradio resolved from the request's cookie (:func:`weaver_web_ui.login.user_of`), so a
person can only ever name their own sessions; the session id a tab works on lives in the
tab's server-side state. Watching a round is a generator that folds the session's stream
into a :class:`~weaver_web_ui.transcript.Transcript` and redraws once a frame; the round
itself runs in the service, so closing the tab, switching session or losing the connection
never stops it, and opening the session again shows it where it is.
"""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import gradio as gr

from weaver.approvals import Decision
from weaver.errors import WeaverError
from weaver.store import read_log
from weaver_server import files as server_files
from weaver_web_ui import render
from weaver_web_ui.files import SessionFiles
from weaver_web_ui.live import Watch
from weaver_web_ui.transcript import Transcript

CHUNK = 1 << 20
CSS = """
#weaver-chat { flex-grow: 1; }
#weaver-sessions .wrap { flex-direction: column; gap: 4px; }
#weaver-sessions label { width: 100%; box-sizing: border-box; border-radius: 8px; }
#weaver-approval { border: 2px solid #f59e0b; border-radius: 12px; padding: 6px; background: #fffbeb; }
#weaver-approval #weaver-approval { border: 0; padding: 0; }
#weaver-plan ul { list-style: none; padding-left: 4px; }
#weaver-plan li { margin: 4px 0; }
#weaver-files a { text-decoration: none; }
#weaver-files ul { padding-left: 18px; margin: 4px 0 10px; }
.weaver-muted { color: #64748b; font-size: 13px; }
"""
HEAD = "<meta name='robots' content='noindex'>"


class Page:
    """The page for one service (``app.state.weaver``)."""

    def __init__(self, service: Any) -> None:
        self.service = service

    # ---- what the page shows ----------------------------------------------------------

    def transcript(self, user: str, session_id: str) -> Transcript:
        return Transcript(read_log(self.service.paths(user, session_id).log).events)

    def files(self, user: str, session_id: str) -> SessionFiles:
        return SessionFiles(session_id, self.service.paths(user, session_id).root)

    def session_choices(self, user: str) -> list[tuple[str, str]]:
        from weaver_server import views

        rows = [views.summary(self.service.record(user, sid)) for sid in self.service.session_ids(user)]
        rows.sort(key=lambda row: -(row["updated_at"] or row["created_at"] or 0.0))
        choices = []
        for row in rows:
            title = " ".join(str(row["first_request"] or "New session").split())
            title = title if len(title) <= 48 else title[:47] + "…"
            state = "● running" if row["running_round"] else f"{row['rounds']} round" + ("" if row["rounds"] == 1 else "s")
            choices.append((f"{title}  ·  {state}", row["id"]))
        return choices

    def files_html(self, user: str, session_id: str | None) -> str:
        if session_id is None:
            return "<p class='weaver-muted'>Files the code saves appear here.</p>"
        shown = self.files(user, session_id)
        parts = []
        artifacts = shown.listing("artifacts")
        if artifacts:
            parts.append("<b>Artifacts</b><ul>")
            for info in artifacts:
                url = html.escape(shown.url("artifacts", info.path, download=True))
                parts.append(f"<li><a href='{url}' download>{html.escape(info.path)}</a> <span class='weaver-muted'>{_size(info.size)}</span></li>")
            parts.append("</ul>")
        waiting = server_files.staged(shown.root)
        if waiting:
            parts.append("<b>Uploaded, for your next message</b><ul>")
            parts += [f"<li>{html.escape(i.path)} <span class='weaver-muted'>{_size(i.size)}</span></li>" for i in waiting]
            parts.append("</ul>")
        exports = " · ".join(
            f"<a href='{html.escape(shown.export_url(fmt))}' download>{label}</a>"
            for fmt, label in (("ipynb", "Notebook"), ("markdown", "Markdown"), ("json", "JSON"))
        )
        parts.append(f"<b>Export the session</b><p>{exports}</p>")
        return "".join(parts)

    # ---- the whole view of a session --------------------------------------------------

    def view(
        self, user: str, session_id: str | None, transcript: Transcript | None, shown: str | None,
        files: SessionFiles | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """Every output's value for ``transcript`` of ``session_id``; ``shown`` is the id of the
        approval already in the panel (its text is not replaced while the person edits it);
        ``files`` the session's, kept while a round is watched so each table is read once."""
        files = files or (self.files(user, session_id) if session_id else None)
        current = transcript.current if transcript else None
        running = transcript.running if transcript else None
        pending = running.pending_approval() if running else None
        tables = render.tables(transcript, files) if transcript and files else []
        out: dict[str, Any] = {
            "chat": render.messages(transcript, files) if transcript else [],
            "plan": render.plan_markdown(current),
            "cost": render.cost_markdown(transcript.usage) if transcript else render.cost_markdown(render.Usage()),
            "files": self.files_html(user, session_id),
            "round": running.id if running else None,
            "busy": running is not None,
            "tables": tables,
        }
        if pending is None:
            out["approval"] = None
        else:
            out["approval"] = pending if pending.id != shown else "same"
        return out

    # ---- building it ------------------------------------------------------------------

    def build(self) -> gr.Blocks:
        with gr.Blocks(title="Weaver", fill_height=True) as blocks:
            session = gr.State(None)
            round_id = gr.State(None)
            approval_id = gr.State(None)
            with gr.Sidebar(open=True, width=300):
                gr.Markdown("## Weaver", elem_id="weaver-brand")
                new = gr.Button("New session", variant="primary", elem_id="weaver-new")
                sessions = gr.Radio(label="Your sessions", choices=[], elem_id="weaver-sessions")
                who = gr.Markdown(elem_classes="weaver-muted")
                logout = gr.Button("Sign out", size="sm", variant="secondary", elem_id="weaver-logout")
            with gr.Row(equal_height=False):
                with gr.Column(scale=3):
                    chat = gr.Chatbot(
                        show_label=False, elem_id="weaver-chat", height="70vh", sanitize_html=True,
                        placeholder="### Ask a question about your data\nUpload a CSV or describe what you want; "
                        "the plan, the code and its results appear here as they happen.",
                        group_consecutive_messages=False, layout="panel", buttons=["copy", "copy_all"],
                    )  # fmt: skip
                    with gr.Group(visible=False, elem_id="weaver-approval") as approval_box:
                        approval_title = gr.Markdown()
                        approval_content = gr.Code(language="python", interactive=True, label="Edit before approving, if you like", lines=6)
                        reason = gr.Textbox(label="Reason (the model is told why you rejected it)", lines=1, elem_id="weaver-reason")
                        with gr.Row():
                            approve = gr.Button("Approve", variant="primary", elem_id="weaver-approve")
                            approve_edited = gr.Button("Approve my edit", elem_id="weaver-approve-edited")
                            reject = gr.Button("Reject", variant="stop", elem_id="weaver-reject")
                    with gr.Row(equal_height=True):
                        box = gr.Textbox(
                            placeholder="Ask about your data…", show_label=False, scale=8, lines=1, max_lines=8,
                            elem_id="weaver-input", autofocus=True,
                        )  # fmt: skip
                        send = gr.Button("Send", variant="primary", scale=1, min_width=80, elem_id="weaver-send")
                        cancel = gr.Button("Cancel", variant="stop", scale=1, min_width=80, interactive=False, elem_id="weaver-cancel")
                    upload = gr.UploadButton("Upload data files", file_count="multiple", size="sm", elem_id="weaver-upload")
                with gr.Column(scale=2, min_width=320):
                    cost = gr.Markdown(render.cost_markdown(render.Usage()), elem_id="weaver-cost")
                    with gr.Accordion("Plan", open=True):
                        plan = gr.Markdown(render.plan_markdown(None), elem_id="weaver-plan")
                    with gr.Accordion("Tables", open=True):
                        no_tables = gr.Markdown("Tables the code shows or saves appear here.", elem_classes="weaver-muted")
                        table_pick = gr.Dropdown(label="Table", choices=[], elem_id="weaver-table-pick", visible=False)
                        table = gr.Dataframe(interactive=False, elem_id="weaver-table", max_height=360, wrap=True, visible=False)
                    with gr.Accordion("Files", open=True):
                        files = gr.HTML(self.files_html("", None), elem_id="weaver-files")

            shown_outputs = [chat, plan, cost, files, round_id, send, cancel, no_tables, table_pick, table,
                             approval_box, approval_title, approval_content, approval_id]  # fmt: skip

            def updates(view: dict[str, Any]) -> dict[Any, Any]:
                out: dict[Any, Any] = {
                    chat: view["chat"], plan: view["plan"], cost: view["cost"], files: view["files"],
                    round_id: view["round"], send: gr.update(interactive=not view["busy"]),
                    cancel: gr.update(interactive=view["busy"]),
                }  # fmt: skip
                named = view["tables"]
                out[no_tables] = gr.update(visible=not named)
                if named:
                    latest = named[-1]
                    out[table_pick] = gr.update(choices=[t.label for t in named], value=latest.label, visible=True)
                    out[table] = gr.update(value=_frame(latest.table), visible=True)
                else:
                    out[table_pick] = gr.update(choices=[], value=None, visible=False)
                    out[table] = gr.update(value=None, visible=False)
                pending = view["approval"]
                if pending is None:
                    out[approval_box] = gr.update(visible=False)
                    out[approval_id] = None
                elif pending != "same":
                    kind = pending.request.get("kind")
                    reasons = "".join(f"\n- {r}" for r in pending.request.get("reasons", ()))
                    what = "the plan before any step runs" if kind == "plan" else "this code before it runs"
                    out[approval_box] = gr.update(visible=True)
                    out[approval_title] = f"### Your approval is needed: {what}{reasons}"
                    out[approval_content] = gr.update(
                        value=str(pending.request.get("content", "")), language="python" if kind != "plan" else "markdown"
                    )
                    out[approval_id] = pending.id
                return out

            async def watch(
                user: str, session_id: str, transcript: Transcript, live: Watch | None
            ) -> AsyncIterator[dict[Any, Any]]:
                """The session as ``transcript`` has it, then as ``live`` brings its round on."""
                files_of = self.files(user, session_id)
                view = self.view(user, session_id, transcript, None, files_of)
                yield updates(view)
                shown = view["approval"].id if view["approval"] is not None else None
                if live is None:
                    return
                async for batch in live.batches():
                    if batch.resync:
                        transcript = self.transcript(user, session_id)
                    for number, event in batch.events:
                        if number is None or number > transcript.durable:
                            transcript.add(event)
                    if batch.ended and transcript.running:
                        transcript = self.transcript(user, session_id)  # the stream ended early: the log says how
                    view = self.view(user, session_id, transcript, shown, files_of)
                    if view["approval"] not in (None, "same"):
                        shown = view["approval"].id
                    elif view["approval"] is None:
                        shown = None
                    yield updates(view)

            async def on_load(request: gr.Request) -> dict[Any, Any]:
                user = _user(request)
                return {sessions: gr.update(choices=self.session_choices(user), value=None), who: f"Signed in as **{user}**"}

            async def on_open(session_id: str | None, request: gr.Request) -> AsyncIterator[dict[Any, Any]]:
                user = _user(request)
                if not session_id:
                    return
                running = self.service.record(user, session_id).running
                transcript = self.transcript(user, session_id)
                if running is None:
                    async for out in watch(user, session_id, transcript, None):
                        yield {**out, session: session_id}
                    return
                async with Watch(self.service, user, session_id, transcript.durable, running) as live:
                    async for out in watch(user, session_id, transcript, live):
                        yield {**out, session: session_id}

            async def on_new(request: gr.Request) -> dict[Any, Any]:
                user = _user(request)
                session_id = await self.service.create(user)
                view = self.view(user, session_id, Transcript(), None)
                return {**updates(view), session: session_id,
                        sessions: gr.update(choices=self.session_choices(user), value=session_id)}  # fmt: skip

            async def on_send(text: str, session_id: str | None, request: gr.Request) -> AsyncIterator[dict[Any, Any]]:
                user = _user(request)
                text = text.strip()
                if not text:
                    return
                if session_id is None:
                    session_id = await self.service.create(user)
                transcript = self.transcript(user, session_id)
                async with Watch(self.service, user, session_id, transcript.durable) as live:
                    try:
                        await self.service.send(user, session_id, text, None)
                    except WeaverError as exc:
                        raise gr.Error(str(exc)) from None
                    first = True
                    async for out in watch(user, session_id, transcript, live):
                        if first:  # the session is listed with its new round
                            out = {**out, box: "", session: session_id,
                                   sessions: gr.update(choices=self.session_choices(user), value=session_id)}  # fmt: skip
                            first = False
                        yield out
                yield {sessions: gr.update(choices=self.session_choices(user), value=session_id)}

            async def on_cancel(session_id: str | None, running: str | None, request: gr.Request) -> None:
                user = _user(request)
                if session_id and running:
                    self.service.cancel(user, session_id, running)

            def answer(decision: Decision) -> Any:
                async def on_answer(
                    session_id: str | None, request_id: str | None, content: str, why: str, request: gr.Request
                ) -> dict[Any, Any]:
                    user = _user(request)
                    if not session_id or not request_id:
                        return {approval_box: gr.update(visible=False)}
                    if decision is Decision.rejected and not why.strip():
                        why = "The user rejected it."
                    edited = content if decision is Decision.edited else None
                    if not self.service.answer(user, session_id, request_id, decision, edited, why.strip()):
                        gr.Warning("That approval is no longer waiting (it was answered or timed out).")
                    return {approval_box: gr.update(visible=False), reason: ""}

                return on_answer

            async def on_upload(paths: list[str] | None, session_id: str | None, request: gr.Request) -> dict[Any, Any]:
                user = _user(request)
                if not paths:
                    return {}
                out: dict[Any, Any] = {}
                if session_id is None:
                    session_id = await self.service.create(user)
                    out[sessions] = gr.update(choices=self.session_choices(user), value=session_id)
                    out[session] = session_id
                for path in paths:
                    try:
                        await self.service.upload(user, session_id, Path(path).name, _chunks(Path(path)))
                    except WeaverError as exc:
                        gr.Warning(f"{Path(path).name}: {exc}")
                    finally:
                        Path(path).unlink(missing_ok=True)
                out[files] = self.files_html(user, session_id)
                return out

            async def on_table(label: str | None, session_id: str | None, request: gr.Request) -> Any:
                user = _user(request)
                if not label or not session_id:
                    return None
                named = render.tables(self.transcript(user, session_id), self.files(user, session_id))
                found = next((t for t in named if t.label == label), None)
                return _frame(found.table) if found else None

            blocks.load(on_load, outputs=[sessions, who])
            opening = sessions.input(
                on_open, [sessions], [*shown_outputs, session], concurrency_limit=None, show_progress="hidden"
            )
            sending = gr.on(
                [send.click, box.submit], on_send, [box, session], [*shown_outputs, session, box, sessions],
                concurrency_limit=None, show_progress="hidden",
            )  # fmt: skip
            sessions.input(None, None, None, cancels=[sending])
            new.click(on_new, None, [*shown_outputs, session, sessions], cancels=[sending, opening])
            cancel.click(on_cancel, [session, round_id], None, concurrency_limit=None)
            for button, decision in ((approve, Decision.approved), (approve_edited, Decision.edited), (reject, Decision.rejected)):
                button.click(answer(decision), [session, approval_id, approval_content, reason], [approval_box, reason], concurrency_limit=None)
            upload.upload(on_upload, [upload, session], [files, session, sessions], concurrency_limit=None)
            table_pick.input(on_table, [table_pick, session], [table], concurrency_limit=None)
            logout.click(None, js="async () => { await fetch('../v1/logout', {method: 'POST'}); window.location.href = 'login'; }")
        return blocks


def _user(request: gr.Request) -> str:
    user = getattr(request, "username", None)
    if not user:
        raise gr.Error("Your sign-in has expired: reload the page to sign in again.")
    return str(user)


async def _chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def _frame(table: render.Table) -> dict[str, Any]:
    """A table as ``gr.Dataframe`` takes it: unique, non-empty headers (an unnamed index is ``#``)."""
    headers: list[str] = []
    for index, name in enumerate(table.header):
        name = name.strip() or ("#" if index == 0 else f"column {index + 1}")
        while name in headers:
            name += "′"
        headers.append(name)
    width = len(headers)
    return {"headers": headers, "data": [list((*row, *[""] * width)[:width]) for row in table.rows]}


def _size(size: int) -> str:
    for unit in ("bytes", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000  # type: ignore[assignment]
    return ""
