"""weaver-memory-compressor: older rounds summarized from the first rounds on, so prompts stop growing.

On ``weaver_compress_memory`` (the history a role is about to put in its prompt): the last
``verbatim_rounds`` rounds stay verbatim and the older ones become one bounded summary (with
``verbatim_rounds = 0``: only once the estimated tokens pass ``budget.trigger_share`` of
``budget.max_tokens``), followed by what each summarized round showed the User (a printed
number is a fact later rounds need, whatever the summary kept; bounded, see
:func:`weaver_memory_compressor.history.results_shown`) and the names of the variables
still alive in the kernel.

The summary is the model's incremental summary (the previous summary plus the rounds that
have just become old), written when a round ends (``weaver_round_end`` starts it with
``ctx.spawn``; the next round waits for it) and kept in the session's log
(``ctx.persist``), so a resumed session or another process reuses it instead of summarizing
again; see :mod:`weaver_memory_compressor.summarize`. Rounds the model has not summarized
(yet, or because it failed) are condensed deterministically: request, plan, code that ran,
failures by class, answer; outputs are dropped.

.. code-block:: toml

    [memory_compressor]
    summarize_with_llm = true   # false: deterministic summaries only, no extra LLM calls
    llm = "cheap"               # model alias for summaries; unset: the default model
    summary_words = 250
    kept_text_chars = 600       # cap on each plan, code block and answer kept per round
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from weaver.config import at_least
from weaver.hookspecs import hookimpl
from weaver.specs import ConfigTable

if TYPE_CHECKING:
    from weaver.context import HookContext
    from weaver.memory import CompressedMemory, MemoryBudget
    from weaver.model import Round

NAME = "memory_compressor"


@attrs.frozen
class MemoryCompressorConfig:
    """``[memory_compressor]``: how older rounds are summarized."""

    summarize_with_llm: bool = True
    """Ask the model for an incremental summary between rounds (else deterministic only)."""
    llm: str | None = None
    """The model alias that writes summaries; ``None`` uses ``[llm]`` itself."""
    summary_words: int = attrs.field(default=250, validator=at_least(1))
    """The longest summary the model is asked for."""
    kept_text_chars: int = attrs.field(default=600, validator=at_least(1))
    """The cap on each request, plan, code block and answer a condensed round keeps."""
    verbatim_rounds: int = attrs.field(default=1, validator=at_least(0))
    """Rounds kept verbatim; older ones are summarized from the first rounds on, so prompts
    stop growing early. 0: only once the history passes its budget's trigger."""
    shown_chars: int = attrs.field(default=80, validator=at_least(1))
    """What each summarized round showed the User (its value or printout), kept in this many characters."""
    shown_max_tokens: int = attrs.field(default=400, validator=at_least(0))
    """The most tokens those lines take; past it the oldest without a number printed with a
    name go first, then the oldest of the rest."""


@hookimpl
def weaver_config_tables() -> list[ConfigTable]:
    return [ConfigTable(NAME, MemoryCompressorConfig, "Summaries of older rounds")]


@hookimpl
def weaver_compress_memory(rounds: Sequence[Round], budget: MemoryBudget, ctx: HookContext) -> CompressedMemory | None:
    from weaver.llm.usage import estimate_tokens
    from weaver_memory_compressor.compress import compress

    settings = ctx.config.table(MemoryCompressorConfig)
    return compress(
        rounds,
        budget,
        ctx,
        estimate=estimate_tokens,
        max_chars=settings.kept_text_chars,
        verbatim=settings.verbatim_rounds,
        shown_chars=settings.shown_chars,
        shown_max_tokens=settings.shown_max_tokens,
    )


@hookimpl
def weaver_round_end(rounds: Sequence[Round], ctx: HookContext) -> None:
    settings = ctx.config.table(MemoryCompressorConfig)
    if not settings.summarize_with_llm:
        return
    from weaver_memory_compressor.compress import pending_work
    from weaver_memory_compressor.summarize import summarize

    work = pending_work(rounds, ctx)
    if work is not None:
        previous, new_rounds = work
        ctx.spawn(summarize(ctx, settings, previous, new_rounds, rounds))
