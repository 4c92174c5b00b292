# mypy: disable-error-code="empty-body"
"""Weaver's hook specifications: the table of contents of the architecture.

Every extension is a module (found through the ``weaver`` entry-point group) with
functions decorated by :data:`weaver.hookimpl` whose names are the hooks below. The core's
own defaults register the same way (:mod:`weaver.defaults`), marked ``trylast`` so an
extension always comes first.

Every runtime hook receives ``ctx``, a frozen :class:`weaver.context.HookContext`: the
session, round, role and plan step it is about, the effective configuration, the usage so
far, the plugins, a per-round ``scratch``, the ``state`` extensions persisted, and the
session's ports (``emit``, ``spawn``, ``llm``). Extensions keep no state of their own in
module globals: two Apps in one process, or two sessions of one App, never share anything
through an extension. Arguments come in one order everywhere: the subject, extras, ``ctx``.
An implementation may omit any argument it does not use.

The rest of Weaver calls hooks through :class:`weaver.extensions.Hooks`, a typed facade,
never through ``pm.hook`` directly.

Each docstring says when the hook runs, what returning a value means, and shows a short
implementation. A contract test (``core/tests/test_hookspecs.py``) fails when a hook has no
example here or no ``test_hook_<name>`` test anywhere in the repository. This module imports
nothing but pluggy at run time (the types below are for readers and type checkers).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import typer

    from weaver.config import Config
    from weaver.context import HookContext
    from weaver.events import Event
    from weaver.execution.pipeline import CodeRun
    from weaver.execution.result import ExecutionResult, VariableInfo
    from weaver.llm.request import LLMRequest, LLMResponse
    from weaver.memory import CompressedMemory, MemoryBudget
    from weaver.model import Round
    from weaver.specs import (
        ConfigTable,
        ExecutorSpec,
        LLMBackendSpec,
        PluginSourceSpec,
        PluginSpec,
        RoleSpec,
        Verdict,
        VerifyMode,
        Violation,
    )

hookspec = pluggy.HookspecMarker("weaver")
hookimpl = pluggy.HookimplMarker("weaver")
"""Marks an extension's hook implementations; also exported as ``weaver.hookimpl``."""


# --------------------------------------------------------------------------------------
# Setup
# --------------------------------------------------------------------------------------


@hookspec
def weaver_configure(config: Config) -> None:
    """Called once per App, when its effective configuration is known, before any session starts.

    Use it to refuse a
    configuration whose values contradict each other (raise
    :class:`weaver.errors.ConfigError`); ranges of single values belong in attrs validators
    on your config table. Never keep the configuration in module state: every runtime hook
    gets it as ``ctx.config``, and two Apps in one process have different ones.

    Example::

        @weaver.hookimpl
        def weaver_configure(config):
            limits = config.table(CostGuardConfig)
            if limits.max_session_cost and not config.table("llm").prices:
                raise ConfigError("max_session_cost needs prices", table="cost_guard", key="max_session_cost")
    """


@hookspec
def weaver_cli(app: typer.Typer) -> None:
    """Add commands to the ``weaver`` CLI.

    Called while the CLI is built. Keep the module that holds this hook light: import what
    the command needs inside the command, so ``weaver --help`` stays fast. A command that
    needs the project takes ``ctx: typer.Context`` and calls
    ``weaver.cli.CliState.of(ctx).app()``. If this hook raises, the extension is reported as
    failed by ``weaver extensions`` and dropped; the CLI still works.

    Example::

        @weaver.hookimpl
        def weaver_cli(app):
            @app.command()
            def hello(name: str = "world"):
                \"\"\"Say hello.\"\"\"
                print(f"hello {name}")
    """


@hookspec
def weaver_server_mount(app: Any) -> None:
    """Add routes, pages, middleware or a whole web UI to the HTTP service of ``weaver serve``.

    Called once, while the service's ASGI application (a FastAPI app, from the
    ``weaver-server`` extension) is built, after its own API under ``/v1``. Mount under a
    prefix of your own (``/ui``): ``app.state.weaver`` is the service (sessions, rounds,
    events of each user) and ``weaver_server.auth.current_user`` the dependency that gives a
    route the user of a request's token. Import the web framework inside the hook, not at
    module level. If this hook raises, the service does not start.

    Example::

        @weaver.hookimpl
        def weaver_server_mount(app):
            from starlette.responses import HTMLResponse

            @app.get("/hello", include_in_schema=False)
            def hello():
                return HTMLResponse("<p>hello from an extension</p>")
    """


