"""weaver-memory-compressor: older rounds summarized once the history outgrows its budget.

On ``weaver_compress_memory`` (the history a role is about to put in its prompt): when the
estimated tokens pass ``budget.trigger_share`` of ``budget.max_tokens``, the last
``budget.keep_recent_rounds`` rounds stay verbatim and the older ones become one summary,
ending with the names of the variables still alive in the kernel.

The summary is the model's incremental summary (the previous summary plus the rounds that
have just become old), made when a round ends (``weaver_event`` on ``round_end``) because the
compression hook itself is synchronous; see :mod:`weaver_memory_compressor.summarize`. Rounds
the model has not summarized (yet, or because it failed) are condensed deterministically:
request, plan, code that ran, failures by class, answer; outputs are dropped.

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

from weaver.errors import ConfigError
from weaver.events import EventType
from weaver.hookspecs import hookimpl
from weaver.specs import ConfigTable

if TYPE_CHECKING:
    import asyncio

    from weaver.config import Config
    from weaver.engine import Session
    from weaver.events import Event
    from weaver.memory import CompressedMemory, MemoryBudget
    from weaver.model import Round
    from weaver_memory_compressor.compress import SummaryStore

NAME = "memory_compressor"


@attrs.frozen
class MemoryCompressorConfig:
    """``[memory_compressor]``: how older rounds are summarized."""

    summarize_with_llm: bool = True
    """Ask the model for an incremental summary between rounds (else deterministic only)."""
    llm: str | None = None
    """The model alias that writes summaries; ``None`` uses ``[llm]`` itself."""
    summary_words: int = 250
    """The longest summary the model is asked for."""
    kept_text_chars: int = 600
    """The cap on each request, plan, code block and answer a condensed round keeps."""


_kept_chars = MemoryCompressorConfig().kept_text_chars
"""``kept_text_chars`` of the configuration last seen: the compression hook has no config argument."""
_store: SummaryStore | None = None
pending: set[asyncio.Task[None]] = set()
"""Summaries being made (held so the loop does not drop them half-way); empty when all are done."""


def store() -> SummaryStore:
    """The summaries of every session in this process (created on first use)."""
    global _store
    if _store is None:
        from weaver_memory_compressor.compress import SummaryStore

        _store = SummaryStore()
    return _store


@hookimpl
def weaver_config_tables() -> list[ConfigTable]:
    return [ConfigTable(NAME, MemoryCompressorConfig, "Summaries of older rounds")]


@hookimpl
def weaver_configure(config: Config) -> None:
    global _kept_chars
    if NAME not in config.tables:
        # The hook is historic: registered late, this extension also gets configurations
        # built before it was, which have no table of its own.
        return
    settings: MemoryCompressorConfig = config.table(NAME)
    for key in ("summary_words", "kept_text_chars"):
        if getattr(settings, key) <= 0:
            raise ConfigError("must be positive", source=config.sources.get(f"{NAME}.{key}", ""), table=NAME, key=key)
    _kept_chars = settings.kept_text_chars


@hookimpl
def weaver_compress_memory(rounds: Sequence[Round], budget: MemoryBudget, role: str) -> CompressedMemory | None:
    from weaver.llm.usage import estimate_tokens
    from weaver_memory_compressor.compress import compress

    return compress(rounds, budget, role, store=store(), estimate=estimate_tokens, max_chars=_kept_chars)


@hookimpl
def weaver_event(event: Event, session: Session | None) -> None:
    if event.type is not EventType.round_end or session is None:
        return
    settings: MemoryCompressorConfig = session.app.config.table(NAME)
    if not settings.summarize_with_llm:
        return
    rounds = session.rounds
    work = store().claim(rounds)
    if work is None:
        return
    from weaver_memory_compressor.summarize import summarize

    previous, new_rounds = work

    async def run() -> None:
        try:
            await summarize(
                session, store(), previous, new_rounds, words=settings.summary_words, max_chars=settings.kept_text_chars
            )
        finally:
            store().release(rounds)

    import asyncio  # here, not at the top: `weaver --help` imports every extension

    task = asyncio.get_running_loop().create_task(run())
    pending.add(task)
    task.add_done_callback(pending.discard)
