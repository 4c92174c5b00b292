"""Host plugins: plugins that run on the host, called from kernel code through typed stubs.

A host plugin (``@weaver.plugin(host=True)``, ``PluginSpec(host=True)``, ``host: true`` in
a TaskWeaver YAML, ``[plugins] host``, or any tool of a plugin source such as an MCP
server) is not imported in the kernel: the kernel binds a stub with the signature and
docstring the model reads (:mod:`weaver.execution.runtime.hostcall`), and each call comes
to the host on the kernel's stdin channel. :class:`HostCalls` answers the calls of one
execution; everything about a call is decided here, where kernel code cannot reach:

- **the budget**: each call counts toward ``[plugins] call_budget`` in its scope
  (:mod:`weaver.plugins.budget`) as it arrives; past the budget the host refuses it and the
  stub raises ``PluginBudgetExceeded``, with the results so far kept in
  ``_plugin_results``. Resetting the kernel's counters or rebinding names changes nothing,
  and the host's count, not the kernel's report, is charged after the execution;
- **approval**: ``[approval] plugin_calls`` (or an extension's ``weaver_approval_required``
  for kind ``plugin_call``) makes a call wait for a person through the session's approval
  port; that wait does not count toward the execution's time limit, and a rejection raises
  ``PluginCallRejected`` in the kernel;
- **the log**: every call is a durable ``plugin_call`` event (plugin, a summary of the
  arguments, outcome, duration, result size, cost);
- **replay**: under ``[llm] mode = "record"`` each answer is written to the cassette, and
  under ``replay`` a recorded answer is served instead of running the plugin (a call the
  cassette does not hold runs live), so sessions with host plugins replay offline;
- **time**: a call that outlives the execution's time limit is cancelled (an ``async``
  plugin, an MCP tool) or abandoned (a plain function runs on a worker thread, which Python
  cannot stop: its result is discarded) and the kernel is told so.

Values cross as JSON (:mod:`weaver.plugins.wire`, DataFrames by column), never pickled; a
result the plugin cannot encode, or one larger than :data:`MAX_RESULT_CHARS`, is an error
for the kernel. A plugin's exception reaches the kernel as ``PluginCallError`` with its
class name and message, the plugin's own secret config values masked. **Generators and
streams are not streamed**: a plugin returning a generator (or async generator) has its
items collected on the host, at most :data:`MAX_ITEMS`, and the kernel receives one list.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import json
import logging
import math
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from weaver.approvals import ApprovalKind, ApprovalRequest
from weaver.errors import PluginLoadError
from weaver.events import EventType
from weaver.execution.output import InputAnswer
from weaver.execution.runtime.plugins import PARTIAL_RESULTS_NAME, WARN_SHARE, PluginContext, load_target, running
from weaver.plugins import budget, taskweaver_compat, taskweaver_format, wire
from weaver.plugins.records import LoadedPlugin, PluginOrigin
from weaver.plugins.sources import HostReplay, PluginSources

if TYPE_CHECKING:
    from weaver.context import HookContext
    from weaver.extensions import Hooks

log = logging.getLogger("weaver.plugins.host")

MAX_RESULT_CHARS = 32_000_000
"""The largest answer (as JSON text) a host plugin's call sends to the kernel."""
MAX_ITEMS = 100_000
"""The most items of a generator a host plugin returns that are collected."""
SECRET = "<secret>"
MIN_SECRET_CHARS = 8


@attrs.frozen
class HostPlace:
    """Where a host plugin's call belongs: its session and that session's directories."""

    session_id: str
    cwd: Path
    artifacts_dir: Path


class HostRunner:
    """Runs one App's host plugins: their targets imported on the host once, their
    sources' tools called through the App's :class:`~weaver.plugins.sources.PluginSources`."""

    def __init__(self, plugins: Mapping[str, LoadedPlugin], sources: PluginSources | None = None) -> None:
        self.plugins = {name: p for name, p in plugins.items() if p.spec.host}
        self._sources = sources
        self._targets: dict[str, Any] = {}

    async def run(self, plugin: LoadedPlugin, arguments: Mapping[str, Any], place: HostPlace) -> Any:
        """Call ``plugin`` with ``arguments`` (by parameter name) and return its result."""
        if plugin.origin is PluginOrigin.source:
            assert self._sources is not None
            source, _, tool_name = plugin.name.partition(".")
            tool = next(t for t in self._sources.tools(source) if t.schema.name == tool_name)
            return await self._sources.call(source, tool, arguments)
        spec = plugin.spec
        if spec.name not in self._targets:
            self._targets[spec.name] = host_target(plugin)
        target: Any = self._targets[spec.name]
        ctx = PluginContext(
            spec.name,
            spec.config,
            session_id=place.session_id,
            cwd=place.cwd,
            artifacts_dir=place.artifacts_dir,
            namespace={},
            logger=logging.getLogger(f"weaver.plugins.host.{spec.name}"),
        )
        make: Any = target  # a class target is made with the context, as in the kernel
        function: Any = make(ctx) if inspect.isclass(target) else target
        if inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(type(function).__call__):
            with running(ctx):
                return await _collected_async(await function(**arguments))
        return await asyncio.to_thread(_call_sync, function, ctx, arguments)


