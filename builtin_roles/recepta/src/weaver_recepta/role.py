"""The Recepta role: acknowledges whatever it is sent, to whoever sent it."""

from __future__ import annotations

from weaver.model import Post
from weaver.roles import RoleContext

ACKNOWLEDGEMENT = "Got it. Please go ahead!"


class Recepta:
    """Replies :data:`ACKNOWLEDGEMENT` to the sender, without calling a model."""

    async def reply(self, ctx: RoleContext) -> Post:
        post = ctx.new_post(send_to=ctx.post.send_from)
        post.message_delta(ACKNOWLEDGEMENT)
        return post.build()
