"""Oversized text is bounded where it enters a session's history.

A huge paste or a runaway model reply kept verbatim would be stored several times in the log
and resent in every later prompt, until no round of the session fits its budget any more.
So a message or attachment longer than ``[session] max_message_chars`` is written whole, once,
to a file beside the session's log (``content/``), and the history keeps its head and tail with
a note saying how much was left out and where the whole text is.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from weaver.model import Post

NOTE_ROOM = 512
"""Characters of the limit left for the note between the head and the tail."""
Keep = Callable[[str, str], str]
"""``keep(name, text) -> where``: store ``text`` whole under ``name``; say where it is."""


def excerpt(text: str, limit: int, where: str) -> str:
    """``text``'s head and tail within about ``limit`` characters, and a note naming ``where``."""
    half = max((limit - NOTE_ROOM) // 2, 1)
    omitted = len(text) - 2 * half
    note = f"[... {omitted:,} characters omitted; the whole text ({len(text):,} characters) is kept in {where}]"
    return f"{text[:half]}\n\n{note}\n\n{text[-half:]}"


def bounded(text: str, limit: int, name: str, keep: Keep) -> str:
    """``text`` itself when it fits in ``limit``, else its excerpt, the whole kept under ``name``."""
    if len(text) <= limit:
        return text
    return excerpt(text, limit, keep(name, text))


def bounded_post(post: Post, limit: int, keep: Keep) -> Post:
    """``post`` with its message and every attachment's content bounded by ``limit``."""
    if len(post.message) <= limit and all(len(a.content) <= limit for a in post.attachments):
        return post
    return attrs.evolve(
        post,
        message=bounded(post.message, limit, f"{post.id}-message.txt", keep),
        attachments=tuple(
            attrs.evolve(a, content=bounded(a.content, limit, f"{post.id}-{a.type}-{a.id}.txt", keep))
            for a in post.attachments
        ),
    )