# --------------------------------------------------------------------------------------
# Registration: each hook returns an iterable of small frozen records
# --------------------------------------------------------------------------------------


@hookspec
def weaver_config_tables() -> Iterable[ConfigTable]:
    """Declare the config tables this extension owns, each with a typed attrs schema.

    Values in ``[name]`` are validated against ``schema``: an unknown key or a wrong type
    is an error naming the file, the table and the key.

    Example::

        @attrs.frozen
        class RetryGuardConfig:
            max_identical_errors: int = 3

        @weaver.hookimpl
        def weaver_config_tables():
            return [ConfigTable("retry_guard", RetryGuardConfig)]
    """


@hookspec
def weaver_roles() -> Iterable[RoleSpec]:
    """Declare roles. Two extensions declaring one name or alias is an error naming both.

    Example::

        class Echo:
            async def reply(self, ctx):
                return Post(send_from="Echo", send_to="User", message=ctx.post.message)

        @weaver.hookimpl
        def weaver_roles():
            return [RoleSpec(name="echo", alias="Echo", factory=Echo,
                             description="Repeats what it is told.")]
    """


@hookspec
def weaver_plugins(config: Config) -> Iterable[PluginSpec]:
    """Declare plugins: functions that generated code calls inside the kernel.

    A target is imported (on the host, for its schema) only when the plugin is enabled and
    no plugin of the project's own folder has its name: the project's wins, and this one is
    listed as shadowed.

    Example::

        @weaver.hookimpl
        def weaver_plugins(config):
            return [PluginSpec(name="sql_pull_data", target="weaver_data_plugins.sql:sql_pull_data",
                               description="Run a read-only SQL query; returns a DataFrame.")]
    """


@hookspec
def weaver_plugin_sources(config: Config) -> Iterable[PluginSourceSpec]:
    """Declare sources of host plugins found at run time, such as MCP servers.

    Each source's ``factory()`` is called once per App, when its plugins are first needed;
    the source lists its tools (each becomes the host plugin ``<source>.<tool>``, with a
    typed signature) and runs their calls on the host. The App closes it when it closes.
    See :class:`weaver.plugins.sources.PluginSource`.

    Example::

        @weaver.hookimpl
        def weaver_plugin_sources(config):
            return [PluginSourceSpec(name="github", factory=lambda: GitHubTools(config))]
    """


@hookspec
def weaver_llm_backends() -> Iterable[LLMBackendSpec]:
    """Declare LLM backends, selected per model with ``[llm.models.<alias>] backend = "name"``.

    Example::

        @weaver.hookimpl
        def weaver_llm_backends():
            return [LLMBackendSpec(name="echo", factory=EchoBackend)]
    """


@hookspec
def weaver_executors() -> Iterable[ExecutorSpec]:
    """Declare code executors, selected with ``[execution] executor = "name"``.

    An executor over Jupyter kernels reuses :class:`weaver.execution.kernel.KernelExecutor`
    with a :class:`weaver.execution.channel.KernelChannel` of its own (as ``weaver-gateway``
    does); ``weaver.testing.executor_conformance`` is the suite it should pass. The spec's
    optional ``warm_up`` and ``check`` serve ``App.warm_up()`` and ``weaver doctor``.

    Example::

        @weaver.hookimpl
        def weaver_executors():
            return [ExecutorSpec(name="remote", factory=RemoteKernelExecutor)]
    """


# --------------------------------------------------------------------------------------
# Code verification
# --------------------------------------------------------------------------------------


