"""The ``[llm]`` config table: default model settings, named model aliases, recording mode.

.. code-block:: toml

    [llm]                       # the "default" model alias
    model = "gpt-4o-mini"
    # api_key comes from OPENAI_API_KEY, base_url from OPENAI_BASE_URL
    input_price_per_million = 0.15
    output_price_per_million = 0.60

    [llm.models.local]          # another alias; unset keys inherit from [llm]
    model = "qwen2.5-coder:7b"
    base_url = "http://localhost:11434/v1"
    json_mode = "json_object"

    [planner]
    llm = "local"               # the planner uses the "local" alias

``mode`` and ``cassette`` select recording and replay (``WEAVER_LLM__MODE=replay``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

import attrs

from weaver.config import at_least, greater_than
from weaver.errors import ConfigError
from weaver.llm.extract import DEFAULT_MAX_REPLY_CHARS

if TYPE_CHECKING:
    from weaver.config import Config

DEFAULT_ALIAS = "default"
JsonMode = Literal["json_schema", "json_object", "text"]
Mode = Literal["live", "record", "replay", "replay_or_record"]


@attrs.frozen
class ModelConfig:
    """How to reach one model and what it costs (``[llm]`` itself, or ``[llm.models.<alias>]``)."""

    backend: str = "openai"
    """The backend that serves it: ``openai`` (built in) or one an extension registers."""
    model: str = ""
    """The provider's model name (for Azure: the deployment name)."""
    base_url: str = ""
    """Any OpenAI-compatible endpoint (Ollama, vLLM, LM Studio, a LiteLLM proxy...); empty: OpenAI."""
    api_key: str = ""
    api_key_env: str = ""
    """The environment variable holding the key, when it is not ``OPENAI_API_KEY``."""
    api_type: Literal["openai", "azure"] = "openai"
    api_version: str = ""
    """Azure OpenAI's API version (with ``api_type = "azure"`` and ``base_url`` = the Azure endpoint)."""
    json_mode: JsonMode = "json_schema"
    """How JSON is asked for: a strict JSON schema (the role's schema must then follow the provider's
    strict rules: every property required, ``additionalProperties: false``), JSON object mode, or
    instructions in the prompt (for servers that support neither)."""
    stream: bool = True
    temperature: float | None = None
    connect_timeout: float = attrs.field(default=10.0, validator=greater_than(0))
    read_timeout: float = attrs.field(default=120.0, validator=greater_than(0))
    """Seconds to wait for the next bytes of a reply (also the first byte of a stream)."""
    total_timeout: float = attrs.field(default=600.0, validator=greater_than(0))
    """Seconds one call may take in all, retries included: a server that trickles bytes just
    fast enough to keep ``read_timeout`` happy still ends here."""
    max_retries: int = attrs.field(default=3, validator=at_least(0))
    """Retries after a 429, a 5xx, a timeout or a connection error (0: none). A refused
    connection is not retried: nothing listens at the address."""
    retry_backoff: float = attrs.field(default=0.5, validator=at_least(0))
    """The first backoff in seconds; it doubles per retry (with jitter) when no Retry-After is given."""
    max_retry_wait: float = attrs.field(default=60.0, validator=at_least(0))
    """The longest wait between retries; a longer ``Retry-After`` gives up at once."""
    input_price_per_million: float = attrs.field(default=0.0, validator=at_least(0))
    output_price_per_million: float = attrs.field(default=0.0, validator=at_least(0))
    max_reply_chars: int = attrs.field(default=DEFAULT_MAX_REPLY_CHARS, validator=at_least(1))
    """The longest reply parsed as JSON, in characters (1 MiB); a longer one is refused with a
    correction asking for a short reply, and only its head is kept for the retry."""


@attrs.frozen
class LLMConfig(ModelConfig):
    """``[llm]``: the default model's settings, named aliases, and recording or replay."""

    models: Mapping[str, ModelConfig] = attrs.field(factory=dict)
    mode: Mode = "live"
    """``live``, ``record`` (write every call to ``cassette``), ``replay`` (serve only from it,
    no network) or ``replay_or_record`` (replay what is there, record the rest)."""
    cassette: str = ""
    """The cassette file (JSON lines), relative to the project directory."""


def model_config(config: Config, alias: str) -> ModelConfig:
    """The effective settings of a model alias: its own table over the top-level ``[llm]``.

    A key an alias does not set inherits the ``[llm]`` value, so one API key or price can be
    shared (an alias that sets ``api_key_env`` uses that variable, not the inherited key);
    which keys were set is read from the configuration's provenance.
    """
    llm: LLMConfig = config.table("llm")
    base = ModelConfig(**{f.name: getattr(llm, f.name) for f in attrs.fields(ModelConfig)})
    if alias == DEFAULT_ALIAS:
        return base
    if alias not in llm.models:
        known = ", ".join([DEFAULT_ALIAS, *sorted(llm.models)])
        raise ConfigError(f"no model alias {alias!r}; define [llm.models.{alias}] (known: {known})", table="llm", key="models")
    own = llm.models[alias]
    prefix = f"llm.models.{alias}."
    changed = {f.name: getattr(own, f.name) for f in attrs.fields(ModelConfig) if prefix + f.name in config.sources}
    if "api_key_env" in changed and "api_key" not in changed:
        changed["api_key"] = ""  # the alias names its own key's variable: don't inherit [llm]'s key
    return attrs.evolve(base, **changed)
