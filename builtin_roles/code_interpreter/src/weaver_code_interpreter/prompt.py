"""The CodeInterpreter's prompt.

The system message says how code runs (a stateful kernel, files in its working directory,
figures saved as artifacts), lists the enabled plugins as typed Python signatures with their
docs, and gives the reply format. Example conversations come first, when there are any
(:mod:`weaver_code_interpreter.examples`). The conversation follows: earlier requests to the
CodeInterpreter as user turns, its replies as assistant turns (the JSON it wrote), their
execution results as user turns. The last user turn is the current request with what the
model needs to act on it: the Planner's plan and current step, the files code can open, and
the kernel's variables, so data already loaded is used instead of loaded again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Literal

from weaver.execution.result import FileListing, VariableInfo
from weaver.llm import ChatMessage, chat_messages
from weaver.llm.usage import estimate_tokens
from weaver.memory import MemoryBudget
from weaver.model import AttachmentType, Post, Round
from weaver.roles import RoleContext
from weaver.specs import VerifyMode
from weaver_code_interpreter.config import CodeInterpreterConfig
from weaver_code_interpreter.reply import FIELDS

Turn = tuple[Literal["user", "assistant"], str]

_HOW_CODE_RUNS = """\
You are {me}. You turn the request you receive into Python and run it, or answer in text
when no code is needed.

# How your code runs
- It runs in a stateful Jupyter kernel: variables, imports and functions from earlier
  executions are still defined. Use the variables listed with the request instead of
  loading or computing them again.
- The files your code can open are listed with the request, by their paths relative to
  the working directory: read them by exactly those paths (for example
  pd.read_csv("data/sales.csv")). Project folders are read-only; write new files into
  the working directory itself.
- The value of the last expression is shown to you, as is everything printed. End the code
  with the variable or expression that holds the answer, or print it.
- matplotlib figures are saved as image files automatically; call plt.show() when done.
- Every piece of code is checked before it runs: ordinary data-analysis imports (pandas,
  numpy, matplotlib, scipy, ...) are fine; shell commands, eval/exec, open(), dunder
  attributes and modules such as os, sys and subprocess are not. If the check or the run
  fails you get the exact error: fix the code and send all of it again.
- Reply with "reply_type": "text" only when the request needs no code (a question about
  the code or results you already have)."""

_PLUGIN_ONLY = """\
# Plugin-only mode
Your code may ONLY call the plugins below and bind their results to names, one call per
statement: `result = plugin_name(arg=...)`. Arguments are Python literals (numbers,
strings, True, False, None, lists, dicts) or names bound earlier. No imports, no other
functions, no attribute access, no loops. Write True/False/None, never true/false/null."""

_REPLY = """\
# Reply format
Reply with one JSON object with the fields, in this order:
- "thought": your reasoning about the step and how the code does it;
- "reply_type": "python" or "text";
- "reply_content": the code (plain Python, no code fences) or the text answer.
Example: {"thought": "df is loaded; compute the mean of price.", "reply_type": "python", "reply_content": "df['price'].mean()"}"""


_EXAMPLES = """\
# Example conversations
The chat starts with example conversations, each opened by "An example conversation starts
here.". They show how requests, your replies and execution results look; their data,
variables and plugins are not those of the current task. The current conversation follows
"The current conversation starts here."; only its variables and the plugins above exist."""


def instructions(me: str, mode: VerifyMode, plugins_text: str, extra: str, examples: bool = False) -> str:
    parts = [_HOW_CODE_RUNS.format(me=me)]
    if mode is VerifyMode.plugin_only:
        parts.append(_PLUGIN_ONLY)
    if plugins_text:
        parts.append(
            "# Plugins\nThese functions are already defined in the kernel; call them directly "
            "(no import needed). They return live Python objects, such as DataFrames.\n\n```python\n"
            + plugins_text
            + "\n```"
        )
    elif mode is VerifyMode.plugin_only:
        parts.append("# Plugins\nNo plugins are enabled, so no code can run: answer in text.")
    parts.append(_REPLY)
    if examples:
        parts.append(_EXAMPLES)
    if extra.strip():
        parts.append(extra.strip())
    return "\n\n".join(parts)


def reply_data(post: Post) -> dict[str, str]:
    """The reply fields a CodeInterpreter post holds (the ones it lacks are left out)."""
    return {name: item.content for name in FIELDS if (item := post.attachment(name)) is not None}


def reply_json(post: Post) -> str | None:
    """The JSON a CodeInterpreter post's reply was, rebuilt from its attachments (``None`` if incomplete)."""
    values = reply_data(post)
    return json.dumps(values, ensure_ascii=False) if len(values) == len(FIELDS) else None


