"""History for prompts: the budget a role gives it and the compressed form compressors return."""

from __future__ import annotations

import attrs

from weaver.model import Round


@attrs.frozen
class MemoryBudget:
    """How much of a role's prompt the history may take, in (estimated) tokens.

    ``trigger_share`` is the part of ``max_tokens`` past which a compressor should act.
    """

    max_tokens: int
    trigger_share: float = 0.5
    keep_recent_rounds: int = 3
    lists_variables: bool = False
    """The role's prompt lists the kernel's variables itself, so a summary need not name them again."""


@attrs.frozen
class CompressedMemory:
    """History as a role should show it: a summary of older rounds, then recent rounds verbatim."""

    summary: str = ""
    rounds: tuple[Round, ...] = ()
