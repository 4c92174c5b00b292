"""A session as a person follows it: its events folded into rounds, steps and code cells.

One fold serves a session read back from its log (durable events only) and a session
watched live (with the streaming deltas, the kernel's output and the status lines in
between), so a finished round looks the same whether it was watched or opened later.

- A **round** is one request: its plan (the latest one any role attached, with the
  current step), its steps, the approvals asked for, the answer, how it ended.
- A **step** is one post of a role that does the work (the CodeInterpreter): what it was
  asked, its thought, and its code cells. A post that carries a plan is the Planner's and
  updates the round's plan instead.
- A **cell** is one piece of code: as the model streams it, then as it ran (the
  ``execution`` event's result, the authority for what ran and what it printed). Code that
  never ran (refused by a verifier, rejected by the user) is a cell with a note.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from weaver.events import Event, EventType
from weaver.model import USER, Attachment, AttachmentType, Post, Usage
from weaver.serde import from_data

RUNNING = "running"


@attrs.define
class Cell:
    """One piece of code and what became of it."""

    code: str = ""
    output: list[tuple[str, str]] = attrs.field(factory=list)
    """``(stream, text)`` chunks as the kernel printed them, while the code runs."""
    result: Mapping[str, Any] | None = None
    """The execution result (:class:`weaver.execution.ExecutionResult` as JSON) once it ran."""
    note: str = ""
    """Why the code did not run, when it did not."""

    @property
    def running(self) -> bool:
        return self.result is None and not self.note

    def printed(self, stream: str) -> str:
        """What the code wrote on ``stream``: the result's once it ran, else what streamed so far."""
        if self.result is not None:
            return str(self.result.get(stream) or "")
        return "".join(text for name, text in self.output if name == stream)


@attrs.define
class Step:
    """One post of a working role."""

    post_id: str
    role: str
    request: str = ""
    """What it was asked (the message of the post before it)."""
    plan_step: str | None = None
    """The plan's current step when it started."""
    thought: str = ""
    reply: str = ""
    """Its answer in words (a text reply, or the post's message once it ends)."""
    cells: list[Cell] = attrs.field(factory=list)
    done: bool = False
    status: str = ""


@attrs.define
class Approval:
    """A request for a person's approval and, once given, the answer."""

    request: Mapping[str, Any]
    answer: Mapping[str, Any] | None = None
    after_step: int = 0
    """How many steps of the round had ended when it was asked: where it goes in the story."""

    @property
    def id(self) -> str:
        return str(self.request.get("id", ""))


@attrs.define
class RoundView:
    """One request and everything that happened for it."""

    id: str | None
    query: str
    state: str = RUNNING
    reason: str | None = None
    files: list[str] = attrs.field(factory=list)
    plan: str = ""
    plan_steps: list[Mapping[str, Any]] = attrs.field(factory=list)
    """The plan's steps as the Planner parsed them (``number``, ``text``, ``status``), once complete."""
    current_step: str | None = None
    steps: list[Step] = attrs.field(factory=list)
    approvals: list[Approval] = attrs.field(factory=list)
    answer: str = ""
    answering: str = ""
    """The answer to the user while it streams."""
    error: str = ""
    status: str = ""
    usage: Usage = Usage()

    @property
    def running(self) -> bool:
        return self.state == RUNNING

    def pending_approval(self) -> Approval | None:
        """The approval the round waits for, if it waits for one."""
        if not self.running:
            return None
        return next((a for a in self.approvals if a.answer is None), None)


@attrs.define
class _LivePost:
    """What has streamed of a post that has not ended."""

    send_from: str
    send_to: str | None = None
    kinds: dict[str, str] = attrs.field(factory=dict)
    """Attachment id → type."""
    texts: dict[str, str] = attrs.field(factory=dict)
    """Attachment id → text so far."""
    message: str = ""


