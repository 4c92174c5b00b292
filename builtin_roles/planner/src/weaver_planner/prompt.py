"""The Planner's prompt: instructions, example conversations, history, the current round.

The instructions introduce the user and every enabled worker from its role spec (its
description, or its ``planner_hint`` where it has one), explain the planning process and the
stop reasons, and show the reply format. Conversations
follow as chat turns, each opened by :data:`NEW_CONVERSATION`: the examples first, then the
session (a summary of older rounds if a compressor made one, earlier rounds, this round).
In them the Planner's own posts are assistant turns holding its JSON reply; posts to the
Planner are user turns prefixed with the sender (``User: …``, ``CodeInterpreter: …``).
Posts between other roles are not shown.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from weaver.model import USER, AttachmentType, Post, Round
from weaver.specs import RoleSpec
from weaver_planner.reply import FIELDS, STOP_REASONS

NEW_CONVERSATION = "A new conversation starts here."

_STOP_MEANINGS = {
    "InProcess": "work remains; use it whenever you send to a worker",
    "Completed": "the task is done; the message to User holds the actual results, not a reference to them",
    "Clarification": "the request is ambiguous; the message asks the User what they mean",
    "AdditionalInformation": "you need data, a file, a value or a decision only the User can give",
    "SecurityRisks": "the request could cause harm (deleting data, leaking secrets, attacking systems); refuse and say why",
    "TaskFailure": "the task cannot be done; say what failed and what was achieved",
}

_PLANNING = """\
# How you plan
Each reply goes through these steps, in the order of the reply's fields.

1. plan_reasoning: think about the request and everything that happened so far before
   you plan: what is asked, what is known, what is missing, what the last result means.
2. init_plan: break the task into numbered steps, one per line. Mark how a step depends
   on earlier ones, at the end of its line:
   - <sequentially depends on N>: the step simply follows step N; whoever does N can go
     straight on, without you looking at N's result first.
   - <interactively depends on N>: you must see step N's result (or the User's answer)
     before you can say what this step needs.
   Several steps: <interactively depends on 1 and 3>, <sequentially depends on 1, 2>.
   A step that depends on nothing has no mark. For example, for "join a.csv and b.csv on
   the column the User picks and count the rows":
     1. Load a.csv
     2. Load b.csv
     3. Ask the User which column to join on <interactively depends on 1 and 2>
     4. Join the two tables on that column <interactively depends on 3>
     5. Count the rows of the joined table <sequentially depends on 4>
     6. Report the count <interactively depends on 5>
3. plan: the steps you will actually hand out, numbered, without marks. Merge adjacent
   steps that depend sequentially, or not at all, into one step when the merged step
   stays simple; never merge a step with the step it interactively depends on. Above:
     1. Load a.csv and b.csv
     2. Ask the User which column to join on
     3. Join the two tables on that column and count the rows
     4. Report the count
