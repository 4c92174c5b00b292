"""The Planner's reply: its JSON Schema, and the checks a parsed reply must pass.

The LLM layer finds the JSON object in the model's text (fences, a ``<think>`` block, a
line of prose, the ``{"response": …}`` wrapper) and checks it against
:func:`reply_schema` (every field present, all strings, ``stop`` one of
:data:`STOP_REASONS`); :func:`validate_reply` then checks what the schema does not say:
that ``send_to`` names a role of this session and not the Planner itself, and that there
is a message. Every problem becomes one sentence the model can act on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from weaver.replies import InvalidReply

STOP_REASONS: tuple[str, ...] = (
    "InProcess",
    "Completed",
    "Clarification",
    "AdditionalInformation",
    "SecurityRisks",
    "TaskFailure",
)
"""Why the Planner stops (or ``InProcess``: it does not). The round keeps the final one."""

FIELDS: tuple[str, ...] = (
    "plan_reasoning",
    "init_plan",
    "plan",
    "current_plan_step",
    "stop",
    "send_to",
    "message",
)
"""The reply's fields in the order the model should write them: reasoning first."""

_DESCRIPTIONS = {
    "plan_reasoning": "Your reasoning about the request and the conversation so far, before planning.",
    "init_plan": "Every step of the task, one numbered line each, with dependency annotations "
    "such as <sequentially depends on 1> or <interactively depends on 1 and 3>.",
    "plan": "The steps you will carry out, numbered: adjacent sequential or independent steps "
    "merged, interactive ones never; no annotations.",
    "current_plan_step": "The plan step you are on now, with its number, e.g. '2. Validate the role'.",
    "stop": "InProcess while work remains; otherwise why you stop: " + ", ".join(STOP_REASONS[1:]) + ".",
    "send_to": "Who receives the message: User, or one of the workers.",
    "message": "The message to that recipient.",
}


def reply_schema(recipients: Sequence[str]) -> dict[str, Any]:
    """The JSON Schema of a reply (without the ``response`` wrapper).

    It is strict-mode compatible (every field required, no others), so a model served with
    structured outputs writes a well-formed reply. ``send_to`` lists ``recipients`` in its
    description rather than as an enum: :func:`validate_reply` checks it and explains a
    wrong one (the Planner itself, a role not in the session) better than an enum error.
    """
    properties: dict[str, Any] = {name: {"type": "string", "description": _DESCRIPTIONS[name]} for name in FIELDS}
    properties["stop"]["enum"] = list(STOP_REASONS)
    properties["send_to"]["description"] = f"Who receives the message: one of {', '.join(recipients)}."
    return {
        "type": "object",
        "properties": properties,
        "required": list(FIELDS),
        "additionalProperties": False,
    }


@attrs.frozen
class PlannerReply:
    """A reply that passed every check."""

    plan_reasoning: str
    init_plan: str
    plan: str
    current_plan_step: str
    stop: str
    send_to: str
    message: str


@attrs.define(eq=False)
class InvalidPlannerReply(InvalidReply):
    """A parsed reply breaks a rule; ``problems`` are sentences addressed to the model, and
    ``feedback`` the correction request made of them."""

    problems: tuple[str, ...] = ()

    @classmethod
    def of(cls, problems: tuple[str, ...]) -> InvalidPlannerReply:
        feedback = " ".join(problems) + " Reply again with the whole JSON object, corrected."
        return cls("invalid Planner reply", feedback=feedback, problems=problems)


def validate_reply(data: Mapping[str, Any], *, me: str, recipients: Sequence[str]) -> PlannerReply:
    """Check a reply that already matched :func:`reply_schema`; raise :class:`InvalidPlannerReply`.

    ``me`` is the Planner's alias; ``recipients`` the aliases ``send_to`` may name (``User``
    and the enabled workers), matched ignoring letter case.
    """
    problems: list[str] = []
    send_to = data["send_to"].strip()
    recipient = next((name for name in recipients if name.casefold() == send_to.casefold()), None)
    allowed = ", ".join(recipients)
    if send_to.casefold() == me.casefold():
        problems.append(
            f"'send_to' is {send_to!r}, which is you: you cannot send a message to yourself. "
            f"Send it to one of: {allowed}."
        )
    elif recipient is None:
        problems.append(f"'send_to' is {send_to!r}, which is not a role in this session; it must be one of: {allowed}.")
    if not data["message"].strip():
        problems.append("'message' is empty; write what the recipient should do or know.")
    if problems or recipient is None:
        raise InvalidPlannerReply.of(tuple(problems))
    return PlannerReply(**{name: data[name] for name in FIELDS if name != "send_to"}, send_to=recipient)
