"""The runtime contract: every hook gets one frozen context; roles get facts and ports, no session;
round-end work goes through the session's ``spawn``; the layers of ``weaver`` point down."""

from __future__ import annotations

import ast
import asyncio
import functools
import inspect
import types
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import attrs
import pluggy
import pytest

import weaver
from weaver.context import HookContext
from weaver.engine import App, Session
from weaver.execution.service import SessionExecution
from weaver.extensions import Hooks
from weaver.hookspecs import hookimpl
from weaver.model import USER, Post, RoundState
from weaver.roles import RoleContext
from weaver.specs import RoleSpec
from weaver.store import SessionStore
from weaver.testing import ScriptedLLM

CORE = Path(weaver.__file__).resolve().parent


# ---- round-end work: spawned, awaited, persisted -------------------------------------------------


class Answerer:
    async def reply(self, ctx: RoleContext) -> Post:
        notes = ctx.hook.state.get("notes.count", 0)
        post = ctx.new_post(send_to=USER)
        post.message_delta(f"{ctx.post.message} (notes so far: {notes})")
        return post.build()


def note_taker(started: list[str], finished: list[str]) -> SimpleNamespace:
    """Writes a note with the model after every round, in the background."""

    @hookimpl
    def weaver_round_end(round, rounds, ctx):  # type: ignore[no-untyped-def]
        async def note() -> None:
            started.append(round.user_query)
            await asyncio.sleep(0.2)  # the next round must wait for this
            reply = await ctx.llm(role="NoteTaker").chat([{"role": "user", "content": round.user_query}])
            ctx.persist("notes.count", len(rounds))
            ctx.persist("notes.last", reply.text)
            finished.append(round.user_query)

        ctx.spawn(note())

    @hookimpl
    def weaver_roles():  # type: ignore[no-untyped-def]
        return [RoleSpec("answerer", "Answerer", Answerer, "Answers.")]

    return SimpleNamespace(weaver_round_end=weaver_round_end, weaver_roles=weaver_roles)


def test_hook_weaver_round_end(weaver_pm: pluggy.PluginManager, register_extension: Any, tmp_path: Path) -> None:
    started: list[str] = []
    finished: list[str] = []
    llm = ScriptedLLM(lambda request: f"note on {request['messages'][-1]['content']}")
    register_extension(llm.extension())
    register_extension(note_taker(started, finished))
    settings: dict[str, Any] = {"session": {"roles": ["answerer"]}, "llm": llm.llm_config()}
    app = App(tmp_path, plugin_manager=weaver_pm, environ={}, **settings)
    session = app.session()
    first = session.send_message("one")
    assert first.answer == "one (notes so far: 0)"
    second = session.send_message("two")  # waits for the note on round one
    assert second.answer == "two (notes so far: 1)"
    assert started == ["one", "two"] and finished == ["one"]
    app.close()  # closing waits for the note on round two
    assert finished == ["one", "two"]

    again = App(tmp_path, plugin_manager=weaver_pm, environ={}, **settings)
    resumed = again.resume(session.id)
    assert resumed.state["notes.count"] == 2 and resumed.state["notes.last"] == "note on two"
    notes = [r for r in llm.requests if r["messages"][-1]["content"] in ("one", "two")]
    assert len(notes) == 2
    assert resumed.usage.llm_calls == 2  # the notes' calls are the session's, after a resume too
    assert resumed.send_message("three").answer == "three (notes so far: 2)"
    again.close()


