"""The typed facade the rest of Weaver calls hooks through (never ``pm.hook`` directly).

Guard calls return a combined :class:`weaver.guards.Outcome`. Hooks whose failure must not
break a session (observers, round-end work, CLI additions) run each implementation in its
own ``try``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

from weaver.specs import Verdict, VerifyMode, Violation

if TYPE_CHECKING:
    import typer

    from weaver.config import Config
    from weaver.context import HookContext
    from weaver.events import Event
    from weaver.execution.pipeline import CodeRun
    from weaver.execution.result import ExecutionResult, VariableInfo
    from weaver.guards import Outcome
    from weaver.llm.request import LLMRequest, LLMResponse
    from weaver.memory import CompressedMemory, MemoryBudget
    from weaver.model import Round

log = logging.getLogger("weaver.extensions")


def _combined(verdicts: Iterable[Verdict | None]) -> Outcome:
    # Imported on the first guard call: ``weaver --help`` has no use for weaver.guards and
    # weaver.model (about 7 ms of class creation).
    from weaver.guards import combine

    return combine(verdicts)


def _call(impl: pluggy.HookImpl, arguments: dict[str, Any]) -> Any:
    """One implementation with the arguments it names (pluggy lets it omit the others)."""
    return impl.function(**{name: arguments[name] for name in impl.argnames})


class Hooks:
    """Typed calls into the extensions."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm

    def configure(self, config: Config) -> None:
        self.pm.hook.weaver_configure(config=config)

    def cli(self, app: typer.Typer) -> dict[str, str]:
        """Let extensions add commands; returns ``{extension: error}`` for each whose hook raised.

        A failing extension must not take the whole CLI down, so each runs in its own ``try``.
        """
        failures: dict[str, str] = {}
        for impl in reversed(self.pm.hook.weaver_cli.get_hookimpls()):
            try:
                impl.function(app=app)
            except Exception as exc:  # noqa: BLE001 - third-party code; reported, not fatal
                failures[impl.plugin_name] = f"its weaver_cli hook raised {type(exc).__name__}: {exc}"
                log.warning("extension %r could not add its commands: %s", impl.plugin_name, failures[impl.plugin_name])
        return failures

    def server_mount(self, app: Any) -> None:
        """Let extensions add to the HTTP service's application (``weaver serve``)."""
        self.pm.hook.weaver_server_mount(app=app)

    # ---- code -------------------------------------------------------------------------

    def has_verifiers(self) -> bool:
        """Whether any extension implements ``weaver_verify_code`` (without one, no code runs)."""
        return bool(self.pm.hook.weaver_verify_code.get_hookimpls())

    def verify_code(self, code: str, mode: VerifyMode, ctx: HookContext) -> list[Violation]:
        results = self.pm.hook.weaver_verify_code(code=code, mode=mode, plugins=tuple(ctx.plugins), ctx=ctx)
        return sorted((v for found in results for v in (found or ())), key=lambda v: (v.line, v.col))

    # ---- guards -----------------------------------------------------------------------

    def before_llm_call(self, request: LLMRequest, ctx: HookContext) -> Outcome:
        return _combined(self.pm.hook.weaver_before_llm_call(request=request, ctx=ctx))

    def after_llm_call(self, request: LLMRequest, response: LLMResponse, ctx: HookContext) -> Outcome:
        return _combined(self.pm.hook.weaver_after_llm_call(request=request, response=response, ctx=ctx))

    def code_refused(self, code: str, violations: Sequence[Violation], ctx: HookContext) -> Outcome:
        return _combined(self.pm.hook.weaver_code_refused(code=code, violations=tuple(violations), ctx=ctx))

    def before_execute(self, code: str, ctx: HookContext) -> Outcome:
        return _combined(self.pm.hook.weaver_before_execute(code=code, ctx=ctx))

    def after_execute(self, code: str, result: ExecutionResult, ctx: HookContext) -> Outcome:
        return _combined(self.pm.hook.weaver_after_execute(code=code, result=result, ctx=ctx))

    # ---- approval ---------------------------------------------------------------------

    def approval_reasons(self, kind: str, content: str, ctx: HookContext) -> list[str]:
        """Every reason an extension gives for a person to approve ``content`` (empty: none)."""
        reasons: list[str] = []
        for found in self.pm.hook.weaver_approval_required(kind=kind, content=content, ctx=ctx):
            if isinstance(found, str):
                reasons.append(found)
            elif found:
                reasons.extend(found)
        return list(dict.fromkeys(reasons))

    # ---- memory and feedback ------------------------------------------------------------

    def compress_memory(self, rounds: Sequence[Round], budget: MemoryBudget, ctx: HookContext) -> CompressedMemory:
        return self.pm.hook.weaver_compress_memory(rounds=tuple(rounds), budget=budget, role=ctx.role, ctx=ctx)

    def feedback(
        self, result: ExecutionResult, code: str, ctx: HookContext, variables_before: Sequence[VariableInfo] = ()
    ) -> str:
        """The text the model reads about ``result``: every trimmer in turn, then the one formatter.

        ``variables_before`` is the inventory before the code ran (empty: every variable is new).
        """
        for impl in reversed(self.pm.hook.weaver_trim_feedback.get_hookimpls()):
            trimmed = _call(impl, {"result": result, "code": code, "ctx": ctx})
            if trimmed is not None:
                result = trimmed
        return self.pm.hook.weaver_format_feedback(
            result=result, code=code, variables_before=tuple(variables_before), ctx=ctx
        )

    def summarize_attempt(self, run: CodeRun, ctx: HookContext) -> str | None:
        """The one line ``run`` is shown as once a later attempt replaces it (``None``: kept whole)."""
        summary: str | None = self.pm.hook.weaver_summarize_attempt(run=run, ctx=ctx)
        return summary

    # ---- lifecycle and observation -------------------------------------------------------

    def round_end(self, round: Round, rounds: Sequence[Round], ctx: HookContext) -> None:
        """Tell extensions a round ended; one that raises is logged, never fatal to the session."""
        self._each("weaver_round_end", {"round": round, "rounds": tuple(rounds), "ctx": ctx})

    def event(self, event: Event, ctx: HookContext | None = None) -> None:
        """Deliver an event; a subscriber that raises is logged, never fatal to the session."""
        self._each("weaver_event", {"event": event, "ctx": ctx})

    def _each(self, hook: str, arguments: dict[str, Any]) -> None:
        for impl in reversed(getattr(self.pm.hook, hook).get_hookimpls()):
            try:
                _call(impl, arguments)
            except (Exception, SystemExit):  # observers must not break sessions (rich exits on a closed pipe)
                log.exception("extension %s failed in %s", impl.plugin_name, hook)
