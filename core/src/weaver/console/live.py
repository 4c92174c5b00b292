"""The live view: a session's event stream, rendered as it arrives.

Finished parts of a post (a plan, a thought, code, an execution result) are printed for
good the moment they are complete. On a terminal a live region below them shows the part
still streaming and a status line (``Planner: calling the model · 2.1 s``); elsewhere
(a pipe, a file, ``TERM=dumb``) only the finished parts are printed, so logs stay clean.

The view is an event subscriber: ``app.subscribe(view)``. It is called on Weaver's event
loop thread, so it only formats and prints; a lock keeps the live region consistent with
the refresh thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, ClassVar

import attrs
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text

from weaver.console import blocks
from weaver.events import Event, EventType
from weaver.model import USER, Attachment, AttachmentType, Post, Round, Usage
from weaver.serde import from_data

if TYPE_CHECKING:
    from weaver.client import Client
    from weaver.engine import App

STREAM_TAIL_LINES = 12
"""How many lines of a streaming part the live region shows."""
PIPE_WIDTH = 4096


class _Console(Console):
    def on_broken_pipe(self) -> None:
        # rich's default raises SystemExit, which on Weaver's loop thread would end the loop
        # and hang the caller; output piped into `head` simply stops instead.
        self.quiet = True


def make_console(file: IO[str] | None = None, *, stderr: bool = False) -> Console:
    """A console for the CLI. Colors and the live region appear only on a terminal;
    ``NO_COLOR`` (any non-empty value) turns colors off, ``TERM=dumb`` the live region."""
    console = _Console(file=file, stderr=stderr, highlight=False, emoji=False)
    if not console.is_terminal:
        # A pipe or a file has no width: long lines (paths, code, ids) stay whole.
        console.soft_wrap = True
        console.width = PIPE_WIDTH
    return console


@attrs.define
class _PostState:
    """What the view knows of a post still being written."""

    send_from: str
    printed: set[str] = attrs.field(factory=set)
    """Ids of attachments already printed."""
    reply_type: str | None = None
    plan: Attachment | None = None
    """A plan waiting for its current step, which the model writes after it."""
    streams: dict[str, tuple[str, list[str]]] = attrs.field(factory=dict)
    """Streaming attachments by id: their type and the text so far."""
    open: str | None = None
    """The attachment streaming now; it is complete once another part starts."""
    message: list[str] = attrs.field(factory=list)
    printed_output: bool = False
    """Running code's output was printed as it came, so its result need not repeat it."""


