"""weaver-cost-guard: token, money, call and round budgets, and ``weaver cost SESSION``.

Before every LLM call (``weaver_before_llm_call``) the guard adds the call's estimated
prompt to what the session has spent and refuses the call (a ``stop`` verdict, which ends
the round with the message) when a budget has no room left for it. The message says which
budget, what was spent and what was achieved; the work done so far is kept.

.. code-block:: toml

    [cost_guard]
    max_session_tokens = 1000000   # 0 turns a budget off
    max_session_cost = 2.50        # in the currency of the [llm] prices
    max_round_llm_calls = 50
    max_session_rounds = 100
    missing_price = "error"        # or "warn": the money budget off for a model with no price

``weaver cost SESSION [--json]`` reports tokens and money per role, per round and per model
from the session's event log.

This module is the entry point and stays light: the budget logic and the report are
imported when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from weaver.config import at_least, one_of
from weaver.errors import ConfigError
from weaver.hookspecs import hookimpl
from weaver.specs import ConfigTable, Verdict

if TYPE_CHECKING:
    import typer

    from weaver.config import Config
    from weaver.context import HookContext
    from weaver.llm import LLMRequest
    from weaver.llm.config import ModelConfig

NAME = "cost_guard"


@attrs.frozen
class CostGuardConfig:
    """``[cost_guard]``: budgets checked before every LLM call; ``0`` turns a budget off."""

    max_session_tokens: int = attrs.field(default=1_000_000, validator=at_least(0))
    """Prompt plus completion tokens of every call in the session."""
    max_session_cost: float = attrs.field(default=0.0, validator=at_least(0))
    """Money per session in the currency of the ``[llm]`` prices (off by default, like the prices)."""
    max_round_llm_calls: int = attrs.field(default=50, validator=at_least(0))
    """LLM calls one round may make; a round that loops between roles hits this."""
    max_session_rounds: int = attrs.field(default=100, validator=at_least(0))
    """Rounds (user requests) one session may have."""
    missing_price: str = attrs.field(default="error", validator=one_of("error", "warn"))
    """With a money budget, a model without a price: ``error`` at start, or ``warn`` on each
    call with the money budget off for that model."""


@hookimpl
def weaver_config_tables() -> list[ConfigTable]:
    return [ConfigTable(NAME, CostGuardConfig, "Token, money, call and round budgets")]


def unpriced_models(config: Config) -> list[str]:
    """The model aliases with a model but no price, by the name their table has."""
    from weaver.llm.config import DEFAULT_ALIAS, model_config

    llm = config.table("llm")
    aliases = [DEFAULT_ALIAS, *llm.models]
    found = []
    for alias in aliases:
        model = model_config(config, alias)
        if model.model and not (model.input_price_per_million or model.output_price_per_million):
            found.append("[llm]" if alias == DEFAULT_ALIAS else f"[llm.models.{alias}]")
    return found


@hookimpl
def weaver_configure(config: Config) -> None:
    limits = config.table(CostGuardConfig)
    if not limits.max_session_cost or limits.missing_price != "error":
        return
    missing = unpriced_models(config)
    if missing:
        raise ConfigError(
            f"max_session_cost = {limits.max_session_cost:g} needs a price for every model, and "
            f"{', '.join(missing)} has none: set input_price_per_million and output_price_per_million there, "
            'or missing_price = "warn" to run with the money budget off for it',
            table=NAME,
            key="max_session_cost",
        )


@hookimpl
def weaver_before_llm_call(request: LLMRequest, ctx: HookContext) -> Verdict | None:
    from weaver_cost_guard.budget import NextCall, refusal

    limits = ctx.config.table(CostGuardConfig)
    model = _model(request, ctx.config)
    priced = bool(model.input_price_per_million or model.output_price_per_million)
    call = NextCall(
        role=request.role,
        estimated_prompt_tokens=request.estimated_prompt_tokens,
        estimated_prompt_cost=_prompt_cost(request, ctx.config) if limits.max_session_cost else 0.0,
        session_usage=ctx.session_usage,
        round_llm_calls=ctx.round_llm_calls,
        session_rounds=ctx.session_rounds,
    )
    why = refusal(limits, call)
    if why:
        return Verdict.stop(why, source=NAME)
    if limits.max_session_cost and not priced:
        return Verdict.warn(
            f"the money budget ({limits.max_session_cost:g}) does not count this call: model alias "
            f"{request.model!r} has no price ([cost_guard] missing_price = \"warn\")",
            source=NAME,
        )
    return None


def _model(request: LLMRequest, config: Config) -> ModelConfig:
    from weaver.llm.config import model_config

    return model_config(config, request.model)


def _prompt_cost(request: LLMRequest, config: Config) -> float:
    from weaver.llm.usage import price

    return price(request.estimated_prompt_tokens, 0, _model(request, config))


@hookimpl
def weaver_cli(app: typer.Typer) -> None:
    from weaver_cost_guard.cli import register

    register(app)
