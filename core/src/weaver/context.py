"""The one context every runtime hook, the LLM client and the code pipeline receive.

A :class:`HookContext` is a frozen snapshot of what is known about the session at the moment
of a hook call: which session, round, role and plan step it is about, the effective
configuration, the usage so far, the plugins code can call. It also carries the session's
*ports*, the only ways an extension acts on a session:

- ``emit(event)`` publishes an event (durable ones go to the session's log first);
- ``spawn(coro)`` starts background work that the session owns: the next round waits for it,
  and closing the session awaits it, so nothing it does is lost or overlaps a budget check;
- ``llm(alias, role=...)`` is a chat client whose calls are guarded and recorded like any
  role's (for work started with ``spawn``, such as a summary written between rounds);
- ``approve(request)`` asks a person to approve code or a plan and waits for the answer
  (:mod:`weaver.approvals`).

What belongs to a session lives in the session, never in an extension's module:
``scratch`` is a dictionary for the current round (a guard's counters), and ``state`` holds
what extensions :meth:`HookContext.persist`-ed, rebuilt from the log when the session is
resumed, so a resumed session or a second process sees it too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Mapping, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from weaver.events import Event, EventType
from weaver.model import Usage
from weaver.specs import PluginSpec

if TYPE_CHECKING:
    from weaver.approvals import ApprovalAnswer, ApprovalRequest
    from weaver.config import Config
    from weaver.llm.request import ChatMessage, LLMResponse

FieldCallback = Callable[[str, str], None]
"""``on_field(field, delta)``: a top-level string field of a JSON reply grew by ``delta``."""


class ChatPort(Protocol):
    """A chat client bound to one model alias and one calling role."""

    async def chat(
        self,
        messages: Sequence[ChatMessage | Mapping[str, str]],
        *,
        reply_schema: Mapping[str, Any] | None = None,
        schema_name: str = "reply",
        on_field: FieldCallback | None = None,
    ) -> LLMResponse:
        """Call the model; see :meth:`weaver.llm.service.LLMService.chat`."""
        ...


class LLMPort(Protocol):
    """``ctx.llm(alias=None, role=None)``: a chat client on ``alias`` (``None``: the default model)
    whose calls are made, guarded and recorded as ``role`` (``None``: the context's role)."""

    def __call__(self, alias: str | None = None, *, role: str | None = None) -> ChatPort: ...


def _discard(event: Event) -> None:
    """The ``emit`` of a context that belongs to no session (tests, ``weaver check``)."""


def _no_background(coro: Coroutine[Any, Any, Any]) -> None:
    coro.close()
    raise RuntimeError("this context belongs to no session, so it cannot start background work")


def _no_llm(alias: str | None = None, *, role: str | None = None) -> ChatPort:
    raise RuntimeError("this context belongs to no session, so it has no LLM client")


async def _nobody_to_ask(request: ApprovalRequest) -> ApprovalAnswer:
    raise RuntimeError("this context belongs to no session, so there is nobody to ask for approval")


@attrs.frozen(kw_only=True)
class HookContext:
    """What a hook knows about the session it serves, and the session's ports.

    ``step`` is the Planner's current plan step, when there is one. ``session_usage`` and
    ``round_usage`` are the tokens, money and calls spent so far. ``session_rounds`` counts
    the rounds that ended before the current one. ``plugins`` are the plugins generated code
    may call, by name (a guard reads ``PluginSpec.batch`` there).
    """

    session_id: str
    config: Config
    round_id: str | None = None
    role: str = ""
    step: str | None = None
    session_usage: Usage = Usage()
    round_usage: Usage = Usage()
    session_rounds: int = 0
    plugins: Mapping[str, PluginSpec] = attrs.field(factory=dict)
    scratch: MutableMapping[str, Any] = attrs.field(factory=dict, repr=False)
    """The current round's scratch space; a hook keeps its own state under its own key."""
    state: Mapping[str, Any] = attrs.field(factory=dict, repr=False)
    """What extensions persisted for this session, by key (read-only; see :meth:`persist`)."""
    emit: Callable[[Event], None] = attrs.field(default=_discard, repr=False)
    spawn: Callable[[Coroutine[Any, Any, Any]], None] = attrs.field(default=_no_background, repr=False)
    llm: LLMPort = attrs.field(default=_no_llm, repr=False)
    approve: Callable[[ApprovalRequest], Awaitable[ApprovalAnswer]] = attrs.field(default=_nobody_to_ask, repr=False)

    @property
    def round_llm_calls(self) -> int:
        """LLM calls made so far in the current round."""
        return self.round_usage.llm_calls

    def event(self, type: EventType | str, /, post_id: str | None = None, **data: Any) -> Event:
        """An event of this session and round (not yet emitted)."""
        return Event(type, self.session_id, self.round_id, post_id, data)

    def status(self, message: str) -> None:
        """Say what is happening now (``calling the model``, ``executing code``...)."""
        self.emit(self.event(EventType.status, message=message, role=self.role))

    def persist(self, key: str, value: Any) -> None:
        """Store ``value`` (JSON values) under ``key`` for the rest of this session.

        It is written to the session's log as a durable ``state`` event, so ``state[key]``
        holds it from now on, after a resume and in another process. Use your extension's
        name as the key's prefix (``memory_compressor.summary``).
        """
        self.emit(self.event(EventType.state, key=key, value=value))


GuardContext = HookContext
"""The name guards' context had before every hook received a :class:`HookContext`; deprecated."""
