"""The LLM service of an App, and the chat client a role or a hook gets as ``ctx.llm``.

:class:`LLMService` (one per :class:`weaver.App`, created on first use) resolves model
aliases to backends, keeps the cassette, and scrubs secrets. Its :meth:`LLMService.chat`
makes one call on behalf of a :class:`weaver.context.HookContext`: it runs the guards
with that context, streams fields, records the ``llm_call`` event through the context's
``emit``, extracts the reply and checks it. :class:`ChatClient` is the service bound to
one model alias and a source of fresh contexts, which is what roles and hooks hold.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from weaver.errors import ConfigError, RoundStopped, UnknownNameError
from weaver.events import EventType
from weaver.llm.backend import Backend, BackendRequest, Completion, StatusCallback, TextCallback
from weaver.llm.cassette import Cassette, Scrubber
from weaver.llm.config import DEFAULT_ALIAS, LLMConfig, ModelConfig, model_config
from weaver.llm.errors import LLMError, ReplyFormatError
from weaver.llm.extract import extract_reply
from weaver.llm.instructions import with_instructions
from weaver.llm.request import ChatMessage, LLMRequest, LLMResponse
from weaver.llm.stream import FieldCallback, FieldScanner
from weaver.llm.usage import call_usage, estimate_prompt_tokens, estimate_tokens
from weaver.model import Usage
from weaver.serde import to_data
from weaver.specs import VerdictAction

if TYPE_CHECKING:
    from weaver.config import Config
    from weaver.context import HookContext
    from weaver.extensions import Hooks, Registry
    from weaver.guards import Outcome

FREE_TEXT_FIELD = "text"
"""The field name ``on_field`` reports for a free-text reply (no ``reply_schema``)."""
NOT_CONFIGURED = (
    "no LLM is configured: set OPENAI_API_KEY and WEAVER_LLM__MODEL (or OPENAI_BASE_URL for a local "
    "OpenAI-compatible server), or model, api_key and base_url under [llm] in weaver.toml"
)


class LLMService:
    """Model aliases, their backends (built on first use) and the cassette, for one App."""

    def __init__(
        self, config: Config, registry: Registry, hooks: Hooks, environ: Mapping[str, str], project_dir: Path
    ) -> None:
        self.config = config
        self.settings = config.table(LLMConfig)
        self._registry = registry
        self._hooks = hooks
        self._environ = environ
        self._project_dir = project_dir
        self._models: dict[str, ModelConfig] = {}
        self._backends: dict[str, Backend] = {}
        self._cassette: Cassette | None = None
        self.scrubber = Scrubber(secrets=self._secrets(), paths=(str(project_dir),))

    def model(self, alias: str) -> ModelConfig:
        """The effective settings of ``alias``, with its API key read from ``api_key_env``."""
        if alias not in self._models:
            model = model_config(self.config, alias)
            if model.api_key_env and not model.api_key:
                model = attrs.evolve(model, api_key=self._environ.get(model.api_key_env, ""))
            table = "llm" if alias == DEFAULT_ALIAS else f"llm.models.{alias}"
            if not model.model:
                message = NOT_CONFIGURED if alias == DEFAULT_ALIAS else f"model alias {alias!r} has no model: set [{table}] model"
                raise ConfigError(message, table=table, key="model")
            live = self.settings.mode != "replay"
            if live and model.backend == "openai" and not (model.api_key or model.base_url):
                env = model.api_key_env or "OPENAI_API_KEY"
                raise ConfigError(f"no API key for model alias {alias!r}: set {env} or [{table}] api_key", table=table, key="api_key")
            self._models[alias] = model
        return self._models[alias]

    def backend(self, alias: str) -> Backend:
        if alias not in self._backends:
            model = self.model(alias)
            spec = self._registry.llm_backends.get(model.backend)
            if spec is None:
                raise UnknownNameError(
                    f"set by [llm] backend for alias {alias!r}", kind="LLM backend", name=model.backend,
                    known=tuple(sorted(self._registry.llm_backends)),
                )
            self._backends[alias] = spec.factory(model)
        return self._backends[alias]

    def alias_for(self, role_name: str) -> str:
        """The model alias a role calls: ``[<role>] llm`` when its table has one, else the default."""
        table = self.config.tables.get(role_name)
        return getattr(table, "llm", None) or DEFAULT_ALIAS

    async def complete(
        self, alias: str, request: BackendRequest, on_text: TextCallback, on_status: StatusCallback
    ) -> Completion:
        """Serve ``request`` from the cassette or the backend, as the mode says; record if asked."""
        mode = self.settings.mode
        if mode in ("replay", "replay_or_record"):
            recording = self.cassette.lookup(request)
            if recording is not None:
                for chunk in recording.chunks:
                    on_text(chunk)
                return recording.completion
            if mode == "replay":
                raise self.cassette.miss(request)
        chunks: list[str] = []

        def tee(delta: str) -> None:
            chunks.append(delta)
            on_text(delta)

        backend, limit = self.backend(alias), self.model(alias).total_timeout
        try:
            completion = await asyncio.wait_for(backend.complete(request, tee, on_status), limit)
        except TimeoutError:
            raise LLMError(
                f"LLM call to {backend.endpoint} failed: no complete reply within {limit:g} s ([llm] total_timeout)",
                endpoint=backend.endpoint,
            ) from None
        if mode in ("record", "replay_or_record"):
            self.cassette.record(request, chunks, completion)
        return completion

    @property
    def cassette(self) -> Cassette:
        if self._cassette is None:
            if not self.settings.cassette:
                raise ConfigError(
                    f"llm.mode is {self.settings.mode!r} but no cassette is set: set [llm] cassette or WEAVER_LLM__CASSETTE",
                    table="llm", key="cassette",
                )
            path = self._project_dir / self.settings.cassette
            self._cassette = Cassette(path, self.scrubber, truncate=self.settings.mode == "record")
        return self._cassette

    def scrub(self, text: str) -> str:
        return self.scrubber.secret_free(text)

    async def aclose(self) -> None:
        for backend in self._backends.values():
            await backend.aclose()
        self._backends.clear()
        if self._cassette is not None:
            self._cassette.close()

    def _secrets(self) -> tuple[str, ...]:
        models = (self.settings, *self.settings.models.values())
        values = {m.api_key for m in models} | {self._environ.get(m.api_key_env, "") for m in models if m.api_key_env}
        return tuple(sorted((v for v in values if v), key=len, reverse=True))


    async def chat(
        self,
        messages: Sequence[ChatMessage | Mapping[str, str]],
        *,
        ctx: HookContext,
        alias: str = DEFAULT_ALIAS,
        reply_schema: Mapping[str, Any] | None = None,
        schema_name: str = "reply",
        on_field: FieldCallback | None = None,
    ) -> LLMResponse:
        """Call the model on ``alias`` for ``ctx`` (its role, round and session) and return its reply.

        With ``reply_schema``, the reply is extracted, unwrapped and checked; a reply that does
        not fit raises :class:`ReplyFormatError` whose ``feedback`` the role can send back.
        ``on_field(field, delta)`` is called as top-level string fields of the reply grow (for
        free text: ``on_field("text", delta)``). A ``stop`` from a guard raises
        :class:`weaver.errors.RoundStopped`; a transport failure raises :class:`LLMError`.
        """
        chat_messages = tuple(m if isinstance(m, ChatMessage) else ChatMessage(m["role"], m["content"]) for m in messages)  # type: ignore[arg-type]
        request = LLMRequest(
            role=ctx.role,
            model=alias,
            messages=chat_messages,
            reply_schema=reply_schema,
            schema_name=schema_name,
            estimated_prompt_tokens=estimate_prompt_tokens(chat_messages),
        )
        before = self._hooks.before_llm_call(request, ctx)
        _obey(before, ctx)
        injected = [v.message for v in before.verdicts if v.action is VerdictAction.inject]
        if injected:
            request = attrs.evolve(request, messages=(*request.messages, ChatMessage("system", "\n".join(injected))))
        model = self.model(alias)
        backend_request = BackendRequest(
            model=model.model,
            messages=with_instructions(request.messages, reply_schema, model.json_mode),
            json_mode=model.json_mode,
            reply_schema=reply_schema,
            schema_name=schema_name,
        )
        started = time.monotonic()
        completion = await self._call(ctx, alias, model, backend_request, _text_consumer(on_field, reply_schema is not None))
        latency = time.monotonic() - started
        usage = call_usage(model, backend_request.messages, completion.text, completion.prompt_tokens, completion.completion_tokens)
        data, problem = None, None
        if reply_schema is not None:
            try:
                data = extract_reply(completion.text, reply_schema, model.max_reply_chars)
            except ReplyFormatError as exc:
                problem = exc
        self._record(ctx, alias, model, usage, latency, "ok" if problem is None else f"invalid_reply: {problem}")
        response = LLMResponse(text=completion.text, data=data, usage=usage, model=model.model, latency_s=latency)
        _obey(self._hooks.after_llm_call(request, response, ctx), ctx)
        if problem is not None:
            raise problem
        return response

    async def _call(
        self, ctx: HookContext, alias: str, model: ModelConfig, request: BackendRequest, on_text: TextCallback
    ) -> Completion:
        """Send the request; a failed or cancelled call is recorded before the error goes on."""
        received: list[str] = []

        def receive(delta: str) -> None:
            received.append(delta)
            on_text(delta)

        started = time.monotonic()
        try:
            return await self.complete(alias, request, receive, ctx.status)
        except (LLMError, asyncio.CancelledError) as exc:
            usage = Usage(llm_calls=1)
            if received:
                # Text arrived before the failure, so the call cost tokens: record an estimate.
                usage = Usage(
                    prompt_tokens=estimate_prompt_tokens(request.messages),
                    completion_tokens=estimate_tokens("".join(received)),
                    llm_calls=1,
                    estimated=True,
                )
            outcome = "cancelled" if isinstance(exc, asyncio.CancelledError) else f"error: {str(exc).splitlines()[0]}"
            self._record(ctx, alias, model, usage, time.monotonic() - started, outcome)
            raise

    def _record(self, ctx: HookContext, alias: str, model: ModelConfig, usage: Usage, latency: float, outcome: str) -> None:
        ctx.emit(
            ctx.event(
                EventType.llm_call,
                model=model.model,
                alias=alias,
                role=ctx.role,
                usage=to_data(usage),
                latency_s=round(latency, 3),
                outcome=self.scrub(outcome),
            )
        )


def _obey(outcome: Outcome, ctx: HookContext) -> None:
    """Stop the round on a ``stop`` verdict; report warnings as status events."""
    stopped = outcome.stopped
    if stopped is not None:
        raise RoundStopped(f"{stopped.message} ({stopped.source})" if stopped.source else stopped.message)
    for verdict in outcome.verdicts:
        if verdict.action is VerdictAction.warn:
            ctx.status(f"warning from {verdict.source or 'a guard'}: {verdict.message}")


class ChatClient:
    """The LLM as a role or a hook holds it: one model alias, each call made for a fresh context.

    ``context()`` is called at every call, so guards see the usage of that moment. The
    client keeps only that port and the service's ``chat``, never the service itself.
    ``one_at_a_time`` (the session's) makes a session's calls, background work's included,
    wait for each other: each is judged by the guards only once the one before it is
    recorded, so no two are in flight when the second could cross a budget.
    """

    def __init__(
        self,
        service: LLMService,
        alias: str,
        context: Callable[[], HookContext],
        one_at_a_time: asyncio.Lock | None = None,
    ) -> None:
        self.alias = alias
        chat = service.chat
        lock = one_at_a_time

        async def call(messages: Sequence[ChatMessage | Mapping[str, str]], **options: Any) -> LLMResponse:
            if lock is None:
                return await chat(messages, ctx=context(), alias=alias, **options)
            async with lock:
                return await chat(messages, ctx=context(), alias=alias, **options)

        self._call = call

    async def chat(
        self,
        messages: Sequence[ChatMessage | Mapping[str, str]],
        *,
        reply_schema: Mapping[str, Any] | None = None,
        schema_name: str = "reply",
        on_field: FieldCallback | None = None,
    ) -> LLMResponse:
        """Call the model; see :meth:`LLMService.chat`."""
        return await self._call(messages, reply_schema=reply_schema, schema_name=schema_name, on_field=on_field)


def _text_consumer(on_field: FieldCallback | None, structured: bool) -> TextCallback:
    """Where streamed text goes: through the field scanner for JSON replies, as ``text`` otherwise."""
    if on_field is None:
        return lambda delta: None
    if structured:
        return FieldScanner(on_field).feed
    return lambda delta: on_field(FREE_TEXT_FIELD, delta)