def host_target(plugin: LoadedPlugin) -> Any:
    """The function (or class) of ``plugin`` on the host. A project's plugin file is imported
    under a private module name (as the loader reads it), never by its own name from the
    front of ``sys.path``, so it shadows nothing of the host's and two projects' files of
    one name do not meet."""
    spec = plugin.spec
    if plugin.origin not in (PluginOrigin.project, PluginOrigin.taskweaver) or spec.path is None:
        return load_target(spec.target, spec.path)
    module_name, _, attribute = spec.target.partition(":")
    if plugin.origin is PluginOrigin.taskweaver:  # weaver.plugins.taskweaver_modules:<file>.<class>
        module_name, _, attribute = attribute.partition(".")

    def fail(message: str, name: str = spec.name) -> PluginLoadError:
        return PluginLoadError(message, name=name, source=plugin.source)

    with taskweaver_compat.collecting():
        module = taskweaver_format.import_file(Path(spec.path) / f"{module_name}.py", fail, spec.name)
    return getattr(module, attribute)


def _call_sync(function: Any, ctx: PluginContext, arguments: Mapping[str, Any]) -> Any:
    with running(ctx):
        result = function(**arguments)
        if inspect.isgenerator(result):
            return list(itertools.islice(result, MAX_ITEMS))
        return result


async def _collected_async(result: Any) -> Any:
    if inspect.isasyncgen(result):
        items = []
        async for item in result:
            items.append(item)
            if len(items) >= MAX_ITEMS:
                break
        return items
    return result