@hookspec
def weaver_verify_code(code: str, mode: VerifyMode, plugins: Sequence[str], ctx: HookContext) -> Sequence[Violation]:
    """Judge code before it runs. Every verifier runs; all violations are reported together.

    ``code`` is exactly the text that will run; ``plugins`` are the names of the plugins
    bound in the kernel (``ctx.plugins`` has their specs). Read your settings from
    ``ctx.config``. Return an empty sequence (or ``None``) when the code is clean.

    Example::

        @weaver.hookimpl
        def weaver_verify_code(code, mode, ctx):
            if not ctx.config.table(NoPrintConfig).enabled:
                return []
            return [Violation(line=n, rule="no-print", message="return values instead of printing")
                    for n, text in enumerate(code.splitlines(), 1) if text.startswith("print(")]
    """


# --------------------------------------------------------------------------------------
# Guards around LLM calls and executions: return None to allow, or a Verdict
# --------------------------------------------------------------------------------------


@hookspec
def weaver_before_llm_call(request: LLMRequest, ctx: HookContext) -> Verdict | None:
    """Called before every LLM call; a ``stop`` verdict prevents the call.

    ``request.estimated_prompt_tokens`` is known before the call, so a budget can refuse a
    call that would exceed it.

    Example::

        @weaver.hookimpl
        def weaver_before_llm_call(request, ctx):
            if ctx.session_usage.total_tokens > 100_000:
                return Verdict.stop("token budget of 100000 spent", source="my_budget")
    """


@hookspec
def weaver_after_llm_call(request: LLMRequest, response: LLMResponse, ctx: HookContext) -> Verdict | None:
    """Called after every successful LLM call with the reply and its usage.

    Example::

        @weaver.hookimpl
        def weaver_after_llm_call(request, response, ctx):
            if response.usage.completion_tokens > 4000:
                return Verdict.warn("very long reply", source="my_guard")
    """


@hookspec
def weaver_code_refused(code: str, violations: Sequence[Violation], ctx: HookContext) -> Verdict | None:
    """Called when the verifiers refused code, which therefore did not run; ``stop`` ends the step's retries.

    ``violations`` are every verifier's findings. Refused code never reaches
    :func:`weaver_after_execute`, so a guard that counts failures (a circuit breaker) counts
    refusals here. ``warn`` and ``inject`` messages travel with the refusal to the model.

    Example::

        @weaver.hookimpl
        def weaver_code_refused(code, violations, ctx):
            refusals = ctx.scratch.get("my_guard.refusals", 0) + 1
            ctx.scratch["my_guard.refusals"] = refusals
            if refusals >= 3:
                return Verdict.stop(f"the verifier refused {refusals} attempts: {violations[0].message}")
    """


@hookspec
def weaver_before_execute(code: str, ctx: HookContext) -> Verdict | None:
    """Called after verification and before code runs in the kernel.

    ``warn`` and ``inject`` messages travel with the execution result to the model; a
    ``warn`` is also published as a status event before the code runs.

    Example::

        @weaver.hookimpl
        def weaver_before_execute(code, ctx):
            if "time.sleep(" in code:
                return Verdict.warn("sleeping wastes the execution timeout", source="my_guard")
    """


@hookspec
def weaver_after_execute(code: str, result: ExecutionResult, ctx: HookContext) -> Verdict | None:
    """Called after code ran, with its result; ``stop`` ends the step's retries.

    Example::

        @weaver.hookimpl
        def weaver_after_execute(code, result, ctx):
            if result.error and result.error.type == "ModuleNotFoundError":
                return Verdict.stop("a package is missing; ask the user to install it")
    """


# --------------------------------------------------------------------------------------
# Approval: when a person must look before work goes on
# --------------------------------------------------------------------------------------


@hookspec
def weaver_approval_required(kind: str, content: str, ctx: HookContext) -> str | Sequence[str] | None:
    """Say why a person must approve ``content`` before it is used; ``None`` when they need not.

    ``kind`` is ``"code"`` (code about to run, after verification and the guards) or
    ``"plan"`` (the Planner's plan before its first worker step). Every implementation is
    asked; any reason means the session asks a person (:mod:`weaver.approvals`) and waits.
    The core's own implementation applies ``[approval]``.

    Example::

        @weaver.hookimpl
        def weaver_approval_required(kind, content, ctx):
            if kind == "code" and "DROP TABLE" in content.upper():
                return "it drops a table"
    """


