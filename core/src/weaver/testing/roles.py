"""A trivial role for tests: it answers the user with what it was told."""

from __future__ import annotations

from types import SimpleNamespace

from weaver.hookspecs import hookimpl
from weaver.model import USER, Post
from weaver.roles import RoleContext
from weaver.specs import RoleSpec


class EchoRole:
    """Replies to ``User`` with the incoming message, prefixed by ``echo: ``."""

    async def reply(self, ctx: RoleContext) -> Post:
        post = ctx.new_post(send_to=USER)
        post.message_delta(f"echo: {ctx.post.message}")
        return post.build()


ECHO_ROLE = RoleSpec(name="echo", alias="Echo", factory=EchoRole, description="Repeats what it is told.", calls_llm=False)


@hookimpl
def _weaver_roles() -> list[RoleSpec]:
    return [ECHO_ROLE]


echo_extension = SimpleNamespace(weaver_roles=_weaver_roles)
"""An extension object declaring the echo role: ``register_plugin(echo_extension)``."""
