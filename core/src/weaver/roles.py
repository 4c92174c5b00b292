"""What a role is given when it is asked to reply, and how it builds a streamed post.

A role is any object with ``async def reply(self, ctx: RoleContext) -> Post``; the engine
creates one per session from its :class:`weaver.specs.RoleSpec` and calls ``reply`` each
time a post is sent to it. ``ctx`` carries the incoming post, the round so far, earlier
rounds, the configuration and the session's services; :meth:`RoleContext.new_post` gives a
:class:`PostBuilder` that reports the post to the event stream while it is being written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from weaver.events import Event, EventType
from weaver.model import Attachment, AttachmentType, Post, Round, new_id
from weaver.specs import VerifyMode

if TYPE_CHECKING:
    from weaver.coderun import CodeRun
    from weaver.config import Config
    from weaver.engine import Session
    from weaver.extensions import Hooks
    from weaver.guards import GuardContext
    from weaver.llm.service import RoleLLM
    from weaver.specs import RoleSpec


class Role(Protocol):
    async def reply(self, ctx: RoleContext) -> Post: ...


@attrs.frozen
class RoleContext:
    """Everything a role may use to answer one post."""

    spec: RoleSpec
    post: Post
    round: Round
    history: tuple[Round, ...]
    roles: Mapping[str, RoleSpec]
    """Enabled roles by wire alias, including this one."""
    config: Config
    hooks: Hooks
    session: Session

    @property
    def alias(self) -> str:
        return self.spec.alias

    def emit(self, type: EventType | str, /, post_id: str | None = None, **data: Any) -> None:
        """Report an event on this session and round."""
        self.session.emit(Event(type, self.session.id, self.round.id, post_id, data))

    def status(self, message: str) -> None:
        """Say what the role is doing now (``composing prompt``, ``calling the model``...)."""
        self.emit(EventType.status, message=message, role=self.alias)

    def guard_context(self, step: str | None = None) -> GuardContext:
        """What guards see of this reply; ``step`` defaults to the plan step the incoming post
        carries (``current_plan_step``), so a role's LLM calls and executions share one step."""
        if step is None:
            carried = self.post.attachment(AttachmentType.current_plan_step)
            step = carried.content.strip() or None if carried is not None else None
        return self.session.guard_context(self.alias, self.round, step)

    @property
    def llm(self) -> RoleLLM:
        """The LLM client for this reply, on this role's model alias (``[<role>] llm``, else the default)."""
        return self.session.app.llm.for_role(self)

    async def run_code(self, code: str, mode: VerifyMode = VerifyMode.normal, *, step: str | None = None) -> CodeRun:
        """Verify, guard, execute and describe ``code`` in this session's kernel (:mod:`weaver.coderun`)."""
        from weaver.coderun import run_code

        return await run_code(self, code, mode, step=step)

    def new_post(self, send_to: str | None = None) -> PostBuilder:
        """Start a post from this role; its parts stream to the event stream as they are added."""
        return PostBuilder(self, send_to)

    def workers(self) -> list[RoleSpec]:
        """The other enabled roles, in configuration order."""
        return [spec for alias, spec in self.roles.items() if alias != self.alias]


class AttachmentStream:
    """An attachment whose text arrives in pieces (a plan or code streaming from the model)."""

    def __init__(self, builder: PostBuilder, type: AttachmentType) -> None:
        self._builder = builder
        self.type = type
        self.id = new_id("atta")
        self.parts: list[str] = []

    def append(self, delta: str) -> None:
        if delta:
            self.parts.append(delta)
            self._builder._emit(EventType.attachment_delta, attachment_id=self.id, type=self.type.value, delta=delta)

    def close(self, content: str | None = None, extra: Any = None) -> Attachment:
        """Finish it; ``content`` replaces the streamed text when the final value is known."""
        text = "".join(self.parts) if content is None else content
        return self._builder.attach(self.type, text, extra, id=self.id)


class PostBuilder:
    """Builds one post, reporting each part as an event the moment it is known."""

    def __init__(self, ctx: RoleContext, send_to: str | None) -> None:
        self._ctx = ctx
        self.id = new_id("post")
        self.send_to = send_to
        self.message = ""
        self.attachments: list[Attachment] = []
        self._emit(EventType.post_start, send_from=ctx.alias, send_to=send_to)

    def _emit(self, type: EventType, /, **data: Any) -> None:
        self._ctx.emit(type, post_id=self.id, **data)

    def attach(self, type: AttachmentType | str, content: str, extra: Any = None, *, id: str | None = None) -> Attachment:
        item = Attachment(AttachmentType(type), content, extra, **({"id": id} if id else {}))
        self.attachments = [a for a in self.attachments if a.id != item.id] + [item]
        # Imported here: extensions import this module for RoleContext, and cattrs behind
        # weaver.serde would add tens of milliseconds to every `weaver --help`.
        from weaver.serde import to_data

        self._emit(EventType.attachment, attachment=to_data(item))
        return item

    def stream(self, type: AttachmentType | str) -> AttachmentStream:
        return AttachmentStream(self, AttachmentType(type))

    def message_delta(self, delta: str) -> None:
        if delta:
            self.message += delta
            self._emit(EventType.message_delta, delta=delta)

    def set_message(self, text: str) -> None:
        self.message = text

    def set_send_to(self, alias: str) -> None:
        self.send_to = alias
        self._emit(EventType.send_to, send_to=alias)

    def build(self) -> Post:
        if not self.send_to:
            raise ValueError("a post needs a recipient: call set_send_to() first")
        return Post(
            send_from=self._ctx.alias,
            send_to=self.send_to,
            message=self.message,
            attachments=tuple(self.attachments),
            id=self.id,
        )


EventCallback = Callable[[Event], None]
