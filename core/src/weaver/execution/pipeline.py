"""The verified pipeline: the only way a role runs code (``await ctx.run_code(code, mode)``).

One call takes generated code through every check, in order, and stops at the first that
refuses it:

1. every verifier (``weaver_verify_code``): all violations are collected. A verifier that
   crashes, or no verifier at all, blocks the code: nothing unjudged runs. Refused code is
   shown to the ``weaver_code_refused`` guards, whose ``stop`` ends the step's retries;
2. the ``before_execute`` guards: a ``stop`` verdict means the code does not run; a ``warn``
   is published as a status event before the code runs;
   then, when a policy asks for it (``weaver_approval_required``, ``[approval] code``), a
   person approves, edits (the edited code is verified again) or rejects it (the model is
   told why);
3. the session's executor runs it, with what the plugin call budget's scope has left
   (:mod:`weaver.plugins.budget`) and the host's answerer of host plugin calls
   (:mod:`weaver.plugins.host`, which counts those itself), and the calls are charged;
4. the ``after_execute`` guards: ``stop`` ends the step's retries;
5. the feedback hooks turn the result into the text the model reads: every
   ``weaver_trim_feedback`` trimmer in turn, then the one ``weaver_format_feedback``
   formatter (given the variables before the run, so it can say what changed), with the
   guards' warnings and injected messages after it; ``weaver_summarize_attempt`` gives the
   one line a retrying role shows the attempt as once a later one replaces it.

The :class:`CodeRun` keeps every part, so a role reports it and decides whether to retry.
The session builds one :class:`CodePipeline` around its executor and hands roles only its
``run`` port, never the executor.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from weaver.approvals import ApprovalAnswer, ApprovalKind, ApprovalRequest
from weaver.events import EventType
from weaver.guards import Outcome
from weaver.plugins import budget
from weaver.specs import Verdict, VerdictAction, VerifyMode, Violation

if TYPE_CHECKING:
    from weaver.context import HookContext
    from weaver.execution.output import OutputCallback
    from weaver.execution.result import ExecutionResult, VariableInfo
    from weaver.extensions import Hooks
    from weaver.plugins.host import HostCalls

SOURCE = "weaver.execution.pipeline"
Execute = Callable[[str, "dict[str, Any] | None", "OutputCallback", "HostCalls | None"], Awaitable["ExecutionResult"]]
"""``execute(code, plugin_budget, on_output, host_calls)``: run code in the session's kernel with
what the budget has left, passing what it prints to ``on_output(stream, text)`` as it prints
it, its host plugin calls answered by ``host_calls``."""
HostCallsFor = Callable[["HookContext"], "HostCalls | None"]
"""The answerer of one execution's host plugin calls, for the calling role's context
(``None``: the session has no host plugins)."""


@attrs.frozen
class CodeRun:
    """What happened to one piece of code.

    ``result`` is ``None`` when the code did not run (violations, or a guard stopped it
    before execution). ``feedback`` is the text for the model. ``stopped`` is the guard
    verdict that ended the work, if one did. ``summary`` is the one line a later prompt may
    show this attempt as, once another attempt replaces it (``None``: show it whole).
    """

    code: str
    mode: VerifyMode = VerifyMode.normal
    violations: tuple[Violation, ...] = ()
    verdicts: tuple[Verdict, ...] = ()
    result: ExecutionResult | None = None
    feedback: str = ""
    stopped: Verdict | None = None
    summary: str | None = None
    approval: ApprovalAnswer | None = None
    """A person's answer, when the code needed approval."""

    @property
    def blocked(self) -> bool:
        """The verifiers refused the code."""
        return bool(self.violations)

    @property
    def ok(self) -> bool:
        """The code ran without an error and no guard stopped it."""
        return self.result is not None and self.result.ok and self.stopped is None

    @property
    def status(self) -> str:
        """``blocked``, ``stopped``, or the execution's outcome (``ok``, ``error``, ...)."""
        if self.violations:
            return "blocked"
        if self.approval is not None and not self.approval.approved:
            return "rejected"
        if self.result is None:
            return "stopped"
        return self.result.outcome


def verify_code(hooks: Hooks, code: str, mode: VerifyMode, ctx: HookContext, *, require: bool = True) -> tuple[Violation, ...]:
    """Every verifier's violations; a crash, or (when ``require``) no verifier, is a violation."""
    if require and not hooks.has_verifiers():
        return (
            Violation(
                line=1,
                rule="no-verifier",
                message="no code verifier is installed, so no code runs; install weaver-code-verifier "
                "(or another extension implementing weaver_verify_code)",
                source=SOURCE,
            ),
        )
    try:
        return tuple(hooks.verify_code(code, mode, ctx))
    except Exception as exc:  # noqa: BLE001 - a verifier that cannot judge must block, not allow
        return (
            Violation(
                line=1,
                rule="verifier-error",
                message=f"a code verifier failed ({type(exc).__name__}: {exc}), so the code is blocked; simplify the code and try again",
                source=SOURCE,
            ),
        )


