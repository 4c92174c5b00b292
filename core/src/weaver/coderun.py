"""The code pipeline: ``await ctx.run_code(code, mode) -> CodeRun``.

One call takes generated code through every check, in order, and stops at the first that
refuses it:

1. every verifier (``weaver_verify_code``): all violations are collected. A verifier that
   crashes, or no verifier at all, blocks the code: nothing unjudged runs;
2. the ``before_execute`` guards: a ``stop`` verdict means the code does not run;
3. the session's kernel runs it (``session.execute``);
4. the ``after_execute`` guards: ``stop`` ends the step's retries;
5. the ``weaver_format_feedback`` hook turns the result into the text the model reads (a
   guard extension may trim it), with the guards' warnings and injected messages after it.

The :class:`CodeRun` keeps every part, so a role reports it and decides whether to retry.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from weaver.guards import Outcome
from weaver.specs import Verdict, VerifyMode, Violation

if TYPE_CHECKING:
    from weaver.execution.result import ExecutionResult
    from weaver.extensions import Hooks
    from weaver.roles import RoleContext

SOURCE = "weaver.coderun"


@attrs.frozen
class CodeRun:
    """What happened to one piece of code.

    ``result`` is ``None`` when the code did not run (violations, or a guard stopped it
    before execution). ``feedback`` is the text for the model. ``stopped`` is the guard
    verdict that ended the work, if one did.
    """

    code: str
    mode: VerifyMode = VerifyMode.normal
    violations: tuple[Violation, ...] = ()
    verdicts: tuple[Verdict, ...] = ()
    result: ExecutionResult | None = None
    feedback: str = ""
    stopped: Verdict | None = None

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
        if self.result is None:
            return "stopped"
        return self.result.outcome


def verify_code(
    hooks: Hooks, code: str, mode: VerifyMode, plugins: Sequence[str], *, require: bool = True
) -> tuple[Violation, ...]:
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
        return tuple(hooks.verify_code(code, mode, plugins))
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


async def run_code(
    ctx: RoleContext,
    code: str,
    mode: VerifyMode = VerifyMode.normal,
    *,
    step: str | None = None,
    require_verifier: bool = True,
) -> CodeRun:
    """Verify, guard, execute and describe ``code`` in the session of ``ctx``."""
    mode = VerifyMode(mode)
    ctx.status("verifying code")
    violations = verify_code(ctx.hooks, code, mode, ctx.session.app.plugins.names, require=require_verifier)
    if violations:
        return CodeRun(code, mode, violations=violations, feedback=format_violations(violations))
    guard = ctx.guard_context(step)
    before = ctx.hooks.before_execute(code, guard)
    if before.stopped is not None:
        return CodeRun(
            code,
            mode,
            verdicts=before.verdicts,
            stopped=before.stopped,
            feedback=f"The code was NOT run: {before.stopped.message}",
        )
    ctx.status("executing code")
    result = await ctx.session.execute(code)
    after = ctx.hooks.after_execute(code, result, guard)
    outcome = Outcome(before.verdicts + after.verdicts)
    feedback = _with_messages(ctx.hooks.format_feedback(result, code), outcome)
    return CodeRun(code, mode, verdicts=outcome.verdicts, result=result, feedback=feedback, stopped=after.stopped)
