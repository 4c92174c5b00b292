"""The round driver: route posts among roles by ``send_to`` until one reaches the user.

A round ends when a post goes to ``User``, a role or a guard stops it
(:class:`weaver.errors.RoundStopped`), the hop limit is hit, it is cancelled, or anything
fails. No exception escapes to the caller for a failed round: the finished
:class:`weaver.model.Round` records what happened and why.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from weaver.errors import RoundStopped
from weaver.events import Event, EventType
from weaver.execution.boundary import site_for, upload_place
from weaver.execution.files import copy_in
from weaver.model import USER, Attachment, AttachmentType, Post, Round, RoundState
from weaver.serde import to_data

if TYPE_CHECKING:
    from weaver.engine.session import Session

log = logging.getLogger("weaver.engine")


@attrs.define
class RoundInProgress:
    """The round being built (its posts so far), the task running it, and whether its deadline passed."""

    round: Round
    task: asyncio.Task[Any] | None = None
    expired: bool = False


async def drive(session: Session, current: RoundInProgress, text: str, files: Sequence[str | os.PathLike[str]]) -> Round:
    """Run the round to its end and return it finished (never raises for a failed round)."""
    round_id = current.round.id
    settings = session.app.config.table("session")
    final_state, reason, answer = RoundState.failed, "", None
    try:
        session.emit(Event(EventType.round_start, session.id, round_id, data={"user_query": current.round.user_query}))
        # Background work of the last round (a summary) finishes first: its usage counts
        # before this round's first budget check, and its results reach this round's prompts.
        await session.settle()
        session.prestart()
        if not session.entry:
            raise RoundStopped("no roles are enabled: set [session] roles")
        _check_text(text, "the message")
        post = Post(send_from=USER, send_to=session.entry, message=text, attachments=_attach_files(session, files))
        specs = session.role_specs
        hops = 0
        while True:
            post = _record_post(session, current, post)
            if post.send_to == USER:
                stop = post.attachment(AttachmentType.stop)
                final_state, reason, answer = RoundState.finished, stop.content if stop else "Completed", post.message
                break
            if post.send_to not in specs:
                raise RoundStopped(
                    f"{post.send_from} sent a post to {post.send_to!r}, which is not an enabled role "
                    f"(enabled: {', '.join(specs)})"
                )
            hops += 1
            if hops > settings.max_hops:
                raise RoundStopped(f"hop limit reached: {settings.max_hops} posts in one round ([session] max_hops)")
            ctx = session.role_context(specs[post.send_to], post, current.round)
            post = await session.role(post.send_to).reply(ctx)
    except asyncio.CancelledError:
        if current.expired:
            limit = settings.round_timeout_s
            final_state, reason = RoundState.failed, f"the round took longer than {limit:g} s ([session] round_timeout_s)"
        else:
            final_state, reason = RoundState.cancelled, "cancelled"
    except RoundStopped as stop:
        final_state, reason = stop.state, str(stop)
    except Exception as exc:  # a failed round is recorded, never raised
        log.debug("round %s failed", round_id, exc_info=True)
        final_state, reason = RoundState.failed, f"{type(exc).__name__}: {exc}"
        try:
            session.emit(
                Event(EventType.error, session.id, round_id, data={"message": str(exc), "error_type": type(exc).__name__})
            )
        except Exception:
            log.exception("round %s: the error event could not be recorded", round_id)
    return attrs.evolve(
        current.round, state=final_state, reason=reason, answer=answer, usage=session.round_usage(), ended_at=_now()
    )


def _record_post(session: Session, current: RoundInProgress, post: Post) -> Post:
    """Add ``post`` to the round and the log, bounded as history keeps it; returns what was kept."""
    post = session.bounded(post)
    current.round = attrs.evolve(current.round, posts=(*current.round.posts, post))
    session.emit(Event(EventType.post_end, session.id, current.round.id, post.id, {"post": to_data(post)}))
    return post


def _check_text(text: str, what: str) -> None:
    """Refuse text that is not valid Unicode (a lone surrogate): no model or file can take it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise RoundStopped(
            f"{what} is not valid Unicode text (a lone surrogate at position {exc.start}); send it again without it"
        ) from None


def _attach_files(session: Session, files: Sequence[str | os.PathLike[str]]) -> tuple[Attachment, ...]:
    """Each upload where code finds it by the name the user gave (see :func:`upload_place`);
    the attachment's content is that name."""
    attachments = []
    session.paths.create()
    site = site_for(session.app.config, session=session.paths.root)
    for item in files:
        source = Path(item)
        _check_text(os.fspath(source), f"the file name {os.fspath(source)!r}")
        place = upload_place(site, source)
        if place.copy:
            # The kernel may have left a link at the target: copy_in never follows one.
            target = copy_in(source, session.cwd, place.name)
        elif source.is_file():
            target = source.resolve()
        else:
            raise FileNotFoundError(errno.ENOENT, "no such file", os.fspath(source))
        attachments.append(Attachment(AttachmentType.file, place.name, {"path": str(target)}))
    return tuple(attachments)


def _now() -> float:
    return round(time.time(), 6)