class Transcript:
    """The fold: :meth:`add` each event of a session in order; read :attr:`rounds`."""

    def __init__(self, events: Iterable[Event] = ()) -> None:
        self.rounds: list[RoundView] = []
        self.usage = Usage()
        self.durable = 0
        """How many durable events were folded: the id of the last one in the session's log."""
        self.variables: tuple[Mapping[str, Any], ...] = ()
        """The kernel's variables after the latest execution."""
        self._live: dict[str, _LivePost] = {}
        self._results: list[Mapping[str, Any]] = []
        """Executions of the round since the last working post ended: its cells."""
        self._request = ""
        """What the last plan post asked, and of whom: the next step's request."""
        self._recipient = ""
        for event in events:
            self.add(event)

    @property
    def current(self) -> RoundView | None:
        return self.rounds[-1] if self.rounds else None

    @property
    def running(self) -> RoundView | None:
        current = self.current
        return current if current is not None and current.running else None

    def add(self, event: Event) -> None:
        """Fold one event in (events of another session are the caller's mistake, not checked)."""
        if event.durable:
            self.durable += 1
        handler = _HANDLERS.get(event.type)
        if handler is not None:
            handler(self, event)

    # ---- rounds ---------------------------------------------------------------------

    def _round_start(self, event: Event) -> None:
        self.rounds.append(RoundView(event.round_id, str(event.data.get("user_query", ""))))
        self._live.clear()
        self._results.clear()
        self._request = self._recipient = ""

    def _round_end(self, event: Event) -> None:
        view = self._round(event)
        data = event.data.get("round", {})
        view.state = str(data.get("state", "finished"))
        view.reason = data.get("reason")
        view.answer = str(data.get("answer") or view.answer)
        view.answering = ""
        view.status = ""
        if isinstance(data.get("usage"), Mapping):
            view.usage = from_data(data["usage"], Usage)
        if self._results and all(step.done for step in view.steps):
            # Executions of a post the round's end cut short: in the log they belong to no post.
            cells = [Cell(str(result.get("code", "")), result=result) for result in self._results]
            view.steps.append(Step("", self._recipient, self._request, view.current_step, cells=cells))
        self._results.clear()
        for step in view.steps:
            step.done = True
            for cell in step.cells:
                if cell.running:
                    cell.note = "stopped before it ran" if not cell.output else "stopped while it ran"
        self._live.clear()

    def _round(self, event: Event) -> RoundView:
        """The round ``event`` belongs to; one is made up for an event whose start was not seen."""
        current = self.current
        if current is None or (event.round_id is not None and current.id != event.round_id):
            current = RoundView(event.round_id, "")
            self.rounds.append(current)
        return current

    # ---- posts ----------------------------------------------------------------------

    def _post_start(self, event: Event) -> None:
        self._live[event.post_id or ""] = _LivePost(str(event.data.get("send_from") or ""), event.data.get("send_to"))

    def _live_post(self, event: Event) -> _LivePost:
        return self._live.setdefault(event.post_id or "", _LivePost(""))

    def _send_to(self, event: Event) -> None:
        self._live_post(event).send_to = event.data.get("send_to")

    def _attachment_delta(self, event: Event) -> None:
        post = self._live_post(event)
        key = str(event.data.get("attachment_id", ""))
        kind = post.kinds.setdefault(key, str(event.data.get("type", "")))
        post.texts[key] = post.texts.get(key, "") + str(event.data.get("delta", ""))
        self._show_part(event, post, kind, post.texts[key], None)

    def _attachment(self, event: Event) -> None:
        post = self._live_post(event)
        attachment = from_data(event.data["attachment"], Attachment)
        # A core type is an AttachmentType member, an extension's type a plain name.
        kind = attachment.type.value if isinstance(attachment.type, AttachmentType) else attachment.type
        post.kinds[attachment.id] = kind
        post.texts[attachment.id] = attachment.content
        self._show_part(event, post, kind, attachment.content, attachment.extra)

    def _message_delta(self, event: Event) -> None:
        post = self._live_post(event)
        post.message += str(event.data.get("delta", ""))
        if post.send_to == USER:
            self._round(event).answering = post.message

    def _show_part(self, event: Event, post: _LivePost, kind: str, text: str, extra: Any) -> None:
        """A part of a live post, as far as it has streamed (``extra`` once complete)."""
        view = self._round(event)
        if kind == AttachmentType.plan:
            view.plan = text
            if isinstance(extra, Mapping):
                view.plan_steps = list(extra.get("steps", ()))
        elif kind == AttachmentType.current_plan_step:
            view.current_step = text.strip() or None
        elif kind in (AttachmentType.reply_content, AttachmentType.thought, AttachmentType.reply_type):
            if kind == AttachmentType.reply_type and text.strip() != "python":
                return
            step = self._live_step(view, event.post_id or "", post)
            if kind == AttachmentType.thought:
                step.thought = text
            elif kind == AttachmentType.reply_content and self._writes_code(post):
                if not step.cells or not step.cells[-1].running:
                    step.cells.append(Cell())
                step.cells[-1].code = text

    @staticmethod
    def _writes_code(post: _LivePost) -> bool:
        kinds = {post.kinds[key]: post.texts.get(key, "") for key in post.kinds}
        return kinds.get(AttachmentType.reply_type.value, "python").strip() == "python"

    def _live_step(self, view: RoundView, post_id: str, post: _LivePost) -> Step:
        for step in reversed(view.steps):
            if step.post_id == post_id:
                return step
        step = Step(post_id, post.send_from or self._recipient, self._request, view.current_step)
        view.steps.append(step)
        return step

    def _post_end(self, event: Event) -> None:
        post = from_data(event.data["post"], Post)
        view = self._round(event)
        self._live.pop(post.id, None)
        if post.send_from == USER:
            view.files = [a.content for a in post.attachments if a.type is AttachmentType.file]
            self._request, self._recipient = post.message, post.send_to
            return
        plan = post.attachment(AttachmentType.plan)
        if plan is not None:
            view.plan = plan.content
            view.plan_steps = list(plan.extra.get("steps", ())) if isinstance(plan.extra, Mapping) else []
            step = post.attachment(AttachmentType.current_plan_step)
            view.current_step = (step.content.strip() or None) if step is not None else view.current_step
        else:
            self._end_step(view, post)
        if post.send_to == USER:
            view.answer = post.message
            view.answering = ""
        else:
            self._request, self._recipient = post.message, post.send_to

    def _end_step(self, view: RoundView, post: Post) -> None:
        """A working post ended: its cells are the executions it made, and code it never ran."""
        live = next((s for s in view.steps if s.post_id == post.id), None)
        step = live or Step(post.id, post.send_from, self._request, view.current_step)
        if live is None:
            view.steps.append(step)
        step.done = True
        step.status = ""
        thought = post.attachment(AttachmentType.thought)
        step.thought = thought.content if thought is not None else step.thought
        cells = [Cell(str(result.get("code", "")), result=result) for result in self._results]
        self._results.clear()
        reply_type = post.attachment(AttachmentType.reply_type)
        content = post.attachment(AttachmentType.reply_content)
        if reply_type is not None and reply_type.content.strip() != "python":
            step.reply = content.content if content is not None else post.message
        elif content is not None and (not cells or cells[-1].code != content.content):
            error = post.attachment(AttachmentType.code_error)
            feedback = post.attachment(AttachmentType.execution_result)
            note = error.content if error is not None else feedback.content if feedback is not None else "not run"
            cells.append(Cell(content.content, note=note))
        step.cells = cells

    # ---- what runs ------------------------------------------------------------------

    def _output(self, event: Event) -> None:
        view = self._round(event)
        role = str(event.data.get("role", ""))
        for step in reversed(view.steps):
            if not step.done and (step.role == role or not role) and step.cells and step.cells[-1].running:
                step.cells[-1].output.append((str(event.data.get("stream", "stdout")), str(event.data.get("text", ""))))
                return

    def _execution(self, event: Event) -> None:
        result = event.data.get("result")
        if not isinstance(result, Mapping):
            return
        self._results.append(result)
        self.variables = tuple(v for v in result.get("variables", ()) if isinstance(v, Mapping))
        view = self._round(event)
        for step in reversed(view.steps):
            if not step.done:
                cell = step.cells[-1] if step.cells and step.cells[-1].running else None
                if cell is None:
                    cell = Cell()
                    step.cells.append(cell)
                cell.code = str(result.get("code", cell.code))
                cell.result = result
                return

    def _status(self, event: Event) -> None:
        view = self._round(event)
        role, message = event.data.get("role"), str(event.data.get("message", ""))
        view.status = f"{role}: {message}" if role else message
        for step in reversed(view.steps):
            if not step.done and step.role == role:
                step.status = message
                break

    def _error(self, event: Event) -> None:
        self._round(event).error = str(event.data.get("message", ""))

    def _llm_call(self, event: Event) -> None:
        usage = event.data.get("usage")
        if isinstance(usage, Mapping):
            self.usage = self.usage + from_data(usage, Usage)

    # ---- approvals ------------------------------------------------------------------

    def _approval_request(self, event: Event) -> None:
        request = event.data.get("request")
        if isinstance(request, Mapping):
            view = self._round(event)
            ended = sum(1 for step in view.steps if step.done)
            view.approvals.append(Approval(request, after_step=ended))

    def _approval(self, event: Event) -> None:
        answer = event.data.get("answer")
        if not isinstance(answer, Mapping):
            return
        for view in reversed(self.rounds):
            for approval in view.approvals:
                if approval.id == answer.get("request_id"):
                    approval.answer = answer
                    return


_HANDLERS = {
    EventType.round_start: Transcript._round_start,
    EventType.round_end: Transcript._round_end,
    EventType.post_start: Transcript._post_start,
    EventType.send_to: Transcript._send_to,
    EventType.attachment_delta: Transcript._attachment_delta,
    EventType.attachment: Transcript._attachment,
    EventType.message_delta: Transcript._message_delta,
    EventType.post_end: Transcript._post_end,
    EventType.output: Transcript._output,
    EventType.execution: Transcript._execution,
    EventType.status: Transcript._status,
    EventType.error: Transcript._error,
    EventType.llm_call: Transcript._llm_call,
    EventType.approval_request: Transcript._approval_request,
    EventType.approval: Transcript._approval,
}
