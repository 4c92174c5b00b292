"""Recepta acknowledges whoever writes to it, through the real engine."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import weaver_recepta
from weaver.hookspecs import hookimpl
from weaver.model import USER, Post, RoundState
from weaver.roles import RoleContext
from weaver.specs import RoleSpec
from weaver_recepta.role import ACKNOWLEDGEMENT


class Thinker:
    """Reports a result to Recepta, then tells the user what Recepta said."""

    async def reply(self, ctx: RoleContext) -> Post:
        if ctx.post.send_from == USER:
            post = ctx.new_post(send_to="Recepta")
            post.message_delta("Result: 6 * 7 = 42")
        else:
            post = ctx.new_post(send_to=USER)
            post.message_delta(f"Recepta said: {ctx.post.message}")
        return post.build()


@hookimpl
def _thinker_roles() -> list[RoleSpec]:
    return [RoleSpec(name="thinker", alias="Thinker", factory=Thinker, description="Thinks.")]


def test_recepta_acknowledges_the_sender(make_app: Any, register_plugin: Any) -> None:
    register_plugin(weaver_recepta)
    register_plugin(SimpleNamespace(weaver_roles=_thinker_roles))
    app = make_app(session={"roles": ["thinker", "recepta"]})
    round = app.session().send_message("what is 6 * 7?")
    assert round.state is RoundState.finished
    assert [(p.send_from, p.send_to) for p in round.posts] == [
        (USER, "Thinker"),
        ("Thinker", "Recepta"),
        ("Recepta", "Thinker"),
        ("Thinker", USER),
    ]
    assert round.posts[2].message == ACKNOWLEDGEMENT == "Got it. Please go ahead!"
    assert round.answer == f"Recepta said: {ACKNOWLEDGEMENT}"


def test_recepta_role_spec() -> None:
    (spec,) = weaver_recepta.weaver_roles()
    assert (spec.name, spec.alias) == ("recepta", "Recepta")
    assert "acknowledges" in spec.description