# --------------------------------------------------------------------------------------
# Memory and feedback
# --------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def weaver_compress_memory(
    rounds: Sequence[Round], budget: MemoryBudget, role: str, ctx: HookContext
) -> CompressedMemory | None:
    """Shrink the history a role puts in its prompt; the first non-``None`` answer wins.

    ``budget`` says how many tokens the history may take; ``role`` is the role whose prompt
    it is (also ``ctx.role``). The core's fallback (``trylast``) keeps every round. Work
    that needs a model is started between rounds (:func:`weaver_round_end`) and its result
    kept with ``ctx.persist``; this hook only reads ``ctx.state``.

    Example::

        @weaver.hookimpl
        def weaver_compress_memory(rounds, budget, ctx):
            if len(rounds) > 10:
                return CompressedMemory(summary="(older rounds omitted)", rounds=tuple(rounds[-10:]))
    """


@hookspec
def weaver_trim_feedback(result: ExecutionResult, code: str, ctx: HookContext) -> ExecutionResult | None:
    """Shorten an execution result before it is turned into text for the model.

    A chain: each implementation receives what the one before it returned, so two trimmers
    both apply. Return ``None`` to leave the result as it is. The one formatter
    (:func:`weaver_format_feedback`) then lays the result out.

    Example::

        @weaver.hookimpl
        def weaver_trim_feedback(result, ctx):
            return attrs.evolve(result, stdout=result.stdout[-2000:])
    """


@hookspec(firstresult=True)
def weaver_format_feedback(
    result: ExecutionResult, code: str, variables_before: Sequence[VariableInfo], ctx: HookContext
) -> str | None:
    """Turn an (already trimmed) execution result into the text the model reads.

    ``variables_before`` is the kernel's inventory before the code ran, so the feedback can
    say what changed rather than repeat every variable (the prompt shows the inventory once).
    The first answer wins; the core's fallback (``trylast``) lays out every part.

    Example::

        @weaver.hookimpl
        def weaver_format_feedback(result):
            return f"status: {'ok' if result.ok else 'error'}\\n{result.stdout}"
    """


@hookspec(firstresult=True)
def weaver_summarize_attempt(run: CodeRun, ctx: HookContext) -> str | None:
    """The one line an attempt is shown as once a later attempt at the same request replaces it.

    A role that retries keeps its last attempt whole in the next prompt; earlier ones are
    shown in the line this returns (``None``, or no implementation: kept whole). The first
    answer wins.

    Example::

        @weaver.hookimpl
        def weaver_summarize_attempt(run):
            error = run.result.error if run.result is not None else None
            return f"{run.status}: {error.type}: {error.message}" if error else None
    """


# --------------------------------------------------------------------------------------
# Session lifecycle
# --------------------------------------------------------------------------------------


@hookspec
def weaver_round_end(round: Round, rounds: Sequence[Round], ctx: HookContext) -> None:
    """Called when a round has ended and been recorded, with the finished round.

    ``rounds`` are all of the session's rounds, this one last.
    The place for work a round leaves behind: start it with ``ctx.spawn(coro)``; the
    session's next round waits for it and closing the session awaits it. A hook that raises
    is logged; the session goes on.

    Example::

        @weaver.hookimpl
        def weaver_round_end(round, ctx):
            async def note():
                reply = await ctx.llm(role="Notes").chat([{"role": "user", "content": round.user_query}])
                ctx.persist("notes.last", reply.text)

            ctx.spawn(note())
    """


# --------------------------------------------------------------------------------------
# Observation
# --------------------------------------------------------------------------------------


@hookspec
def weaver_event(event: Event, ctx: HookContext | None) -> None:
    """Receive every event of every session: the console, logs, tracing and UIs use it.

    Called on the engine's event loop: return quickly, never block, and never start work
    (work a round leaves behind belongs in :func:`weaver_round_end`). ``ctx`` is the
    context of the event's session (``None`` for an event outside a session).

    Example::

        @weaver.hookimpl
        def weaver_event(event):
            if event.type == "round_end":
                LOG.info("round %s ended: %s", event.round_id, event.data["round"]["state"])
    """


# Names used by the contract test and the facade; keep in the order above.
HOOK_NAMES: tuple[str, ...] = tuple(
    name for name, value in list(globals().items()) if name.startswith("weaver_") and callable(value)
)