def test_a_failing_round_end_hook_is_logged_and_the_session_goes_on(
    weaver_pm: pluggy.PluginManager, register_extension: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    @hookimpl
    def weaver_round_end(round):  # type: ignore[no-untyped-def]
        raise RuntimeError("no notes today")

    register_extension(note_taker([], []))
    register_extension(SimpleNamespace(weaver_round_end=weaver_round_end), name="broken_notes")
    llm = ScriptedLLM(lambda request: "ok")
    register_extension(llm.extension())
    with App(tmp_path, plugin_manager=weaver_pm, environ={}, session={"roles": ["answerer"]}, llm=llm.llm_config()) as app:
        session = app.session()
        assert session.send_message("one").state is RoundState.finished
        assert session.send_message("two").state is RoundState.finished
    assert "broken_notes failed in weaver_round_end" in caplog.text


def test_hook_contexts_are_frozen_and_carry_the_session_facts(make_app: Any) -> None:
    from weaver.testing import echo_extension

    app = make_app(session={"roles": []})
    del echo_extension
    session = app.session()
    ctx = session.hook_context("CodeInterpreter", step="1. load")
    assert isinstance(ctx, HookContext) and ctx.session_id == session.id and ctx.step == "1. load"
    assert ctx.config is app.config and ctx.round_llm_calls == 0
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        ctx.role = "Planner"  # type: ignore[misc]
    with pytest.raises(TypeError):
        ctx.state["mine"] = 1  # type: ignore[index]


# ---- a role cannot reach past its ports -----------------------------------------------------------


ENGINE_TYPES = (App, Session, SessionExecution, SessionStore, pluggy.PluginManager)
"""What a role must never reach: the engine, the executor's owner, the log's writer, the hooks."""


def reachable(root: object) -> Iterator[object]:
    """Every object reachable from ``root`` through attributes (public and private), items of
    containers, attrs fields, bound methods' ``__self__`` and partials' parts.

    Closures' cells and functions' globals are not followed: a role is code in the host
    process and could always ``import gc``; what this checks is that the API it is given, its
    attributes and ports, offers no way around the verified pipeline.
    """
    seen: set[int] = set()
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, (str, bytes, int, float, bool, type(None), type, types.ModuleType)):
            continue
        seen.add(id(obj))
        yield obj
        if isinstance(obj, dict | types.MappingProxyType):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, list | tuple | set | frozenset):
            stack.extend(obj)
        if isinstance(obj, types.MethodType):
            stack.append(obj.__self__)
        if isinstance(obj, functools.partial):
            stack.extend([obj.func, *obj.args, *obj.keywords.values()])
        if isinstance(obj, types.FunctionType | types.BuiltinFunctionType):
            continue
        if attrs.has(type(obj)):
            stack.extend(getattr(obj, field.name) for field in attrs.fields(type(obj)))
        stack.extend(getattr(obj, "__dict__", {}).values())
        for slot in getattr(type(obj), "__slots__", ()):
            if hasattr(obj, slot):
                stack.append(getattr(obj, slot))


class Snooper:
    """Keeps what it is given, so the test can look through it."""

    seen: ClassVar[list[RoleContext]] = []

    async def reply(self, ctx: RoleContext) -> Post:
        Snooper.seen.append(ctx)
        return ctx.new_post(send_to=USER).build()


def test_a_role_has_no_way_to_run_code_but_the_verified_pipeline(make_app: Any, register_extension: Any) -> None:
    @hookimpl
    def weaver_roles():  # type: ignore[no-untyped-def]
        return [RoleSpec("snooper", "Snooper", Snooper, "Looks around.")]

    register_extension(SimpleNamespace(weaver_roles=weaver_roles))
    Snooper.seen.clear()
    app = make_app(session={"roles": ["snooper"]})
    app.session().send_message("hello")
    (ctx,) = Snooper.seen
    assert not hasattr(ctx, "session") and not hasattr(ctx, "hooks")
    found = [type(obj).__name__ for obj in reachable(ctx) if isinstance(obj, ENGINE_TYPES)]
    assert found == [], f"a role can reach {found}"
    # What it has instead: the pipeline's port, which verifies before anything runs.
    assert inspect.iscoroutinefunction(ctx.run_code)
    assert "code" in inspect.signature(ctx.run_code).parameters