def format_violations(violations: Sequence[Violation]) -> str:
    """The verifiers' findings as feedback the model can act on."""
    count = len(violations)
    lines = [f"The code was NOT run: the verifier found {count} problem{'s' if count != 1 else ''}:"]
    lines += [f"- [{v.rule}] {v.message}" for v in violations]
    lines.append("Fix every problem above and send the whole corrected code.")
    return "\n".join(lines)


def _with_messages(feedback: str, outcome: Outcome) -> str:
    if not outcome.messages:
        return feedback
    return "\n".join([feedback, *(f"Note: {message}" for message in outcome.messages)])


class CodePipeline:
    """Verifiers, guards, the executor and the feedback hooks around one session's code.

    ``execute`` runs code in the session's executor and records the result; the pipeline is
    the only holder of it that roles can reach, through :meth:`run`.
    """

    def __init__(
        self,
        hooks: Hooks,
        execute: Execute,
        *,
        variables: Callable[[], Sequence[VariableInfo]] = tuple,
        require_verifier: bool = True,
        host_calls: HostCallsFor = lambda ctx: None,
    ) -> None:
        self._hooks = hooks
        self._execute = execute
        self._host_calls = host_calls
        self._variables = variables
        self._require_verifier = require_verifier

    async def run(self, code: str, mode: VerifyMode, ctx: HookContext) -> CodeRun:
        """Verify, guard, execute and describe ``code``; ``ctx`` is the calling role's context."""
        run = await self._run(code, VerifyMode(mode), ctx)
        return attrs.evolve(run, summary=self._hooks.summarize_attempt(run, ctx))

    async def _run(self, code: str, mode: VerifyMode, ctx: HookContext, approved: ApprovalAnswer | None = None) -> CodeRun:
        hooks = self._hooks
        ctx.status("verifying code")
        violations = verify_code(hooks, code, mode, ctx, require=self._require_verifier)
        if violations:
            refused = hooks.code_refused(code, violations, ctx)
            feedback = _with_messages(format_violations(violations), refused)
            return CodeRun(
                code, mode, violations=violations, verdicts=refused.verdicts, feedback=feedback, stopped=refused.stopped
            )
        before = hooks.before_execute(code, ctx)
        if before.stopped is not None:
            return CodeRun(
                code,
                mode,
                verdicts=before.verdicts,
                stopped=before.stopped,
                feedback=f"The code was NOT run: {before.stopped.message}",
            )
        for verdict in before.verdicts:
            if verdict.action is VerdictAction.warn:
                ctx.status(f"warning from {verdict.source or 'a guard'}: {verdict.message}")
        if approved is None:
            reasons = hooks.approval_reasons(ApprovalKind.code, code, ctx)
            if reasons:
                ctx.status("waiting for approval")
                request = ApprovalRequest(ApprovalKind.code, code, tuple(reasons), ctx.role, ctx.round_id, ctx.step)
                answer = await ctx.approve(request)
                if not answer.approved:
                    feedback = f"The code was NOT run: the user rejected it: {answer.reason or 'no reason given'}"
                    return CodeRun(code, mode, verdicts=before.verdicts, feedback=feedback, approval=answer)
                if answer.content != code:  # edited: what runs is checked like any code
                    return attrs.evolve(await self._run(answer.content, mode, ctx, answer), approval=answer)
        ctx.status("executing code")
        variables_before = tuple(self._variables())
        given = budget.allowance(ctx)
        def on_output(stream: str, text: str) -> None:
            ctx.emit(ctx.event(EventType.output, stream=stream, text=text, role=ctx.role))

        host = self._host_calls(ctx)
        result = await self._execute(code, given, on_output, host)
        if host is not None:  # the host's count of host plugin calls, not the kernel's word
            result = attrs.evolve(result, plugin_calls=host.reported(result.plugin_calls))
        budget.charge(ctx, code, given, result, counted=host.calls if host is not None else {})
        after = hooks.after_execute(code, result, ctx)
        outcome = Outcome(before.verdicts + after.verdicts)
        feedback = _with_messages(hooks.feedback(result, code, ctx, variables_before), outcome)
        return CodeRun(
            code, mode, verdicts=outcome.verdicts, result=result, feedback=feedback, stopped=after.stopped, approval=approved
        )
