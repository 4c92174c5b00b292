"""``weaver.testing.ScriptedLLM``: an in-process backend registered through ``weaver_llm_backends``."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from weaver import hookimpl
from weaver.events import Event, EventType
from weaver.llm import ChatMessage
from weaver.model import USER, Post, RoundState
from weaver.roles import RoleContext
from weaver.specs import RoleSpec
from weaver.testing import ScriptedLLM

SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
    "additionalProperties": False,
}


class Asker:
    """Asks the model for ``{"answer"}`` and streams the field into the post's message."""

    async def reply(self, ctx: RoleContext) -> Post:
        post = ctx.new_post(send_to=USER)
        messages = [ChatMessage("system", "You answer."), ChatMessage("user", ctx.post.message)]
        response = await ctx.llm.chat(
            messages, reply_schema=SCHEMA, on_field=lambda field, delta: post.message_delta(delta)
        )
        post.set_message(response.data["answer"])
        return post.build()


@hookimpl
def _roles() -> list[RoleSpec]:
    return [RoleSpec(name="asker", alias="Asker", factory=Asker)]


asker_extension = SimpleNamespace(weaver_roles=_roles)


def start(make_app: Any, register_plugin: Any, llm: ScriptedLLM) -> tuple[Any, list[Event]]:
    register_plugin(asker_extension)
    register_plugin(llm.extension())
    # Every delta its own event, to see the pieces the backend streamed (test_engine_deltas.py
    # checks how a session joins them).
    app = make_app(session={"roles": ["asker"], "delta_interval_s": 0}, llm=llm.llm_config())
    events: list[Event] = []
    app.subscribe(events.append)
    return app, events


def test_scripted_replies_are_served_in_order_and_streamed(make_app: Any, register_plugin: Any) -> None:
    llm = ScriptedLLM([{"answer": "forty-two"}, '{"answer": "seven"}'], chunk_size=4)
    app, events = start(make_app, register_plugin, llm)
    session = app.session()

    first, second = session.send_message("6 x 7?"), session.send_message("3 + 4?")

    assert (first.answer, second.answer) == ("forty-two", "seven")
    deltas = [e.data["delta"] for e in events if e.type is EventType.message_delta and e.round_id == first.id]
    assert len(deltas) > 1 and "".join(deltas) == "forty-two"  # arrived in pieces, as a stream does
    assert [r["messages"][-1] for r in llm.requests] == [
        {"role": "user", "content": "6 x 7?"},
        {"role": "user", "content": "3 + 4?"},
    ]
    assert llm.requests[0]["model"] == "scripted-model"
    calls = [e.data for e in events if e.type is EventType.llm_call]
    assert [c["outcome"] for c in calls] == ["ok", "ok"]
    assert all(c["usage"]["estimated"] for c in calls)  # no token counts from the script: Weaver estimates


def test_a_responder_sees_the_request_as_an_openai_chat_request(make_app: Any, register_plugin: Any) -> None:
    llm = ScriptedLLM(lambda request: json.dumps({"answer": request["messages"][-1]["content"].upper()}))
    app, _ = start(make_app, register_plugin, llm)

    assert app.session().send_message("shout this").answer == "SHOUT THIS"
    system = llm.requests[0]["messages"][0]
    assert system["role"] == "system" and system["content"].startswith("You answer.")


def test_an_exhausted_script_fails_the_round_with_a_reason(make_app: Any, register_plugin: Any) -> None:
    llm = ScriptedLLM([])
    app, events = start(make_app, register_plugin, llm)

    done = app.session().send_message("anything")

    assert done.state is RoundState.failed
    assert "no scripted reply left for request #1" in done.reason
    (call,) = [e.data for e in events if e.type is EventType.llm_call]
    assert call["outcome"].startswith("error: ScriptedLLM")
