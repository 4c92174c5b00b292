"""Tokens and money: usage from the API (or an estimate, marked as such), prices, reports.

Every call is recorded as an ``llm_call`` event whose ``usage`` holds the tokens and the
cost at the configured prices; :func:`cost_report` adds those up per role, round and model,
so cost is always derived from the session's own log.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

import attrs

from weaver.events import Event, EventType
from weaver.llm.config import ModelConfig
from weaver.llm.request import ChatMessage
from weaver.model import Usage

CHARS_PER_TOKEN = 4
"""A rough average for English text and code; only used when a backend reports no usage."""
MESSAGE_OVERHEAD_TOKENS = 4


def estimate_tokens(text: str) -> int:
    """A rough token count of ``text`` (no tokenizer is downloaded at run time)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def estimate_prompt_tokens(messages: Sequence[ChatMessage]) -> int:
    """A rough token count of a chat prompt, including each message's framing."""
    return sum(estimate_tokens(m.content) + MESSAGE_OVERHEAD_TOKENS for m in messages)


def price(prompt_tokens: int, completion_tokens: int, model: ModelConfig) -> float:
    """Money for the tokens at the model's prices per million input and output tokens."""
    return (
        prompt_tokens * model.input_price_per_million + completion_tokens * model.output_price_per_million
    ) / 1_000_000


def call_usage(
    model: ModelConfig,
    messages: Sequence[ChatMessage],
    text: str,
    prompt_tokens: int | None,
    completion_tokens: int | None,
) -> Usage:
    """The usage of one call: the API's counts, or estimates (``estimated=True``) where it gave none."""
    estimated = prompt_tokens is None or completion_tokens is None
    prompt = estimate_prompt_tokens(messages) if prompt_tokens is None else prompt_tokens
    completion = estimate_tokens(text) if completion_tokens is None else completion_tokens
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        cost=price(prompt, completion, model),
        llm_calls=1,
        estimated=estimated,
    )


@attrs.frozen
class CostReport:
    """Usage added up from ``llm_call`` events: in total, and per role, round and model.

    ``failed_calls`` counts calls that ended in a transport error (they cost nothing but
    count as calls).
    """

    total: Usage = attrs.field(factory=Usage)
    by_role: Mapping[str, Usage] = attrs.field(factory=dict)
    by_round: Mapping[str, Usage] = attrs.field(factory=dict)
    by_model: Mapping[str, Usage] = attrs.field(factory=dict)
    failed_calls: int = 0


def cost_report(events: Iterable[Event]) -> CostReport:
    """Aggregate the ``llm_call`` events of a session (or of many) into a :class:`CostReport`."""
    total = Usage()
    groups: dict[str, dict[str, Usage]] = {"role": defaultdict(Usage), "round": defaultdict(Usage), "model": defaultdict(Usage)}
    failed = 0
    for event in events:
        if event.type is not EventType.llm_call:
            continue
        usage = Usage(**event.data.get("usage", {}))
        total = total + usage
        for kind, key in (("role", event.data.get("role")), ("round", event.round_id), ("model", event.data.get("model"))):
            groups[kind][key or "?"] += usage
        failed += str(event.data.get("outcome", "")).startswith("error")
    return CostReport(
        total=total,
        by_role=dict(groups["role"]),
        by_round=dict(groups["round"]),
        by_model=dict(groups["model"]),
        failed_calls=failed,
    )
