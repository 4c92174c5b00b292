"""What a role is given when it is asked to reply, and how it builds a streamed post.

A role is any object with ``async def reply(self, ctx: RoleContext) -> Post``; the engine
creates one per session from its :class:`weaver.specs.RoleSpec` and calls ``reply`` each
time a post is sent to it. ``ctx`` holds facts (the incoming post, the round so far, earlier
rounds, the enabled roles, the :class:`weaver.context.HookContext`) and ports: ``llm`` (the
model, guarded and recorded), ``run_code`` (the verified pipeline, the only way a role runs
code), ``variables()`` (the kernel's inventory), ``files()`` (what code can open),
``plugins`` (what code can call),
``memory(budget)`` (earlier rounds as the compressors shrink them), ``emit`` and
:meth:`RoleContext.new_post`, a :class:`PostBuilder` that reports the post to the event
stream while it is being written. There is no session object to reach past them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from weaver.events import EventType
from weaver.model import Attachment, AttachmentType, Post, Round, attachment_type, new_id
from weaver.specs import VerifyMode

if TYPE_CHECKING:
    from weaver.approvals import ApprovalAnswer
    from weaver.config import Config
    from weaver.context import ChatPort, HookContext
    from weaver.execution.pipeline import CodeRun
    from weaver.execution.result import FileListing, VariableInfo
    from weaver.memory import CompressedMemory, MemoryBudget
    from weaver.specs import PluginSpec, RoleSpec


class Role(Protocol):
    async def reply(self, ctx: RoleContext) -> Post: ...


class RunCode(Protocol):
    """``await ctx.run_code(code, mode, step=...)``: verifiers, guards, the kernel, feedback."""

    async def __call__(self, code: str, mode: VerifyMode = VerifyMode.normal, *, step: str | None = None) -> CodeRun: ...


class PluginCatalog(Protocol):
    """The plugins generated code can call, as a role sees them."""

    @property
    def names(self) -> tuple[str, ...]: ...

    @property
    def specs(self) -> tuple[PluginSpec, ...]: ...

    def render(self, names: Iterable[str] | None = None) -> str:
        """Typed Python signatures with their docs, for a prompt."""
        ...


@attrs.frozen(kw_only=True)
class RoleContext:
    """Everything a role may use to answer one post: facts and the session's ports."""

    spec: RoleSpec
    post: Post
    round: Round
    history: tuple[Round, ...]
    roles: Mapping[str, RoleSpec]
    """Enabled roles by wire alias, including this one."""
    hook: HookContext
    """This reply's context, as hooks see it (its ``step`` is the plan step the post carries)."""
    llm: ChatPort
    """The model on this role's alias (``[<role>] llm``, else the default)."""
    run_code: RunCode
    variables: Callable[[], tuple[VariableInfo, ...]]
    """The kernel's variables after the latest execution (empty before the first)."""
    plugins: PluginCatalog
    files: Callable[[], FileListing]
    """The files code can open in its working directory now (uploads, what earlier code wrote,
    the project folders of ``[execution] project_files``), by name and size, at most 50."""
    memory: Callable[[MemoryBudget], CompressedMemory]
    """Earlier rounds for this role's prompt, as the installed compressors shrink them to ``budget``."""
    approve: Callable[[str, str], Awaitable[ApprovalAnswer | None]]
    """``await ctx.approve(kind, content)``: when a policy wants a person to approve ``content``
    (``[approval] plan``, or an extension's reason), ask and wait; ``None`` when nobody needs to."""

    @property
    def alias(self) -> str:
        return self.spec.alias

    @property
    def config(self) -> Config:
        return self.hook.config

    def emit(self, type: EventType | str, /, post_id: str | None = None, **data: Any) -> None:
        """Report an event on this session and round."""
        self.hook.emit(self.hook.event(type, post_id, **data))

    def status(self, message: str) -> None:
        """Say what the role is doing now (``composing prompt``, ``calling the model``...)."""
        self.emit(EventType.status, message=message, role=self.alias)

    def new_post(self, send_to: str | None = None) -> PostBuilder:
        """Start a post from this role; its parts stream to the event stream as they are added."""
        return PostBuilder(self, send_to)

    def workers(self) -> list[RoleSpec]:
        """The other enabled roles, in configuration order."""
        return [spec for alias, spec in self.roles.items() if alias != self.alias]

    def writable(self, type: str) -> bool:
        """Whether posts may carry attachments of ``type``: a core type, or one an enabled role declares."""
        kind = attachment_type(type)
        return isinstance(kind, AttachmentType) or any(kind in spec.attachment_types for spec in self.roles.values())


class AttachmentStream:
    """An attachment whose text arrives in pieces (a plan or code streaming from the model)."""

    def __init__(self, builder: PostBuilder, type: str) -> None:
        self._builder = builder
        self.type = type
        self.id = new_id("atta")
        self.parts: list[str] = []

    def append(self, delta: str) -> None:
        if delta:
            self.parts.append(delta)
            self._builder._emit(EventType.attachment_delta, attachment_id=self.id, type=str(self.type), delta=delta)

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

    def attach(self, type: str, content: str, extra: Any = None, *, id: str | None = None) -> Attachment:
        """Add (or, with the ``id`` of one already added, replace) an attachment of ``type``.

        ``type`` is a core :class:`weaver.model.AttachmentType` or a name the role declares
        in its ``RoleSpec.attachment_types``.
        """
        if not self._ctx.writable(type):
            raise ValueError(
                f"attachment type {type!r} is not declared: add it to attachment_types in the RoleSpec of "
                f"{self._ctx.spec.name!r} (core types: {', '.join(t.value for t in AttachmentType)})"
            )
        item = Attachment(type, content, extra, **({"id": id} if id else {}))
        self.attachments = [a for a in self.attachments if a.id != item.id] + [item]
        # Imported here: extensions import this module for RoleContext, and cattrs behind
        # weaver.serde would add tens of milliseconds to every `weaver --help`.
        from weaver.serde import to_data

        self._emit(EventType.attachment, attachment=to_data(item))
        return item

    def stream(self, type: str) -> AttachmentStream:
        """An attachment of ``type`` whose text is appended as it streams; :meth:`AttachmentStream.close` adds it."""
        return AttachmentStream(self, attachment_type(type))

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