4. current_plan_step: the plan step you are working on now, starting with its number.
5. Keep init_plan and plan unchanged from reply to reply unless a result or the User
   makes you change them; move current_plan_step on as steps finish. Check each result
   against its step before moving on; when a step failed, give a better instruction or
   change the plan."""

_CONVERSATIONS = f"""\
# Conversations
The chat below may hold several conversations, each starting with "{NEW_CONVERSATION}"
The first ones are examples: they show the process and the reply format, never facts
about the current task. Use earlier conversations only when the current one refers to
them."""


def _workers_section(workers: Sequence[RoleSpec]) -> str:
    parts = []
    for spec in workers:
        described = spec.description.strip() or "A worker of this session."
        parts.append(
            f"## {spec.alias}\n{described}\n"
            f"- {spec.alias} talks only to you and follows one instruction at a time.\n"
            f'- Its messages start with "{spec.alias}:".'
        )
    return "\n\n".join(parts)


def _format_section(recipients: Sequence[str]) -> str:
    skeleton = {
        "plan_reasoning": "your reasoning about the request and the progress so far",
        "init_plan": "1. first step\n2. second step <sequentially depends on 1>\n3. third step <interactively depends on 2>",
        "plan": "1. first and second step merged\n2. third step",
        "current_plan_step": "1. first and second step merged",
        "stop": "InProcess",
        "send_to": recipients[1] if len(recipients) > 1 else USER,
        "message": "the message to the recipient",
    }
    stops = "\n".join(f"- {name}: {_STOP_MEANINGS[name]}." for name in STOP_REASONS)
    return (
        "# When you stop\n"
        "Every reply has a stop field. InProcess while you hand out work; when you write to "
        "the User, it says why the task stops there:\n"
        f"{stops}\n\n"
        "# Reply format\n"
        "Reply with exactly one JSON object and nothing else, with these fields in this order:\n"
        f"{json.dumps(skeleton, indent=2, ensure_ascii=False)}\n"
        f"- All seven fields are required in every reply: {', '.join(FIELDS)}.\n"
        f"- send_to is exactly one of: {', '.join(recipients)}. Never yourself.\n"
        f"- stop is exactly one of: {', '.join(STOP_REASONS)}."
    )


def instructions(
    me: RoleSpec,
    workers: Sequence[RoleSpec],
    recipients: Sequence[str],
    extra: str = "",
) -> str:
    """The system message: who takes part, how to plan, when to stop, the reply format."""
    # A worker with a hint (Recepta's: how the Planner solves a step itself) is introduced
    # by that hint, after the planning process it refers to, not as a generic worker.
    hinted = [w for w in workers if w.planner_hint.strip()]
    doers = [w for w in workers if not w.planner_hint.strip()]
    you = (
        f"You are {me.alias}. You turn the User's request into a plan, have it carried out step "
        "by step by the workers below, check every result, and answer the User."
    )
    sections = [
        you,
        (
            "# Who takes part\n## User\n"
            "- Asks for something, or answers your questions. Only you talk to the User.\n"
            '- The User\'s messages start with "User:".'
        ),
        _workers_section(doers) if doers else "There are no workers in this session: answer from your own reasoning.",
        (
            f"## {me.alias} (you)\n"
            f"- You talk to: {', '.join(recipients)}. Never send a message to yourself.\n"
            "- Every instruction to a worker stands on its own: what the User wants, the step to do, "
            "and every fact the worker needs (file names, values found so far). Workers do not see "
            "your reasoning.\n"
            "- Do not ask a worker to install packages unless the User asked for it."
        ),
        _PLANNING,
    ]
    sections.extend(w.planner_hint.strip() for w in hinted)
    sections.append(_format_section(recipients))
    sections.append(_CONVERSATIONS)
    if extra.strip():
        sections.append("# More instructions\n" + extra.strip())
    return "\n\n".join(sections)


# --------------------------------------------------------------------------------------
# Conversations as chat turns
# --------------------------------------------------------------------------------------

Turn = tuple[str, str]
"""``(chat role, text)``: ``("user", "User: …")`` or ``("assistant", "{…}")``."""


def reply_data(post: Post) -> dict[str, str]:
    """A Planner post as the reply the model would have written for it (fields it lacks are left out)."""
    reply = {}
    for name in FIELDS:
        if name == "send_to":
            reply[name] = post.send_to
        elif name == "message":
            reply[name] = post.message
        else:
            found = post.attachment(AttachmentType(name))
            if found is not None:
                reply[name] = found.content
    return reply


def reply_json(post: Post) -> str:
    """A Planner post as the JSON reply the model would have written for it."""
    return json.dumps(reply_data(post), ensure_ascii=False)


def _incoming(post: Post) -> str:
    text = f"{post.send_from}: {post.message}"
    files = [a.content for a in post.attachments if a.type is AttachmentType.file]
    if files:
        text += "\n(files uploaded to the working directory: " + ", ".join(files) + ")"
    return text


def round_turns(posts: Iterable[Post], me: str) -> list[Turn]:
    """The posts the Planner sent or received, as chat turns."""
    turns: list[Turn] = []
    for post in posts:
        if post.send_from == me:
            turns.append(("assistant", reply_json(post)))
        elif post.send_to == me:
            turns.append(("user", _incoming(post)))
    return turns


def conversation_turns(rounds: Iterable[Round], me: str, summary: str = "") -> list[Turn]:
    """One conversation: its opening line, a summary of omitted rounds, then each round."""
    opening = NEW_CONVERSATION + (
        f"\nSummary of the earlier part of this conversation:\n{summary.strip()}" if summary.strip() else ""
    )
    turns: list[Turn] = [("user", opening)]
    for item in rounds:
        turns.extend(round_turns(item.posts, me))
    return turns
