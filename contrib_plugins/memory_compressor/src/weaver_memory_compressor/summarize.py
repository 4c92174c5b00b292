"""The incremental model summary, made between rounds.

The compression hook is synchronous and runs while a role builds its prompt, so it cannot
wait for a model. Instead, when a round ends (the ``weaver_event`` hook), the rounds that the
next compression will summarize but the stored summary does not cover yet are summarized
by the model together with the previous summary, on the engine's loop, while the user reads
the answer. The compression hook uses the stored summary when it covers the older rounds
and the deterministic condensed form for any round it does not (yet) cover, so a failed or
late model call only makes the summary less polished, never wrong or missing.

The call goes through the role-bound LLM client as the ``MemoryCompressor`` role, so guards
(the cost guard's budgets) judge it and its ``llm_call`` event counts in the session's cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from weaver.errors import WeaverError
from weaver.model import Post, Round
from weaver.roles import RoleContext
from weaver.specs import RoleSpec
from weaver_memory_compressor.compress import Summary, SummaryStore
from weaver_memory_compressor.history import alive_variables, deterministic_summary

if TYPE_CHECKING:
    from weaver.engine import Session

ALIAS = "MemoryCompressor"
SPEC = RoleSpec(
    name="memory_compressor",
    alias=ALIAS,
    factory=object,
    description="Summarizes older rounds between rounds; never takes part in a conversation.",
)

INSTRUCTIONS = """\
You keep the running summary of a data-analysis conversation between a User and an \
assistant that writes and runs Python in a persistent kernel. You get the summary so far \
and the rounds that follow it, condensed. Write the updated summary of everything, as \
short plain-text notes in the order things happened. Keep: what the User asked and \
decided; the plan; files read and written; every variable name that is still alive, and \
what it holds; findings with their numbers; what failed and why. Drop: outputs that were \
only shown, tracebacks, retries. At most {words} words. Reply with the summary only."""


def prompt(previous: Summary | None, rounds: Sequence[Round], first_number: int, alive: Sequence[str], max_chars: int) -> str:
    """The user message: the summary so far, the new rounds condensed, the live variables."""
    parts = [f"Summary so far:\n{previous.text}" if previous else "Summary so far: (none; these are the first rounds)"]
    parts.append("Rounds to add:\n" + deterministic_summary("", rounds, first_number, max_chars=max_chars))
    parts.append("Variables alive in the kernel now: " + (", ".join(alive) if alive else "(none)"))
    return "\n\n".join(parts)


async def summarize(
    session: Session,
    store: SummaryStore,
    previous: Summary | None,
    rounds: Sequence[Round],
    *,
    words: int,
    max_chars: int,
) -> None:
    """Ask the model for the updated summary and store it; on failure keep the old one.

    A failure (no model configured, a transport error, a guard's stop) is reported as a
    status event; the compression hook then goes on using the deterministic form.
    """
    from weaver.llm import ChatMessage

    history = session.rounds
    first_number = len(previous.covered) + 1 if previous else 1
    ctx = RoleContext(
        spec=SPEC,
        post=Post(send_from=ALIAS, send_to=ALIAS, message="summarize older rounds"),
        round=history[-1],
        history=history,
        roles={},
        config=session.app.config,
        hooks=session.app.hooks,
        session=session,
    )
    messages = [
        ChatMessage("system", INSTRUCTIONS.format(words=words)),
        ChatMessage("user", prompt(previous, rounds, first_number, alive_variables(history), max_chars)),
    ]
    try:
        response = await ctx.llm.chat(messages)
    except WeaverError as exc:
        ctx.status(f"the memory summary failed, older rounds stay condensed deterministically: {exc}")
        return
    text = response.text.strip()
    if not text:
        ctx.status("the memory summary came back empty; older rounds stay condensed deterministically")
        return
    covered = (*(previous.covered if previous else ()), *(r.id for r in rounds))
    store.put(Summary(covered=covered, text=text))
    ctx.status(f"memory summary updated: rounds 1-{len(covered)}")
