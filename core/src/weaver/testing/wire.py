"""Scripted model replies in the built-in roles' wire formats, for fakes and recordings.

The Planner and the CodeInterpreter keep TaskWeaver's reply objects (see DESIGN.md, "Wire
contracts"); these build them as the JSON text a model would send, so a script reads as
the conversation it stands for::

    server = FakeOpenAIServer([
        planner_reply("Compute 2 + 3", plan="1. Add the numbers\\n2. Report the sum"),
        code_reply("print(2 + 3)"),
        planner_reply("2 + 3 = 5", send_to="User", stop="Completed", step="2. Report the sum"),
    ])
"""

from __future__ import annotations

import json


def planner_reply(
    message: str,
    *,
    send_to: str = "CodeInterpreter",
    stop: str = "InProcess",
    plan: str = "1. Do the task\n2. Report the result",
    step: str | None = None,
    init_plan: str | None = None,
    reasoning: str = "Working on the request.",
) -> str:
    """A Planner reply; ``step`` defaults to the plan's first line, ``init_plan`` to ``plan``."""
    lines = plan.splitlines()
    return json.dumps(
        {
            "response": {
                "plan_reasoning": reasoning,
                "init_plan": init_plan if init_plan is not None else plan,
                "plan": plan,
                "current_plan_step": step if step is not None else (lines[0] if lines else ""),
                "stop": stop,
                "send_to": send_to,
                "message": message,
            }
        }
    )


def code_reply(code: str, thought: str = "Write the code for this step.") -> str:
    """A CodeInterpreter reply with Python to run."""
    return json.dumps({"response": {"thought": thought, "reply_type": "python", "reply_content": code}})


def text_reply(text: str, thought: str = "No code is needed.") -> str:
    """A CodeInterpreter reply in words, without code."""
    return json.dumps({"response": {"thought": thought, "reply_type": "text", "reply_content": text}})