class HostCalls:
    """Answers the host-plugin calls of one execution (a :data:`~weaver.execution.output.InputHandler`).

    ``calls`` counts the calls each host plugin received, refused ones included: what the
    budget is charged after the execution (:meth:`reported`).
    """

    def __init__(self, ctx: HookContext, hooks: Hooks, runner: HostRunner, place: HostPlace, replay: HostReplay) -> None:
        self.ctx = ctx
        self.hooks = hooks
        self.runner = runner
        self.place = place
        self.replay = replay
        self.calls: Counter[str] = Counter()

    def reported(self, kernel_calls: Mapping[str, int]) -> dict[str, int]:
        """The execution's plugin calls: the kernel's count for its own plugins, the host's
        for host plugins (whatever the kernel reported for those)."""
        counted = {name: n for name, n in kernel_calls.items() if name not in self.runner.plugins}
        return {**counted, **{name: n for name, n in self.calls.items() if n}}

    async def __call__(self, call: str, deadline: float) -> InputAnswer:
        """The reply (JSON) to one call, given before ``deadline`` plus any approval wait."""
        started = time.monotonic()
        try:
            request = wire.decode(call)
            call_id, name, arguments = str(request["id"]), str(request["plugin"]), request["arguments"]
            if not isinstance(arguments, dict):
                raise TypeError("arguments must be a mapping")
        except (ValueError, KeyError, TypeError) as exc:
            return InputAnswer(_reply("?", error={"type": "ProtocolError", "message": f"an unreadable call: {exc}"}))
        plugin = self.runner.plugins.get(name)
        if plugin is None:
            error = {"type": "NameError", "message": f"{name!r} is not a host plugin of this session"}
            return InputAnswer(_reply(call_id, error=error))
        summary = summarize(name, arguments)
        refused = self._admit(name)
        if refused is not None:
            self._log(name, summary, started, ok=False, error="budget")
            return InputAnswer(_reply(call_id, error=refused))
        paused, rejected = await self._approval(name, summary)
        if rejected is not None:
            self._log(name, summary, started + paused, ok=False, error="rejected")
            return InputAnswer(_reply(call_id, error=rejected), paused)
        answer, replayed = await self._answer(plugin, arguments, call_id, deadline + paused)
        reply = _reply(call_id, **answer, warning=self._warning(name))
        if len(reply) > MAX_RESULT_CHARS:
            error = {
                "type": "ValueError",
                "message": f"the result is {len(reply)} characters as JSON, more than {MAX_RESULT_CHARS} cross to "
                "the kernel: ask for less (filter or aggregate in the call)",
            }
            answer, reply = {"error": error}, _reply(call_id, error=error)
        error_text = answer["error"]["type"] if "error" in answer else None
        self._log(name, summary, started + paused, ok="error" not in answer, error=error_text, chars=len(reply), replayed=replayed)
        return InputAnswer(reply, paused)

    # ---- the guards ------------------------------------------------------------------

    def _admit(self, name: str) -> dict[str, Any] | None:
        """Count the call, or the refusal to send when it is past the plugin's budget."""
        left = budget.remaining_calls(self.ctx, name)
        made = self.calls[name]
        if left is not None and made >= left:
            limit, scope = self.ctx.config.table("plugins").call_budget, self.ctx.config.table("plugins").call_budget_scope
            earlier = limit - left
            batch = self.runner.plugins[name].spec.batch
            hint = f" `{name}` has a batch form, `{batch}`: use it." if batch else " Process fewer items per execution."
            return {
                "kind": "budget",
                "type": "PluginBudgetExceeded",
                "budget": limit,
                "calls": dict(self.calls),
                "message": f"plugin call budget exceeded: `{name}` may be called {limit} times per {scope} "
                f"([plugins] call_budget) and this call would be number {earlier + made + 1}"
                + (f", {earlier} of them in earlier executions" if earlier else "")
                + f". The results returned so far in this execution are kept in `{PARTIAL_RESULTS_NAME}`; "
                f"variables assigned before this call are kept. The host counts these calls.{hint}",
            }
        self.calls[name] += 1
        return None

    def _warning(self, name: str) -> str | None:
        left = budget.remaining_calls(self.ctx, name)
        if left is None:
            return None
        limit = self.ctx.config.table("plugins").call_budget
        used = limit - left + self.calls[name]
        if used == max(1, math.ceil(limit * WARN_SHARE)) and used < limit:
            scope = self.ctx.config.table("plugins").call_budget_scope
            return f"{used} of {limit} plugin calls allowed to `{name}` per {scope} are used"
        return None

    async def _approval(self, name: str, summary: str) -> tuple[float, dict[str, Any] | None]:
        """Seconds a person took to answer (0: no approval needed), and the refusal if they refused."""
        reasons = self.hooks.approval_reasons(ApprovalKind.plugin_call.value, summary, self.ctx)
        if not reasons:
            return 0.0, None
        ctx = self.ctx
        asked = time.monotonic()
        ctx.status(f"waiting for approval of a call to {name}")
        request = ApprovalRequest(ApprovalKind.plugin_call, summary, tuple(reasons), ctx.role, ctx.round_id, ctx.step)
        answer = await ctx.approve(request)
        waited = time.monotonic() - asked
        if not answer.approved:
            message = f"the user rejected the call: {answer.reason or 'no reason given'}"
            return waited, {"kind": "rejected", "type": "PluginCallRejected", "message": message}
        return waited, None

    async def _answer(
        self, plugin: LoadedPlugin, arguments: dict[str, Any], call_id: str, deadline: float
    ) -> tuple[dict[str, Any], bool]:
        """``{"result": ...}`` or ``{"error": ...}``, and whether it came from the cassette."""
        replay, key = self.replay, wire.encode(arguments)
        if replay.serve and replay.recordings is not None:
            recorded = replay.recordings.recorded_call(plugin.name, key)
            if recorded is not None:
                return recorded, True
        remaining = deadline - time.monotonic()
        try:
            if remaining <= 0:
                raise TimeoutError
            result = await asyncio.wait_for(self.runner.run(plugin, arguments, self.place), remaining)
            answer: dict[str, Any] = {"result": wire.to_json(result)}
        except TimeoutError:
            limit = self.ctx.config.table("execution").timeout_s
            message = f"the call was cancelled: the execution's time limit ({limit:g} s, [execution] timeout_s) ran out"
            return {"error": {"type": "TimeoutError", "message": message}}, False
        except Exception as exc:  # noqa: BLE001 - every failure of the plugin goes back to the kernel
            answer = {"error": {"type": type(exc).__name__, "message": self._masked(plugin, str(exc))}}
        if replay.record and replay.recordings is not None:
            replay.recordings.record_call(plugin.name, key, json.loads(self._masked(plugin, json.dumps(answer))))
        return answer, False

    def _masked(self, plugin: LoadedPlugin, text: str) -> str:
        for value in plugin.spec.config.values():
            if isinstance(value, str) and len(value) >= MIN_SECRET_CHARS:
                text = text.replace(value, SECRET)
        return text

    def _log(
        self, name: str, summary: str, started: float, *, ok: bool, error: str | None, chars: int = 0, replayed: bool = False
    ) -> None:
        spec = self.runner.plugins[name].spec
        self.ctx.emit(
            self.ctx.event(
                EventType.plugin_call,
                plugin=name,
                arguments=summary,
                ok=ok,
                error=error,
                duration_s=round(time.monotonic() - started, 6),
                result_chars=chars,
                cost=spec.cost if ok and not replayed else 0.0,
                replayed=replayed,
                role=self.ctx.role,
            )
        )


def _reply(call_id: str, **fields: Any) -> str:
    return json.dumps({"id": call_id, **{k: v for k, v in fields.items() if v is not None}}, ensure_ascii=False)


def summarize(name: str, arguments: Mapping[str, Any], width: int = 60) -> str:
    """``name(a=1, frame=<DataFrame 100x3>)``: the call as the log and an approval show it."""
    parts = []
    for key, value in arguments.items():
        shape = getattr(value, "shape", None)
        if shape is not None and not isinstance(value, (str, bytes)):
            text = f"<{type(value).__name__} {'x'.join(map(str, shape))}>"
        else:
            text = repr(value)
            if len(text) > width:
                text = text[: width - 3] + "..."
        parts.append(f"{key}={text}")
    return f"{name}({', '.join(parts)})"
