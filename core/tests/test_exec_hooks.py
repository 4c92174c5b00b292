"""The execution hooks: executors, guards around executions, and feedback formatting."""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import attrs
import pytest

from weaver.engine import Session
from weaver.errors import UnknownNameError
from weaver.events import EventType
from weaver.execution import ErrorInfo, ExecutionResult, VariableInfo
from weaver.extensions import Hooks, load_extensions, make_plugin_manager
from weaver.hookspecs import hookimpl
from weaver.specs import ExecutorSpec, Verdict, VerdictAction
from weaver.store import read_log
from weaver.testing.kernels import kernel_app


class InProcessExecutor:
    """A real (unsandboxed, in-process) executor: ``exec`` in one namespace per session.

    It exists to show that an extension's executor replaces the kernel through the registry.
    """

    def __init__(self, session_dir: Path, config: object, setup: object) -> None:
        self.namespace: dict[str, object] = {}
        self.session_dir = session_dir

    async def execute(self, code: str) -> ExecutionResult:
        started, out = time.monotonic(), io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                exec(compile(code, "<cell>", "exec"), self.namespace)  # noqa: S102 - what this executor is
        except Exception as exc:  # noqa: BLE001
            error = ErrorInfo(type(exc).__name__, str(exc))
            return ExecutionResult(False, "error", code=code, stdout=out.getvalue(), error=error)
        return ExecutionResult(True, "ok", code=code, stdout=out.getvalue(), duration_s=time.monotonic() - started)

    def variables(self) -> tuple[VariableInfo, ...]:
        return tuple(VariableInfo(k, type(v).__name__) for k, v in self.namespace.items() if not k.startswith("_"))

    async def close(self) -> None:
        self.namespace.clear()


def test_hook_weaver_executors(tmp_path: Path) -> None:
    @hookimpl
    def weaver_executors():  # type: ignore[no-untyped-def]
        return [ExecutorSpec("in_process", InProcessExecutor, "exec() in the host, for tests")]

    pm = make_plugin_manager()
    load_extensions(pm, only=(), entry_points=())
    pm.register(SimpleNamespace(weaver_executors=weaver_executors), name="in_process_executor")
    app = kernel_app(tmp_path, pm=pm, execution={"executor": "in_process"})
    try:
        assert set(app.registry.executors) == {"local", "in_process"}
        session = app.session()
        app.run(session.execute("x = 20"))
        result = app.run(session.execute("print(x + 1)"))
        assert result.ok and result.stdout == "21\n"
        assert session.variables() == (VariableInfo("x", "int"),)
        logged = [e for e in read_log(session.paths.log).events if e.type is EventType.execution]
        assert [e.data["result"]["code"] for e in logged] == ["x = 20", "print(x + 1)"]
    finally:
        app.close()
    unknown = kernel_app(tmp_path / "other", execution={"executor": "nowhere"})
    try:
        with pytest.raises(UnknownNameError, match="'nowhere'.*known: local"):
            unknown.run(unknown.session().execute("1"))
    finally:
        unknown.close()


@pytest.fixture(scope="module")
def kernel_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    app = kernel_app(tmp_path_factory.mktemp("exec_hooks"))
    yield app.session()
    app.close()


def guards() -> SimpleNamespace:
    @hookimpl
    def weaver_before_execute(code, ctx):  # type: ignore[no-untyped-def]
        if "import os" in code:
            return Verdict.stop("no os here", source="test_guard")
        return Verdict.warn("checked", source="test_guard") if "print" in code else None

    @hookimpl
    def weaver_after_execute(code, result, ctx):  # type: ignore[no-untyped-def]
        if result.error is not None and result.error.type == "ModuleNotFoundError":
            return Verdict.stop(f"missing package: {result.error.message}", source="test_guard")
        return None

    return SimpleNamespace(weaver_before_execute=weaver_before_execute, weaver_after_execute=weaver_after_execute)


