"""The incremental model summary, made between rounds.

The compression hook is synchronous and runs while a role builds its prompt, so it cannot
wait for a model. Instead, when a round ends (``weaver_round_end``), the rounds that the next
compression will summarize but the stored summary does not cover yet are summarized by the
model together with the previous summary, as background work of the session
(``ctx.spawn``), while the user reads the answer; the next round waits for it. The result is
kept with ``ctx.persist``, in the session's log. The compression hook uses the stored summary
when it covers the older rounds and the deterministic condensed form for any round it does
not (yet) cover, so a failed or late model call only makes the summary less polished, never
wrong or missing.

The call goes through the session's LLM port as the ``MemoryCompressor`` role, so guards
(the cost guard's budgets) judge it and its ``llm_call`` event counts in the session's cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from weaver.errors import WeaverError
from weaver.model import Round
from weaver_memory_compressor.compress import SUMMARY_KEY, Summary
from weaver_memory_compressor.history import alive_variables, deterministic_summary

if TYPE_CHECKING:
    from weaver.context import HookContext
    from weaver_memory_compressor import MemoryCompressorConfig

ALIAS = "MemoryCompressor"

INSTRUCTIONS = """\
You keep the running summary of a data-analysis conversation between a User and an \
assistant that writes and runs Python in a persistent kernel. You get the summary so far \
and the rounds that follow it, condensed. Write the updated summary of everything, as \
short plain-text notes in the order things happened. Keep: what the User asked and \
decided; the plan; files read and written; every variable name that is still alive, and \
what it holds; findings with their numbers, and every number the User was shown, printed \
or answered; what failed and why. Drop: tracebacks, retries, long tables (keep their \
headline numbers). At most {words} words. Reply with the summary only."""


def prompt(previous: Summary | None, rounds: Sequence[Round], first_number: int, alive: Sequence[str], max_chars: int) -> str:
    """The user message: the summary so far, the new rounds condensed, the live variables."""
    parts = [f"Summary so far:\n{previous.text}" if previous else "Summary so far: (none; these are the first rounds)"]
    parts.append("Rounds to add:\n" + deterministic_summary("", rounds, first_number, max_chars=max_chars))
    parts.append("Variables alive in the kernel now: " + (", ".join(alive) if alive else "(none)"))
    return "\n\n".join(parts)


async def summarize(
    ctx: HookContext,
    settings: MemoryCompressorConfig,
    previous: Summary | None,
    rounds: Sequence[Round],
    history: Sequence[Round],
) -> None:
    """Ask the model for the updated summary and persist it; on failure keep the old one.

    A failure (no model configured, a transport error, a guard's stop) is reported as a
    status event; the compression hook then goes on using the deterministic form.
    """
    from weaver.llm import ChatMessage

    me = attrs.evolve(ctx, role=ALIAS)
    first_number = len(previous.covered) + 1 if previous else 1
    messages = [
        ChatMessage("system", INSTRUCTIONS.format(words=settings.summary_words)),
        ChatMessage(
            "user", prompt(previous, rounds, first_number, alive_variables(history), settings.kept_text_chars)
        ),
    ]
    try:
        response = await ctx.llm(settings.llm, role=ALIAS).chat(messages)
    except WeaverError as exc:
        me.status(f"the memory summary failed, older rounds stay condensed deterministically: {exc}")
        return
    text = response.text.strip()
    if not text:
        me.status("the memory summary came back empty; older rounds stay condensed deterministically")
        return
    covered = (*(previous.covered if previous else ()), *(r.id for r in rounds))
    me.persist(SUMMARY_KEY, Summary(covered=covered, text=text).as_state())
    me.status(f"memory summary updated: rounds 1-{len(covered)}")
