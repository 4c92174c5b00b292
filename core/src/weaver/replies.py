"""One structured reply from the model, self-corrected within a limit: the loop every JSON role needs.

:func:`structured_reply` asks the model for a JSON reply matching a schema, streams its
string fields into the post being built as they arrive, validates the reply, and sends
what was wrong back to the model until a reply is accepted or the corrections run out.
Each abandoned attempt stays on the post as an ``invalid_response`` (the raw reply) and a
``revise_message`` (what the model was asked to fix). The Planner and the CodeInterpreter
both use it; so can a third-party role::

    answer = await structured_reply(ctx, builder, messages, schema=SCHEMA, validate=check, fields=("summary",))
    if answer.value is None:
        raise RoundStopped(f"no valid reply: {answer.feedback}")

``validate(data)`` turns the parsed object into the role's value or raises
:class:`InvalidReply` with feedback for the model; ``accept(value, last)`` (optional) may
still send the reply back after acting on it, as the CodeInterpreter does when its code
fails. ``condense(raw, feedback)`` (optional) gives the one line an abandoned attempt is
shown as once a later one replaces it, so a retry's prompt carries the last attempt whole
and the earlier ones in a line each instead of growing by a whole attempt per retry.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import attrs

from weaver.errors import WeaverError
from weaver.llm.errors import ReplyFormatError
from weaver.llm.request import ChatMessage
from weaver.model import AttachmentType

if TYPE_CHECKING:
    from weaver.roles import AttachmentStream, PostBuilder, RoleContext

T = TypeVar("T")


@attrs.define(eq=False)
class InvalidReply(WeaverError):
    """A parsed reply that breaks a role's rules; ``feedback`` is addressed to the model."""

    feedback: str = ""


@attrs.frozen
class Answer(Generic[T]):
    """How the exchange ended.

    ``value`` is the accepted reply (``None`` when the last attempt failed too); ``raw`` the
    last reply as received; ``feedback`` what was wrong with it (empty when accepted);
    ``attempts`` how many calls were made; ``streams`` the attachments the last attempt's
    fields streamed into, still open, for the role to close with their final values.
    """

    value: T | None
    raw: str
    feedback: str
    attempts: int
    streams: Mapping[str, AttachmentStream]


def _status(attempt: int, max_corrections: int) -> str:
    return "calling the model" if attempt == 1 else f"calling the model (correction {attempt - 1} of {max_corrections})"


async def structured_reply(
    ctx: RoleContext,
    builder: PostBuilder,
    messages: Sequence[ChatMessage],
    *,
    schema: Mapping[str, Any],
    validate: Callable[[Any], T],
    fields: Collection[str],
    schema_name: str = "reply",
    message_field: str | None = None,
    max_corrections: int = 3,
    accept: Callable[[T, bool], Awaitable[str | None]] | None = None,
    correction: Callable[[str, int], str] = lambda feedback, n: feedback,
    condense: Callable[[str, str], str | None] | None = None,
) -> Answer[T]:
    """Ask until a reply is accepted, at most ``max_corrections + 1`` times.

    ``fields`` stream into attachments of the same names, ``message_field`` into the post's
    message. ``correction(feedback, n)`` words the ``n``-th correction request.
    """
    base = list(messages)
    abandoned: list[_Abandoned] = []
    attempt = 0
    while True:
        attempt += 1
        last = attempt > max_corrections
        streams, on_field = _field_streams(builder, fields, message_field)
        ctx.status(_status(attempt, max_corrections))
        raw, feedback = "", ""
        try:
            response = await ctx.llm.chat(messages, reply_schema=schema, schema_name=schema_name, on_field=on_field)
        except ReplyFormatError as error:
            raw, feedback = error.raw, error.feedback
        else:
            raw = response.text
            try:
                value = validate(response.data)
            except InvalidReply as error:
                feedback = error.feedback
            else:
                retry = await accept(value, last) if accept is not None else None
                if retry is None:
                    return Answer(value, raw, "", attempt, streams)
                feedback = retry
        if last:
            return Answer(None, raw, feedback, attempt, streams)
        request = correction(feedback, attempt)
        builder.attach(AttachmentType.invalid_response, raw)
        builder.attach(AttachmentType.revise_message, request)
        if message_field is not None:
            builder.set_message("")
        abandoned.append(_Abandoned(raw, request, condense(raw, feedback) if condense is not None else None))
        messages = _retry_messages(base, abandoned)


@attrs.frozen
class _Abandoned:
    raw: str
    request: str
    line: str | None


def _retry_messages(base: Sequence[ChatMessage], abandoned: Sequence[_Abandoned]) -> list[ChatMessage]:
    """The prompt of the next attempt: the last attempt whole, earlier ones whole or in their line."""
    *earlier, last = abandoned
    messages = list(base)
    lines = []
    for item in earlier:
        if item.line is None:
            messages += [ChatMessage("assistant", item.raw), ChatMessage("user", item.request)]
        else:
            lines.append(item.line)
    request = last.request
    if lines:
        listed = "\n".join(f"{n}. {line}" for n, line in enumerate(lines, 1))
        request = f"Earlier attempts at this request, in one line each:\n{listed}\n\nThe last attempt (above):\n{request}"
    return [*messages, ChatMessage("assistant", last.raw), ChatMessage("user", request)]


def _field_streams(
    builder: PostBuilder, fields: Collection[str], message_field: str | None
) -> tuple[dict[str, AttachmentStream], Callable[[str, str], None]]:
    """Attachments for one attempt's fields as they stream, and the ``on_field`` callback filling them.

    An attempt that turns out invalid leaves its attachments unclosed, so they never become
    part of the post.
    """
    streams: dict[str, AttachmentStream] = {}

    def on_field(field: str, delta: str) -> None:
        if field == message_field:
            builder.message_delta(delta)
        elif field in fields:
            if field not in streams:
                streams[field] = builder.stream(field)
            streams[field].append(delta)

    return streams, on_field