def conversation(rounds: Iterable[Round], me: str, skip: str, summary: str = "") -> list[Turn]:
    """Chat turns for every post to and from ``me``, except the post with id ``skip``."""
    turns: list[Turn] = []
    if summary:
        turns.append(("user", f"Summary of earlier conversations:\n{summary}"))
    for round_ in rounds:
        for post in round_.posts:
            if post.id == skip:
                continue
            if post.send_to == me:
                turns.append(("user", f"{post.send_from}: {post.message}"))
            elif post.send_from == me:
                reply = reply_json(post)
                if reply is not None:
                    turns.append(("assistant", reply))
                result = post.attachment(AttachmentType.execution_result)
                if result is not None:
                    turns.append(("user", f"Execution result:\n{result.content}"))
    return turns


RECENT_ROUNDS = 5
"""How many earlier rounds' code is read to rank the variables by use."""


def ranked(variables: Sequence[VariableInfo], codes: Sequence[str]) -> list[VariableInfo]:
    """The variables, those the latest code used first, then the newest defined first.

    ``codes`` are the code that ran, oldest first. The kernel lists variables in the order
    they were first defined, so its newest are last: those are the ones a prompt must not drop.
    """
    last_used: dict[str, int] = {}
    words = [set(re.findall(r"[A-Za-z_]\w*", code)) for code in codes]
    for var in variables:
        last_used[var.name] = max((n for n, found in enumerate(words) if var.name in found), default=-1)
    order = {var.name: n for n, var in enumerate(variables)}
    return sorted(variables, key=lambda v: (last_used[v.name], order[v.name]), reverse=True)


def variables_text(variables: Sequence[VariableInfo], limit: int, max_tokens: int = 0) -> str:
    """One line per variable, in the given order, within ``limit`` lines and ``max_tokens``."""
    if not variables:
        return "(none yet)"
    lines: list[str] = []
    spent = 0
    for var in variables[:limit]:
        shape = f" {var.shape_or_len}" if var.shape_or_len else ""
        preview = f": {var.preview}" if var.preview else ""
        line = f"- {var.name} ({var.type}{shape}){preview}"
        spent += estimate_tokens(line)
        if max_tokens and spent > max_tokens and lines:
            break
        lines.append(line)
    if len(variables) > len(lines):
        lines.append(f"- ... and {len(variables) - len(lines)} older ones (print a name to see it)")
    return "\n".join(lines)


def files_text(listing: FileListing) -> str:
    """One line per file, ``- data/sales.csv (1.2 KB)``, and how many more were left out."""
    if not listing.files:
        return "- (none)"
    lines = [f"- {f.name} ({_size(f.size)})" for f in listing.files]
    if listing.more:
        lines.append(f"- ... and {listing.more} more (list a folder with pathlib to see them)")
    return "\n".join(lines)


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    scaled = float(size)
    for unit in ("KB", "MB", "GB"):
        scaled /= 1024
        if scaled < 1024 or unit == "GB":
            break
    return f"{scaled:.1f} {unit}"


def code_history(ctx: RoleContext) -> list[str]:
    """The code that ran in the last few rounds and this one, oldest first."""
    rounds = (*ctx.history[-RECENT_ROUNDS:], ctx.round)
    return [
        a.content for r in rounds for p in r.posts for a in p.attachments if a.type is AttachmentType.reply_content
    ]


def request_text(ctx: RoleContext, variables: Sequence[VariableInfo], config: CodeInterpreterConfig) -> str:
    """The current request, with the plan, the user's files and the kernel's variables."""
    post = ctx.post
    parts = []
    plan = post.attachment(AttachmentType.plan)
    if plan is not None and plan.content.strip():
        parts.append(f"# The plan\n{plan.content.strip()}")
    step = post.attachment(AttachmentType.current_plan_step)
    if step is not None and step.content.strip():
        parts.append(f"# Current step\n{step.content.strip()}")
    parts.append(f"# Files your code can open\n{files_text(ctx.files())}")
    listed = variables_text(ranked(variables, code_history(ctx)), config.max_variables, config.variables_max_tokens)
    parts.append(f"# Variables in the kernel (the latest used first)\n{listed}")
    parts.append(f"# Request from {post.send_from}\n{post.message}")
    return "\n\n".join(parts)


def build_messages(
    ctx: RoleContext,
    config: CodeInterpreterConfig,
    mode: VerifyMode,
    plugins_text: str,
    examples: Sequence[Turn] = (),
) -> list[ChatMessage]:
    """The system message, the example conversations' ``examples`` turns, earlier rounds and the request."""
    me = ctx.alias
    memory = ctx.memory(MemoryBudget(max_tokens=config.history_max_tokens, lists_variables=True))
    turns = [*examples, *conversation((*memory.rounds, ctx.round), me, skip=ctx.post.id, summary=memory.summary)]
    turns.append(("user", request_text(ctx, ctx.variables(), config)))
    system = instructions(me, mode, plugins_text, config.extra_instructions, examples=bool(examples))
    return list(chat_messages(system, turns))