class LiveView:
    """Renders events of one session (or all, with ``session_id=None``) on ``console``.

    ``live`` forces the live region on or off; by default it is on for a terminal.
    """

    def __init__(self, console: Console, *, session_id: str | None = None, live: bool | None = None) -> None:
        self.console = console
        self.session_id = session_id
        self.live = (console.is_terminal and not console.is_dumb_terminal) if live is None else live
        self.usage = Usage()
        """What the LLM calls of the current round have cost so far."""
        self._lock = threading.RLock()
        self._posts: dict[str, _PostState] = {}
        self._stream: tuple[str, str, str] | None = None
        self._status = ""
        self._status_since = time.monotonic()
        self._round_since = time.monotonic()
        self._region: Live | None = None
        self._spinner = Spinner("dots", style="cyan")

    def attach(self, app: App | Client) -> Callable[[], None]:
        """Subscribe to ``app``'s events (a local App's, or a service client's); returns the
        function that undoes it.

        While attached, log lines go through the view (above its live region, in the
        ``warning: ...`` shape) instead of straight to stderr, where they would land inside
        the status line and garble it.
        """
        unsubscribe = app.subscribe(self)
        root = logging.getLogger()
        replaced = list(root.handlers)
        handler = _ViewLogHandler(self)
        for old in replaced:
            root.removeHandler(old)
        root.addHandler(handler)

        def detach() -> None:
            unsubscribe()
            root.removeHandler(handler)
            for old in replaced:
                root.addHandler(old)

        return detach

    def log_line(self, line: str) -> None:
        """Print one log line above the live region."""
        with self._lock:
            self._print(Text(line, style="yellow"))

    def close(self) -> None:
        """Remove the live region (it is also removed when a round ends)."""
        with self._lock:
            self._stop_region()

    # ---- dispatch -------------------------------------------------------------------

    def __call__(self, event: Event) -> None:
        if self.session_id is not None and event.session_id != self.session_id:
            return
        handler = self._HANDLERS.get(event.type)
        if handler is not None:
            with self._lock:
                handler(self, event)

    def _round_start(self, event: Event) -> None:
        self._posts.clear()
        self.usage = Usage()
        self._round_since = time.monotonic()
        self._set_status("starting")
        self._stop_region()
        if self.live:
            self._region = Live(
                console=self.console,
                get_renderable=self._region_view,
                refresh_per_second=8,
                transient=True,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._region.start()

    def _round_end(self, event: Event) -> None:
        # A cancelled or failed round leaves posts unfinished: keep what they had on screen.
        for state in self._posts.values():
            self._flush(state)
            if state.plan is not None:
                self._print_plan(state, None)
        self._posts.clear()
        self._stop_region()
        self._print(blocks.round_summary(from_data(event.data["round"], Round)))

    def _post_start(self, event: Event) -> None:
        send_from = event.data.get("send_from") or "?"
        self._posts[event.post_id or ""] = _PostState(send_from)
        self._print(blocks.post_header(send_from))

    def _attachment_delta(self, event: Event) -> None:
        state = self._posts.get(event.post_id or "")
        if state is None:
            return
        key = event.data["attachment_id"]
        if state.open != key:
            self._flush(state)
            state.open = key
        kind, parts = state.streams.setdefault(key, (event.data.get("type", ""), []))
        parts.append(event.data.get("delta", ""))
        self._stream = (key, kind, "".join(parts))

    def _message_delta(self, event: Event) -> None:
        state = self._posts.get(event.post_id or "")
        if state is None:
            return
        self._flush(state)
        state.message.append(event.data.get("delta", ""))
        self._stream = ("message", "message", "".join(state.message))

    def _attachment(self, event: Event) -> None:
        state = self._posts.get(event.post_id or "")
        if state is None:
            return
        attachment = from_data(event.data["attachment"], Attachment)
        if state.open == attachment.id:
            state.open = None
            self._clear_stream(attachment.id)
        if attachment.id not in state.printed:
            self._show(state, attachment)

    def _output(self, event: Event) -> None:
        """What running code prints, printed as it comes, under the post of the role running it."""
        role = event.data.get("role")
        state = next((s for s in reversed(self._posts.values()) if s.send_from == role), None)
        if state is None and self._posts:
            state = next(reversed(self._posts.values()))
        if state is not None:
            self._flush(state)
            state.printed_output = True
        text = str(event.data.get("text", ""))
        style = "yellow" if event.data.get("stream") == "stderr" else "dim"
        self._print(blocks.indent(Text(text.rstrip("\n"), style=style)))

    def _post_end(self, event: Event) -> None:
        post = from_data(event.data["post"], Post)
        if post.send_from == USER:
            return
        state = self._posts.pop(post.id, None)
        if state is None:
            self._print(blocks.post_header(post.send_from))
            state = _PostState(post.send_from)
        self._flush(state)
        self._clear_stream("message")
        for block in blocks.post_blocks(post, skip=state.printed):
            self._print(blocks.indent(block))

    def _status_event(self, event: Event) -> None:
        # A new activity (executing code, calling the model again) means the parts streamed
        # so far are complete.
        for state in self._posts.values():
            self._flush(state)
        role = event.data.get("role")
        message = event.data.get("message", "")
        self._set_status(f"{role}: {message}" if role else message)

    def _llm_call(self, event: Event) -> None:
        self.usage = self.usage + Usage(**event.data.get("usage", {}))

    def _error(self, event: Event) -> None:
        self._print(Text(f"error: {event.data.get('message', '')}", style="bold red"))

    _HANDLERS: ClassVar[dict[EventType, Callable[[LiveView, Event], None]]] = {
        EventType.round_start: _round_start,
        EventType.round_end: _round_end,
        EventType.post_start: _post_start,
        EventType.attachment_delta: _attachment_delta,
        EventType.message_delta: _message_delta,
        EventType.attachment: _attachment,
        EventType.output: _output,
        EventType.post_end: _post_end,
        EventType.status: _status_event,
        EventType.llm_call: _llm_call,
        EventType.error: _error,
    }

    # ---- output ---------------------------------------------------------------------

    def _print(self, renderable: RenderableType) -> None:
        self.console.print(renderable)

    def _show(self, state: _PostState, attachment: Attachment) -> None:
        """Print a complete attachment (the plan waits for its current step)."""
        state.printed.add(attachment.id)
        kind = attachment.type
        if kind is AttachmentType.reply_type:
            state.reply_type = attachment.content.strip()
        elif kind in (AttachmentType.invalid_response, AttachmentType.revise_message):
            state.message.clear()  # the rejected attempt's message is not the post's
        if kind is AttachmentType.plan:
            state.plan = attachment
            state.printed.discard(attachment.id)
        elif kind is AttachmentType.current_plan_step and state.plan is not None:
            self._print_plan(state, attachment.content)
        else:
            block = blocks.attachment_block(attachment, state.reply_type, printed_output=state.printed_output)
            if block is not None:
                self._print(blocks.indent(block))

    def _flush(self, state: _PostState) -> None:
        """Print the attachment that was streaming, now that it is complete."""
        key, state.open = state.open, None
        if key is None or key in state.printed:
            return
        kind, parts = state.streams[key]
        self._clear_stream(key)
        self._show(state, Attachment(kind, "".join(parts), id=key))

    def _clear_stream(self, key: str) -> None:
        if self._stream is not None and self._stream[0] == key:
            self._stream = None

    def _print_plan(self, state: _PostState, current_step: str | None) -> None:
        assert state.plan is not None
        self._print(blocks.indent(blocks.plan_block(state.plan.content, current_step)))
        state.printed.add(state.plan.id)
        state.plan = None

    def _set_status(self, message: str) -> None:
        self._status = message
        self._status_since = time.monotonic()

    def _stop_region(self) -> None:
        if self._region is not None:
            self._region.stop()
            self._region = None
        self._stream = None

    def _region_view(self) -> RenderableType:
        """The live region: the tail of what is streaming, then the status line.

        Called by the refresh thread while it holds rich's lock, so it must not take
        ``self._lock`` (the loop thread takes them in the other order when it prints); it
        reads plain references, each replaced whole by the handlers.
        """
        now = time.monotonic()
        stream = self._stream
        parts: list[RenderableType] = []
        if stream is not None:
            _, kind, text = stream
            tail = "\n".join(text.splitlines()[-STREAM_TAIL_LINES:])
            body: RenderableType = (
                blocks.code_block(tail) if kind == AttachmentType.reply_content.value else Text(tail, style="dim")
            )
            parts.append(blocks.indent(Group(Text(f"{kind} …", style="dim"), body)))
        line = Text.assemble(
            (self._status or "working", "bold"),
            (f" · {now - self._status_since:.1f} s", "dim"),
            (f" · round {now - self._round_since:.0f} s", "dim"),
        )
        usage = self.usage
        if usage.llm_calls:
            line.append(f" · {usage.total_tokens:,} tokens", style="dim")
        self._spinner.update(text=line)
        parts.append(self._spinner)
        return Group(*parts)


class _ViewLogHandler(logging.Handler):
    """Log records as ``level: message`` lines printed by a live view."""

    def __init__(self, view: LiveView) -> None:
        super().__init__()  # the loggers' levels decide, as they did for the handler it stands in for
        self.view = view

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.view.log_line(f"{record.levelname.lower()}: {record.getMessage()}")
        except Exception:  # noqa: BLE001 - logging must never raise into the code that logged
            self.handleError(record)
