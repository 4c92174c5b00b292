"""The Planner role: one turn is one validated reply from the model, streamed as a post.

Each turn the Planner builds its prompt (:mod:`weaver_planner.prompt`), asks the model for
a reply matching :func:`weaver_planner.reply.reply_schema`, checks it, parses the plan
(:mod:`weaver_planner.plan`) and sends the message on. An invalid reply goes back to the
model with what was wrong, at most ``[planner] max_self_corrections`` times in a row; the
abandoned reply and the correction request stay on the post as ``invalid_response`` and
``revise_message`` attachments. ``[planner] max_steps`` bounds the turns in a round.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from weaver.approvals import ApprovalKind
from weaver.errors import RoundStopped
from weaver.llm import ChatMessage, chat_messages
from weaver.memory import MemoryBudget
from weaver.model import USER, Post
from weaver.replies import structured_reply
from weaver.serde import to_data
from weaver_planner.config import PlannerConfig
from weaver_planner.examples import Example, checked, example_dirs, load_examples, usable
from weaver_planner.plan import Plan, build_plan, latest_plan
from weaver_planner.prompt import Turn, conversation_turns, instructions
from weaver_planner.reply import FIELDS, PlannerReply, reply_schema, validate_reply

if TYPE_CHECKING:
    from weaver.roles import RoleContext

SCHEMA_NAME = "planner_reply"
RAW_REPLY_LIMIT = 2000
"""How much of the last invalid reply a failed round's reason quotes."""
_STREAMED = tuple(name for name in FIELDS if name not in ("send_to", "message"))


class Planner:
    """The Planner; one instance per session (examples are read once, on its first turn)."""

    def __init__(self) -> None:
        self._examples: list[Example] | None = None

    async def reply(self, ctx: RoleContext) -> Post:
        config = ctx.config.table(PlannerConfig)
        me = ctx.alias
        turn = sum(1 for post in ctx.round.posts if post.send_from == me) + 1
        previous = latest_plan(ctx.round, me)
        if turn > config.max_steps:
            raise RoundStopped(_limit_reason(config.max_steps, previous, ctx.post))
        recipients = [USER, *(spec.alias for spec in ctx.workers())]
        ctx.status("composing prompt")
        messages = self._messages(ctx, config, recipients, last_turn=turn == config.max_steps)
        builder = ctx.new_post()
        limit = config.max_self_corrections
        approval = PlanApproval(ctx)
        answer = await structured_reply(
            ctx,
            builder,
            messages,
            schema=reply_schema(recipients),
            schema_name=SCHEMA_NAME,
            validate=lambda data: validate_reply(data, me=me, recipients=recipients),
            fields=_STREAMED,
            message_field="message",
            max_corrections=limit,
            accept=approval.check,
            correction=lambda feedback, n: f"{feedback} (correction {n} of at most {limit})",
        )
        reply = answer.value
        if reply is None and approval.rejected:
            raise RoundStopped(f"the user rejected the plan: {approval.rejected}")
        if reply is None:
            raise RoundStopped(
                f"the Planner's reply was still invalid after {limit} self-corrections "
                f"([planner] max_self_corrections): {answer.feedback} Last raw reply: {_clip(answer.raw)}"
            )
        if approval.edited is not None:
            reply = attrs.evolve(reply, plan=approval.edited)
        plan = build_plan(reply.init_plan, reply.plan, reply.current_plan_step, reply.stop, previous)
        for name in _STREAMED:
            extra = to_data(plan) if name == "plan" else None
            if name in answer.streams:
                answer.streams[name].close(getattr(reply, name), extra)
            else:
                builder.attach(name, getattr(reply, name), extra)
        builder.set_message(reply.message)
        builder.set_send_to(reply.send_to)
        return builder.build()

    # ---- the prompt --------------------------------------------------------------------

    def _messages(
        self, ctx: RoleContext, config: PlannerConfig, recipients: list[str], *, last_turn: bool
    ) -> list[ChatMessage]:
        me = ctx.alias
        turns: list[Turn] = []
        for example in self._usable_examples(ctx, config):
            turns.extend(conversation_turns(example.rounds, me))
        memory = ctx.memory(MemoryBudget(max_tokens=config.history_max_tokens))
        turns.extend(conversation_turns((*memory.rounds, ctx.round), me, summary=memory.summary))
        if last_turn:
            warning = (
                f"This is your last turn in this round ([planner] max_steps = {config.max_steps}): "
                "send your answer to User now, with what has been achieved and what has not."
            )
            turns.append(("user", warning))
        system = instructions(ctx.spec, ctx.workers(), recipients, config.extra_instructions)
        return list(chat_messages(system, turns))

    def _usable_examples(self, ctx: RoleContext, config: PlannerConfig) -> list[Example]:
        if not config.use_examples:
            return []
        if self._examples is None:
            project = Path(ctx.config.project_dir)
            found = load_examples(example_dirs(project, config.example_dirs, config.builtin_examples))
            self._examples = checked(found, ctx.alias)
        return usable(self._examples, ctx.roles)


class PlanApproval:
    """``[approval] plan``: the user confirms, edits or rejects the plan before its first worker step.

    A rejection goes back to the model with the user's reason, as a correction; an edit
    replaces the plan the reply carries.
    """

    def __init__(self, ctx: RoleContext) -> None:
        self.ctx = ctx
        self.first_step = not any(p.send_from == ctx.alias and p.send_to != USER for p in ctx.round.posts)
        self.edited: str | None = None
        self.rejected = ""

    async def check(self, reply: PlannerReply, last: bool) -> str | None:
        if reply.send_to == USER or not self.first_step:
            return None
        answer = await self.ctx.approve(ApprovalKind.plan, reply.plan)
        if answer is None:
            return None
        if not answer.approved:
            self.rejected = answer.reason or "no reason given"
            return f"The user rejected the plan: {self.rejected}. Make a plan that takes this into account."
        self.rejected = ""
        self.edited = answer.content if answer.content != reply.plan else None
        return None


def _clip(text: str) -> str:
    return (
        text
        if len(text) <= RAW_REPLY_LIMIT
        else text[:RAW_REPLY_LIMIT] + f"... ({len(text) - RAW_REPLY_LIMIT} more characters)"
    )


def _limit_reason(max_steps: int, plan: Plan | None, post: Post) -> str:
    progress = plan.progress() if plan is not None else "no plan yet"
    last = post.message if len(post.message) <= 500 else post.message[:500] + "..."
    return (
        f"the Planner used its {max_steps} turns for this round ([planner] max_steps) before finishing. "
        f"Progress: {progress}. Last message to the Planner, from {post.send_from}: {last}"
    )
