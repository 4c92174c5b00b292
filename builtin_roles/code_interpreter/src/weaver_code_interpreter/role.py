"""The CodeInterpreter role: one request in, one post back, self-correcting in between.

For each request (an incoming post, usually from the Planner) the role asks the model for
a reply (:mod:`weaver_code_interpreter.reply`). A ``text`` reply is the answer. ``python``
goes through the code pipeline (``ctx.run_code``: verifiers, guards, the kernel, feedback
formatting). A format error, a verification error or an execution error goes back to the
model with precise feedback, at most ``[code_interpreter] max_retries`` times for this
request; then the sender gets the failure with the last error. A guard's ``stop`` ends the
retries at once. The counter is local to one request, so every step starts afresh.

The post carries the final attempt as attachments (``thought``, ``reply_type``,
``reply_content``, ``verification``, ``code_error``, ``execution_status``,
``execution_result``, ``artifact_paths``, ``guard_verdict``); each abandoned attempt leaves
its raw reply (``invalid_response``) and the feedback it got (``revise_message``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from weaver.execution.pipeline import CodeRun, format_violations
from weaver.model import AttachmentType, Post
from weaver.replies import structured_reply
from weaver.serde import to_data
from weaver.specs import VerifyMode
from weaver_code_interpreter.config import CodeInterpreterConfig
from weaver_code_interpreter.examples import example_dirs, example_turns, load_examples
from weaver_code_interpreter.prompt import Turn, build_messages
from weaver_code_interpreter.reply import FIELDS, REPLY_SCHEMA, SCHEMA_NAME, CodeReply, validate_reply

if TYPE_CHECKING:
    from weaver.roles import AttachmentStream, PostBuilder, RoleContext


class CodeInterpreter:
    """The CodeInterpreter; one instance per session, which reads the examples on its first
    request and keeps nothing else between requests (the kernel holds the state)."""

    def __init__(self) -> None:
        self._examples: list[Turn] | None = None

    async def reply(self, ctx: RoleContext) -> Post:
        config = ctx.config.table(CodeInterpreterConfig)
        mode = VerifyMode.plugin_only if config.plugin_only else VerifyMode.normal
        ctx.status("composing prompt")
        messages = build_messages(ctx, config, mode, ctx.plugins.render(), self._example_turns(ctx, config))
        builder = ctx.new_post(send_to=ctx.post.send_from)
        runs: list[CodeRun] = []
        unsummarized: list[CodeRun] = []

        async def run(reply: CodeReply, last: bool) -> str | None:
            """Run code replies; a failed run goes back to the model unless it was the last attempt."""
            if not reply.is_code:
                return None
            outcome = await ctx.run_code(reply.reply_content, mode)
            runs.append(outcome)
            unsummarized.append(outcome)
            if outcome.ok or outcome.stopped is not None or last:
                return None
            return outcome.feedback if outcome.blocked else f"{outcome.feedback}\n\nFix the code and send all of it again."

        answer = await structured_reply(
            ctx,
            builder,
            messages,
            schema=REPLY_SCHEMA,
            schema_name=SCHEMA_NAME,
            validate=validate_reply,
            fields=FIELDS,
            max_corrections=config.max_retries,
            accept=run,
            # An attempt whose code ran (or was refused) is shown in its run's one line, if
            # there is one; a reply that never got that far stays whole.
            condense=lambda raw, feedback: unsummarized.pop().summary if unsummarized else None,
        )
        reply = answer.value
        if reply is None:
            builder.attach(AttachmentType.invalid_response, answer.raw)
            builder.attach(AttachmentType.execution_status, "none")
            builder.set_message(
                f"I could not produce a usable reply in {answer.attempts} attempts "
                f"([code_interpreter] max_retries = {config.max_retries}); the last problem: {answer.feedback}"
            )
            return builder.build()
        _close(builder, answer.streams, reply)
        if not reply.is_code:
            builder.set_message(reply.reply_content)
            return builder.build()
        _attach_run(builder, runs[-1])
        builder.set_message(_message(runs[-1], answer.attempts, config))
        return builder.build()


    def _example_turns(self, ctx: RoleContext, config: CodeInterpreterConfig) -> list[Turn]:
        if not config.use_examples:
            return []
        if self._examples is None:
            dirs = example_dirs(Path(ctx.config.project_dir), config.example_dirs)
            self._examples = example_turns(load_examples(dirs, ctx.alias), ctx.alias)
        return self._examples


def _close(builder: PostBuilder, streams: Mapping[str, AttachmentStream], reply: CodeReply) -> None:
    for name in FIELDS:
        value = getattr(reply, name)
        if name in streams:
            streams[name].close(value)
        else:
            builder.attach(name, value)


def _attach_run(builder: PostBuilder, run: CodeRun) -> None:
    violations = [to_data(v) for v in run.violations]
    builder.attach(
        AttachmentType.verification, format_violations(run.violations) if run.violations else "passed", violations
    )
    error = _error_text(run)
    if error:
        builder.attach(AttachmentType.code_error, error)
    builder.attach(AttachmentType.execution_status, run.status)
    builder.attach(
        AttachmentType.execution_result, run.feedback, to_data(run.result) if run.result is not None else None
    )
    paths = [artifact.path for artifact in run.result.artifacts] if run.result is not None else []
    if paths:
        builder.attach(AttachmentType.artifact_paths, "\n".join(paths), paths)
    for verdict in run.verdicts:
        builder.attach(AttachmentType.guard_verdict, verdict.message, to_data(verdict))


def _error_text(run: CodeRun) -> str:
    if run.violations:
        return format_violations(run.violations)
    if run.stopped is not None:
        return run.stopped.message
    if run.result is not None and run.result.error is not None:
        return f"{run.result.error.type}: {run.result.error.message}"
    if run.result is not None and not run.result.ok:
        return f"the execution ended with {run.result.outcome}"
    return ""


def _message(run: CodeRun, attempts: int, config: CodeInterpreterConfig) -> str:
    code = f"```python\n{run.code.rstrip()}\n```"
    if run.ok:
        return f"The following Python code ran successfully:\n{code}\n\n{run.feedback}"
    if run.stopped is not None:
        return f"A guard stopped the work: {run.stopped.message}\nThe code was:\n{code}\n\n{run.feedback}"
    return (
        f"The code still failed after {attempts} attempts ([code_interpreter] max_retries = {config.max_retries}). "
        f"The last code was:\n{code}\n\nThe last error:\n{run.feedback}"
    )