def test_hooks_get_no_engine_object_either(make_app: Any, register_extension: Any) -> None:
    contexts: list[HookContext] = []

    @hookimpl
    def weaver_event(event, ctx):  # type: ignore[no-untyped-def]
        if ctx is not None:
            contexts.append(ctx)

    from weaver.testing import echo_extension

    register_extension(echo_extension)
    register_extension(SimpleNamespace(weaver_event=weaver_event), name="watcher")
    make_app(session={"roles": ["echo"]}).session().send_message("hi")
    assert contexts
    found = {type(obj).__name__ for ctx in contexts for obj in reachable(ctx) if isinstance(obj, ENGINE_TYPES)}
    assert found == set()


# ---- layers point down --------------------------------------------------------------------------


def module_name(path: Path) -> str:
    parts = path.relative_to(CORE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def runtime_imports(path: Path) -> set[str]:
    """The ``weaver`` modules a module imports when it is imported (not inside functions, not
    under ``if TYPE_CHECKING``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                visit(node.orelse)
                continue
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.If | ast.Try):
                visit(node.body)
                visit(getattr(node, "orelse", []))
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)

    visit(tree.body)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = {
        module_name(path): path for path in CORE.rglob("*.py") if "fake_dists" not in path.parts and "project_template" not in path.parts
    }
    return {name: {m for m in runtime_imports(path) if m in modules and m != name} for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph[node]:
            if other not in index:
                connect(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def test_weaver_has_no_runtime_import_cycle() -> None:
    graph = import_graph()
    assert len(graph) > 60
    # A package's __init__ re-exporting its modules is not a cycle through the package.
    pruned = {name: {m for m in deps if not name.startswith(m + ".")} for name, deps in graph.items()}
    assert cycles(pruned) == []


VALUES = {"weaver.model", "weaver.specs", "weaver.events", "weaver.errors", "weaver.serde"}


def test_hookspecs_imports_only_value_modules() -> None:
    imported = runtime_imports(CORE / "hookspecs.py")
    assert {m for m in imported if m.startswith("weaver")} <= VALUES
    everything = ast.parse((CORE / "hookspecs.py").read_text(encoding="utf-8"))
    named = {node.module for node in ast.walk(everything) if isinstance(node, ast.ImportFrom) and node.module}
    assert not named & {"weaver.engine", "weaver.roles", "weaver.llm.service", "weaver.execution.service"}


def test_the_value_modules_import_nothing_above_them() -> None:
    graph = import_graph()
    for name in ("weaver.model", "weaver.specs", "weaver.events", "weaver.errors", "weaver.context"):
        assert graph[name] <= VALUES, f"{name} imports {graph[name] - VALUES}"


def test_every_runtime_hook_takes_the_context() -> None:
    from weaver import hookspecs

    setup_and_registration = {
        "weaver_configure",
        "weaver_cli",
        "weaver_config_tables",
        "weaver_roles",
        "weaver_plugins",
        "weaver_plugin_sources",
        "weaver_llm_backends",
        "weaver_executors",
    }
    for name in hookspecs.HOOK_NAMES:
        parameters = list(inspect.signature(getattr(hookspecs, name)).parameters)
        if name in setup_and_registration:
            assert "ctx" not in parameters, name
        else:
            assert parameters[-1] == "ctx", f"{name}: ctx comes last (subject, extras, ctx)"


def test_the_hooks_facade_passes_the_context_to_every_runtime_call() -> None:
    runtime = [name for name, _ in inspect.getmembers(Hooks, inspect.isfunction) if not name.startswith("_")]
    takes_ctx = {name for name in runtime if "ctx" in inspect.signature(getattr(Hooks, name)).parameters}
    assert takes_ctx >= {
        "verify_code",
        "before_llm_call",
        "after_llm_call",
        "before_execute",
        "after_execute",
        "compress_memory",
        "feedback",
        "round_end",
        "event",
    }