def other_guard() -> SimpleNamespace:
    @hookimpl
    def weaver_before_execute(code, ctx):  # type: ignore[no-untyped-def]
        return Verdict.inject("remember the units", source="other_guard")

    return SimpleNamespace(weaver_before_execute=weaver_before_execute)


def guarded_hooks() -> Hooks:
    pm = make_plugin_manager()
    load_extensions(pm, only=(), entry_points=())
    pm.register(guards(), name="test_guard")
    pm.register(other_guard(), name="other_guard")
    return Hooks(pm)


def test_hook_weaver_before_execute(kernel_session: Session) -> None:
    hooks = guarded_hooks()
    ctx = kernel_session.hook_context("CodeInterpreter")
    stopped = hooks.before_execute("import os\nprint(1)", ctx)
    assert stopped.stopped is not None and stopped.stopped.message == "no os here"
    assert stopped.messages == ("remember the units",)
    warned = hooks.before_execute("print(1)", ctx)
    assert warned.stopped is None
    assert [v.action for v in warned.verdicts] == [VerdictAction.inject, VerdictAction.warn]
    # Guards are the code pipeline's business: session.execute itself runs what it is given.
    result = kernel_session.app.run(kernel_session.execute("import os\nprint('ran')"))
    assert result.ok and result.stdout == "ran\n"


def test_hook_weaver_after_execute(kernel_session: Session) -> None:
    hooks = guarded_hooks()
    ctx = kernel_session.hook_context("CodeInterpreter")
    failed = kernel_session.app.run(kernel_session.execute("import no_such_package_here"))
    outcome = hooks.after_execute(failed.code, failed, ctx)
    assert outcome.stopped is not None
    assert outcome.stopped.message == "missing package: No module named 'no_such_package_here'"
    fine = kernel_session.app.run(kernel_session.execute("1 + 1"))
    assert hooks.after_execute(fine.code, fine, ctx).verdicts == ()


def test_hook_weaver_format_feedback(kernel_session: Session) -> None:
    result = kernel_session.app.run(kernel_session.execute("numbers = [1, 2, 3]\nprint('partial output')\nnumbers[10]"))
    pm = make_plugin_manager()
    load_extensions(pm, only=(), entry_points=())
    ctx = kernel_session.hook_context("CodeInterpreter")
    text = Hooks(pm).feedback(result, result.code, ctx)
    assert text.startswith("The execution failed with an error")
    assert "Error: IndexError: list index out of range" in text
    assert "numbers[10]" in text  # the traceback, untrimmed
    assert "stdout:\npartial output" in text
    assert "- numbers: list [3] [1, 2, 3]" in text

    @hookimpl
    def weaver_format_feedback(result, code):  # type: ignore[no-untyped-def]
        return f"{result.outcome}: {result.error.type}"

    pm.register(SimpleNamespace(weaver_format_feedback=weaver_format_feedback), name="short_feedback")
    assert Hooks(pm).feedback(result, result.code, ctx) == "error: IndexError"


def test_hook_weaver_trim_feedback(kernel_session: Session) -> None:
    """Trimmers compose: each gets what the one before returned; the one formatter lays out the rest."""
    result = kernel_session.app.run(kernel_session.execute("print('a' * 50)\nprint('b' * 50)"))
    pm = make_plugin_manager()
    load_extensions(pm, only=(), entry_points=())
    ctx = kernel_session.hook_context("CodeInterpreter")

    def trimmer(letter: str | None) -> SimpleNamespace:
        @hookimpl
        def weaver_trim_feedback(result, code, ctx):  # type: ignore[no-untyped-def]
            if letter is None:
                return None
            return attrs.evolve(result, stdout=result.stdout.replace(letter * 50, f"{letter}..."))

        return SimpleNamespace(weaver_trim_feedback=weaver_trim_feedback)

    pm.register(trimmer("a"), name="trim_a")
    pm.register(trimmer(None), name="trim_none")
    pm.register(trimmer("b"), name="trim_b")
    text = Hooks(pm).feedback(result, result.code, ctx)
    assert "stdout:\na...\nb...\n" in text
    assert "a" * 50 not in text and "b" * 50 not in text
