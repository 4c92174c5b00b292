"""The data model: what a session is made of, as frozen values.

A :class:`Round` is one user request and everything it caused; it holds the
:class:`Post` messages that roles sent each other, each with typed :class:`Attachment`
fields. Values never change in place: the engine builds new ones with :func:`attrs.evolve`.
Every class here round-trips through JSON with :mod:`weaver.serde`.
"""

from __future__ import annotations

import enum
import os
import re
import time
from collections.abc import Iterable
from typing import Any

import attrs

USER = "User"
"""The wire name of the person on the other side; a post sent to it ends the round."""


def new_id(prefix: str) -> str:
    """A short, sortable, unique id such as ``round-20261121-160501-3f9a1c``."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    # os.urandom is what secrets.token_hex reads; importing secrets costs `weaver --help` 6 ms (hmac, hashlib).
    return f"{prefix}-{stamp}-{os.urandom(3).hex()}"


def _now() -> float:
    return round(time.time(), 6)


def as_tuple(items: Iterable[Any]) -> tuple[Any, ...]:
    """The converter of tuple fields: any iterable in, a tuple out (typed for the attrs plugin of mypy)."""
    return tuple(items)


class AttachmentType(str, enum.Enum):
    """The core's attachment types. Names and values are TaskWeaver's wire names.

    The vocabulary is open: a role declares the further types it writes in its
    :class:`weaver.specs.RoleSpec` (``attachment_types``), and any name that
    :func:`attachment_type` accepts can be attached. Consumers that do not know a type show
    its content as text.
    """

    # Planner
    plan_reasoning = "plan_reasoning"
    init_plan = "init_plan"
    plan = "plan"
    current_plan_step = "current_plan_step"
    stop = "stop"
    # CodeInterpreter
    thought = "thought"
    reply_type = "reply_type"
    reply_content = "reply_content"
    verification = "verification"
    code_error = "code_error"
    execution_status = "execution_status"
    execution_result = "execution_result"
    artifact_paths = "artifact_paths"
    # shared
    shared_memory_entry = "shared_memory_entry"
    invalid_response = "invalid_response"
    revise_message = "revise_message"
    guard_verdict = "guard_verdict"
    session_variables = "session_variables"
    file = "file"
    text = "text"

    def __str__(self) -> str:
        return self.value


_TYPE_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")


def attachment_type(value: str) -> str:
    """A core type as its :class:`AttachmentType` member, any other valid name as itself.

    A name is lower-case letters, digits and ``_``, starting with a letter (at most 64
    characters), as in ``summary`` or ``sql_query``; anything else is a ``ValueError``.
    """
    try:
        return AttachmentType(value)
    except ValueError:
        pass
    if not isinstance(value, str) or not _TYPE_NAME.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a valid attachment type: use lower-case letters, digits and _, starting with a letter"
        )
    return value


class RoundState(str, enum.Enum):
    """Where a round is in its life. ``finished``, ``failed`` and ``cancelled`` are final."""

    created = "created"
    running = "running"
    finished = "finished"
    failed = "failed"
    cancelled = "cancelled"

    @property
    def is_final(self) -> bool:
        return self not in (RoundState.created, RoundState.running)


@attrs.frozen
class Attachment:
    """One typed field of a post.

    ``content`` is the text the model wrote or the role produced; ``extra`` carries the
    same information as structure where there is some (a parsed plan, an execution
    result), so consumers never re-parse text.
    """

    type: str = attrs.field(converter=attachment_type)
    """A core :class:`AttachmentType` member, or the name of a type an extension declared."""
    content: str
    extra: Any = None
    id: str = attrs.field(factory=lambda: new_id("atta"))


@attrs.frozen
class Post:
    """One message from one role to another (or to and from ``User``)."""

    send_from: str
    send_to: str
    message: str = ""
    attachments: tuple[Attachment, ...] = attrs.field(default=(), converter=as_tuple)
    id: str = attrs.field(factory=lambda: new_id("post"))
    created_at: float = attrs.field(factory=_now)

    def attachment(self, type: str) -> Attachment | None:
        """The last attachment of ``type``, or ``None``."""
        wanted = attachment_type(type)
        for item in reversed(self.attachments):
            if item.type == wanted:
                return item
        return None


@attrs.frozen
class Usage:
    """Tokens and money spent on LLM calls.

    ``estimated`` is true when any part of the count was estimated because a backend
    reported no usage.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    llm_calls: int = 0
    estimated: bool = False

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cost=self.cost + other.cost,
            llm_calls=self.llm_calls + other.llm_calls,
            estimated=self.estimated or other.estimated,
        )


@attrs.frozen
class Round:
    """One user request and everything it caused.

    ``reason`` says why the round ended (the planner's stop reason, a guard's message, the
    limit that was hit, the error that failed it). ``answer`` is the message that went to
    ``User``, if one did.
    """

    user_query: str
    id: str = attrs.field(factory=lambda: new_id("round"))
    state: RoundState = attrs.field(default=RoundState.created, converter=RoundState)
    reason: str | None = None
    posts: tuple[Post, ...] = attrs.field(default=(), converter=as_tuple)
    answer: str | None = None
    usage: Usage = Usage()
    created_at: float = attrs.field(factory=_now)
    ended_at: float | None = None
