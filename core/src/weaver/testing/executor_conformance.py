"""One conformance suite for every executor: what a session may rely on, as pytest tests.

An executor (``weaver_executors``) passes when these tests pass against it. To run them,
import them into a test module and give them an ``executor_harness`` fixture that makes
the executor under test::

    import pytest
    from weaver.testing.executor_conformance import *  # the suite's tests, collected here
    from weaver.testing.executor_conformance import AppHarness


    @pytest.fixture(scope="module")
    def executor_harness(tmp_path_factory):
        return AppHarness(tmp_path_factory.mktemp("project"), "my_executor", extensions=[my_extension])

Each test starts its own executor through the harness, inside a running event loop, with
the ``[execution]`` values it needs (short time limits, small caps), and closes it. What is
checked: state across executions and the variable inventory; errors with their class
family; the time limit (interrupt, state kept; a kernel that ignores the interrupt
restarted, the lost variables named); a dying kernel replaced; cancel (the code
interrupted, its output kept, the kernel usable); live output; plugins from a folder, with
their config, counted, within their budget, and a plugin that fails to load named; host
plugins' calls carried to the host and answered there (over the stdin channel);
figures and displays as files in the session's ``artifacts/``; uploads and project files
readable by relative path; output caps; resume by replaying cells; close ending the kernel.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import textwrap
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

import attrs
import pytest

from weaver.errors import PluginLoadError
from weaver.events import Event, EventType
from weaver.execution.executor import ExecutionCancelled, Executor, ExecutorSetup
from weaver.execution.output import InputAnswer
from weaver.execution.restore import restore
from weaver.execution.result import ExecutionResult
from weaver.serde import to_data
from weaver.specs import PluginSpec
from weaver.store import SessionPaths

__all__ = [
    "AppHarness",
    "ExecutorHarness",
    "test_a_dying_kernel_is_replaced",
    "test_cancel_interrupts_the_code_and_keeps_its_output",
    "test_close_ends_the_kernel",
    "test_errors_name_their_class_family",
    "test_figures_and_displays_are_files_in_artifacts",
    "test_host_plugin_calls_are_answered_by_the_host",
    "test_output_is_capped",
    "test_plugin_budget_holds_inside_an_execution",
    "test_plugin_that_does_not_load_is_named",
    "test_plugins_from_a_folder_run_with_their_config_and_are_counted",
    "test_restore_replays_successful_cells",
    "test_state_and_variables_persist_across_executions",
    "test_the_kernel_that_ignores_an_interrupt_is_restarted_and_the_loss_named",
    "test_timeout_interrupts_and_keeps_state",
    "test_uploads_and_project_files_are_read_by_relative_path",
]

LIVENESS_S = 60.0
"""A bound only a hang reaches."""
T = TypeVar("T")


class ExecutorHarness(Protocol):
    """Makes executors of the kind under test, and says whether one's kernel still runs."""

    project_dir: Path
    """The project: its ``data/`` folder is ``[execution] project_files``' default."""

    def session_dir(self, name: str) -> Path:
        """A new session directory (under the project's workspace)."""
        ...

    def plugin_dir(self, name: str) -> Path:
        """A new folder for plugin files, which the executor's kernels may read."""
        ...

    def executor(self, session_dir: Path, setup: ExecutorSetup, **execution: Any) -> Executor:
        """An executor for ``session_dir``, with ``[execution]`` values ``execution``
        (called inside the running event loop)."""
        ...

    def kernel_of(self, executor: Executor) -> object:
        """What identifies ``executor``'s running kernel (a process id, a gateway's kernel id)."""
        ...

    def kernel_running(self, kernel: object) -> bool:
        """Whether the kernel ``kernel_of`` named still runs."""
        ...


@attrs.define
class AppHarness:
    """A harness for an executor found through extensions, configured as an App would be.

    ``extensions`` are registered on a plugin manager with the core defaults (no entry
    points), ``tables`` are further config tables (``{"my_executor": {"url": ...}}``), and
    ``execution`` the ``[execution]`` values every executor gets. ``kernel_of(executor)``
    names an executor's running kernel and ``running(kernel)`` says whether it still runs
    (for :func:`test_close_ends_the_kernel`).
    """

    project_dir: Path
    executor_name: str
    extensions: Sequence[object] = ()
    tables: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)
    execution: Mapping[str, Any] = attrs.field(factory=dict)
    kernel_of_executor: Callable[[Executor], object] | None = None
    running: Callable[[object], bool] | None = None
    _count: int = 0

    def session_dir(self, name: str) -> Path:
        self._count += 1
        path = self.project_dir / ".weaver" / "sessions" / f"{name}-{self._count}"
        SessionPaths(path).create()
        return path

    def plugin_dir(self, name: str) -> Path:
        self._count += 1
        path = self.project_dir / f"plugins-{name}-{self._count}"
        path.mkdir(mode=0o755, parents=True)
        return path

    def executor(self, session_dir: Path, setup: ExecutorSetup, **execution: Any) -> Executor:
        from weaver.config import build_config, overrides_layer
        from weaver.extensions import build_registry, load_extensions, make_plugin_manager, register

        pm = make_plugin_manager()
        load_extensions(pm, only=(), entry_points=())
        for extension in self.extensions:
            if not pm.is_registered(extension):
                register(pm, extension)
        registry = build_registry(pm)
        settings = {**{k: dict(v) for k, v in self.tables.items()}, "execution": {**self.execution, **execution}}
        layer = overrides_layer(settings, "the conformance harness")
        config = build_config(self.project_dir, [layer], registry.config_tables)
        spec = registry.executors[self.executor_name]
        executor: Executor = spec.factory(session_dir, config, setup)
        return executor

    def kernel_of(self, executor: Executor) -> object:
        if self.kernel_of_executor is None:
            raise NotImplementedError("give AppHarness kernel_of_executor and running for test_close_ends_the_kernel")
        return self.kernel_of_executor(executor)

    def kernel_running(self, kernel: object) -> bool:
        if self.running is None:
            raise NotImplementedError("give AppHarness kernel_of_executor and running for test_close_ends_the_kernel")
        return self.running(kernel)


def run_with(
    harness: ExecutorHarness,
    body: Callable[[Executor, SessionPaths], Awaitable[T]],
    *,
    plugins: Iterable[PluginSpec] = (),
    budget: int | None = None,
    name: str = "conformance",
    **execution: Any,
) -> T:
    """Run ``body(executor, paths)`` on a new executor of ``harness`` in a new event loop;
    the executor is closed afterwards, whatever happens."""
    session_dir = harness.session_dir(name)
    setup = ExecutorSetup(session_dir.name, plugins=tuple(plugins), plugin_call_budget=budget)

    async def scenario() -> T:
        executor = harness.executor(session_dir, setup, **execution)
        try:
            return await asyncio.wait_for(body(executor, SessionPaths(session_dir)), LIVENESS_S * 3)
        finally:
            await executor.close()

    return asyncio.run(scenario())


def _plugin(harness: ExecutorHarness, source: str, name: str, target: str, **fields: Any) -> PluginSpec:
    folder = harness.plugin_dir(name)
    module = target.split(":", 1)[0]
    (folder / f"{module}.py").write_text(textwrap.dedent(source))
    (folder / f"{module}.py").chmod(0o644)
    return PluginSpec(name, target, f"the conformance suite's {name}", path=str(folder), **fields)


# ---- state, errors, limits --------------------------------------------------------------


def test_state_and_variables_persist_across_executions(executor_harness: ExecutorHarness) -> None:
    async def body(executor: Executor, paths: SessionPaths) -> tuple[ExecutionResult, ...]:
        first = await executor.execute("numbers = [1, 2, 3]\nprint('made', len(numbers))")
        second = await executor.execute("total = sum(numbers) * 7\ntotal")
        return first, second

    first, second = run_with(executor_harness, body)
    assert first.ok and first.stdout == "made 3\n", first
    assert second.ok and second.value_repr == "42", second
    names = {v.name: v for v in second.variables}
    assert set(names) == {"numbers", "total"}
    assert names["numbers"].type == "list" and names["numbers"].shape_or_len == "3"
    assert names["total"].preview == "42"


def test_errors_name_their_class_family(executor_harness: ExecutorHarness) -> None:
    async def body(executor: Executor, paths: SessionPaths) -> tuple[ExecutionResult, ...]:
        kept = await executor.execute("kept = 'still here'")
        failed = await executor.execute("import json\njson.loads('{not json')")
        after = await executor.execute("kept")
        return kept, failed, after

    kept, failed, after = run_with(executor_harness, body)
    assert kept.ok
    assert not failed.ok and failed.outcome == "error" and failed.error is not None
    assert failed.error.type == "JSONDecodeError" and "ValueError" in failed.error.mro
    assert "json.loads" in failed.error.traceback
    assert after.ok and after.value_repr == "'still here'"


def test_timeout_interrupts_and_keeps_state(executor_harness: ExecutorHarness) -> None:
    async def body(executor: Executor, paths: SessionPaths) -> tuple[ExecutionResult, ...]:
        before = await executor.execute("progress = []")
        slow = await executor.execute("import time\nfor step in range(10_000):\n    progress.append(step)\n    time.sleep(0.01)")
        after = await executor.execute("len(progress) > 0, step == progress[-1]")
        return before, slow, after

    before, slow, after = run_with(executor_harness, body, timeout_s=2, interrupt_grace_s=LIVENESS_S / 2)
    assert before.ok
    assert slow.outcome == "timeout_interrupted" and not slow.state_lost and slow.error is not None
    assert slow.error.type == "TimeoutError" and "KeyboardInterrupt" in slow.error.traceback
    assert after.ok and after.value_repr == "(True, True)", after


def test_the_kernel_that_ignores_an_interrupt_is_restarted_and_the_loss_named(executor_harness: ExecutorHarness) -> None:
    stubborn = "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    time.sleep(0.05)"

    async def body(executor: Executor, paths: SessionPaths) -> tuple[ExecutionResult, ...]:
        before = await executor.execute("kept = 1\nalso = 2")
        stuck = await executor.execute(stubborn)
        after = await executor.execute("'kept' in globals(), 1 + 1")
        return before, stuck, after

    before, stuck, after = run_with(executor_harness, body, timeout_s=2, interrupt_grace_s=2)
    assert before.ok
    assert stuck.outcome == "timeout_restarted" and stuck.state_lost
    assert set(stuck.lost_variables) == {"kept", "also"}
    assert after.ok and after.value_repr == "(False, 2)", after  # a new, empty kernel runs the next code


def test_a_dying_kernel_is_replaced(executor_harness: ExecutorHarness) -> None:
    async def body(executor: Executor, paths: SessionPaths) -> tuple[ExecutionResult, ...]:
        before = await executor.execute("kept = 1")
        died = await executor.execute("import os\nos._exit(3)")
        after = await executor.execute("'kept' in globals()")
        return before, died, after

    before, died, after = run_with(executor_harness, body)
    assert before.ok
    assert died.outcome == "kernel_died" and died.state_lost and died.lost_variables == ("kept",)
    assert died.error is not None and died.error.type == "KernelDied"
    assert after.ok and after.value_repr == "False", after


def test_cancel_interrupts_the_code_and_keeps_its_output(executor_harness: ExecutorHarness) -> None:
    """Output arrives while the code runs (``on_output``); cancelling the awaiting task
    interrupts the code, the result keeps what it printed, and the kernel goes on with
    its state. The code would run for ten minutes: only the interrupt ends it in time."""

    async def body(executor: Executor, paths: SessionPaths) -> tuple[Any, ...]:
        if "on_output" not in inspect.signature(executor.execute).parameters:
            pytest.skip("this executor takes no on_output (optional in the Executor protocol)")
        seen: list[str] = []
        arrived = asyncio.Event()

        def on_output(stream: str, text: str) -> None:
            seen.append(text)
            if "working" in "".join(seen):
                arrived.set()

        await executor.execute("kept = 'yes'")
        task = asyncio.ensure_future(
            executor.execute("import time\nprint('working', flush=True)\ntime.sleep(600)", on_output=on_output)  # type: ignore[call-arg]
        )
        await asyncio.wait_for(arrived.wait(), LIVENESS_S)
        running = not task.done()
        task.cancel()
        try:
            await task
            cancelled = None
        except ExecutionCancelled as exc:
            cancelled = exc.result
        after = await executor.execute("kept")
        return running, cancelled, after

    running, cancelled, after = run_with(executor_harness, body, timeout_s=LIVENESS_S)
    assert running  # the output came while the code still ran
    assert cancelled is not None and cancelled.outcome == "cancelled"
    assert "working" in cancelled.stdout
    assert after.ok and after.value_repr == "'yes'", after  # interrupted, not left sleeping


def test_output_is_capped(executor_harness: ExecutorHarness) -> None:
    async def body(executor: Executor, paths: SessionPaths) -> ExecutionResult:
        return await executor.execute("print('x' * 200_000)\nprint('the end')")

    result = run_with(executor_harness, body, max_output_chars=2000)
    assert result.ok
    assert len(result.stdout) < 4000 and result.stdout.rstrip().endswith("the end")
    assert result.truncated and "cut" in result.truncated[0]


# ---- plugins ----------------------------------------------------------------------------

SCALE = """
from weaver.execution.runtime import context


def scale(x: float) -> float:
    \"\"\"x times the configured factor.\"\"\"
    return x * context().config["factor"]
"""


def test_plugins_from_a_folder_run_with_their_config_and_are_counted(executor_harness: ExecutorHarness) -> None:
    plugin = _plugin(executor_harness, SCALE, "scale", "conformance_scale:scale", config={"factor": 3})

    async def body(executor: Executor, paths: SessionPaths) -> ExecutionResult:
        return await executor.execute("[scale(1), scale(2)]")

    result = run_with(executor_harness, body, plugins=[plugin])
    assert result.ok and result.value_repr == "[3, 6]", result
    assert result.plugin_calls == {"scale": 2}
    assert "scale" not in {v.name for v in result.variables}  # plugins are not user variables


def test_plugin_budget_holds_inside_an_execution(executor_harness: ExecutorHarness) -> None:
    plugin = _plugin(executor_harness, SCALE, "scale", "conformance_scale:scale", config={"factor": 2})

    async def body(executor: Executor, paths: SessionPaths) -> tuple[ExecutionResult, ...]:
        per_execution = await executor.execute("[scale(n) for n in range(5)]")
        if "plugin_budget" not in inspect.signature(executor.execute).parameters:
            pytest.skip("this executor takes no plugin_budget (optional in the Executor protocol)")
        scoped = await executor.execute(  # type: ignore[call-arg]
            "first = scale(10)\nsecond = scale(20)", plugin_budget={"budget": 3, "scope": "round", "left": {"scale": 1}}
        )
        kept = await executor.execute("first, _plugin_results")
        return per_execution, scoped, kept

    per_execution, scoped, kept = run_with(executor_harness, body, plugins=[plugin], budget=3)
    assert per_execution.outcome == "error" and per_execution.error is not None
    assert per_execution.error.type == "PluginBudgetExceeded" and per_execution.plugin_calls == {"scale": 3}
    assert scoped.error is not None and scoped.error.type == "PluginBudgetExceeded" and "per round" in scoped.error.message
    assert kept.value_repr == "(20, [20])", kept


def test_host_plugin_calls_are_answered_by_the_host(executor_harness: ExecutorHarness) -> None:
    """A host plugin is a stub in the kernel: each call reaches the execution's ``host_calls``
    with its arguments, and what the host answers (a value or an error) comes back."""
    view = {
        "signature": "lookup(key: str) -> str",
        "doc": "Look ``key`` up on the host.",
        "parameters": [{"name": "key", "type": "str", "required": True, "default": None}],
        "returns": "str",
    }
    plugin = PluginSpec("lookup", "host_only:lookup", "the conformance suite's host plugin", host=True, kernel_view=view)
    calls: list[dict[str, Any]] = []

    async def answer(call: str, deadline: float) -> InputAnswer:
        request = json.loads(call)
        calls.append(request)
        key = request["arguments"]["key"]
        if key == "missing":
            return InputAnswer(json.dumps({"id": request["id"], "error": {"type": "KeyError", "message": "no such key"}}))
        return InputAnswer(json.dumps({"id": request["id"], "result": key.upper()}))

    async def body(executor: Executor, paths: SessionPaths) -> tuple[ExecutionResult, ...]:
        if "host_calls" not in inspect.signature(executor.execute).parameters:
            pytest.skip("this executor runs no host plugins (host_calls is optional in the Executor protocol)")
        found = await executor.execute("[lookup('a'), lookup(key='b')]", host_calls=answer)  # type: ignore[call-arg]
        failed = await executor.execute("lookup('missing')", host_calls=answer)  # type: ignore[call-arg]
        return found, failed

    found, failed = run_with(executor_harness, body, plugins=[plugin])
    assert found.ok and found.value_repr == "['A', 'B']", found
    assert [c["arguments"] for c in calls] == [{"key": "a"}, {"key": "b"}, {"key": "missing"}]
    assert failed.error is not None and failed.error.type == "PluginCallError" and "no such key" in failed.error.message


def test_plugin_that_does_not_load_is_named(executor_harness: ExecutorHarness) -> None:
    broken = _plugin(executor_harness, "raise ImportError('no such backend')\n", "broken", "conformance_broken:run")

    async def body(executor: Executor, paths: SessionPaths) -> BaseException | None:
        try:
            await executor.execute("1")
        except PluginLoadError as exc:
            return exc
        return None

    error = run_with(executor_harness, body, plugins=[broken])
    assert isinstance(error, PluginLoadError) and error.name == "broken"
    assert "no such backend" in str(error)


# ---- files ------------------------------------------------------------------------------


def test_figures_and_displays_are_files_in_artifacts(executor_harness: ExecutorHarness) -> None:
    code = (
        "import matplotlib.pyplot as plt\nfrom IPython.display import HTML, display\n"
        "plt.plot([1, 3, 2])\nplt.title('sales')\nplt.show()\ndisplay(HTML('<b>bold</b>'))"
    )

    async def body(executor: Executor, paths: SessionPaths) -> tuple[ExecutionResult, SessionPaths]:
        return await executor.execute(code), paths

    result, paths = run_with(executor_harness, body)
    assert result.ok, result
    pngs = [a for a in result.artifacts if a.mime == "image/png"]
    assert len(pngs) == 1
    figure = Path(pngs[0].path)
    assert figure.parent == paths.artifacts and figure.read_bytes().startswith(b"\x89PNG")
    (html,) = [d for d in result.displays if "text/html" in d.mimes]
    assert html.artifact is not None and Path(html.artifact).parent == paths.artifacts
    assert Path(html.artifact).read_text() == "<b>bold</b>"


def test_uploads_and_project_files_are_read_by_relative_path(executor_harness: ExecutorHarness) -> None:
    data = executor_harness.project_dir / "data"
    data.mkdir(exist_ok=True)
    (data / "regions.csv").write_text("region,target\nnorth,10\nsouth,20\n")

    async def body(executor: Executor, paths: SessionPaths) -> tuple[ExecutionResult, ...]:
        (paths.cwd / "sales.csv").write_text("region,amount\nnorth,3\nsouth,4\n")
        first = await executor.execute(
            "import csv\nsales = list(csv.DictReader(open('sales.csv')))\n"
            "targets = list(csv.DictReader(open('data/regions.csv')))\nlen(sales), targets[1]['target']"
        )
        (paths.cwd / "later").mkdir()
        (paths.cwd / "later" / "notes.txt").write_text("uploaded after the first execution")
        later = await executor.execute("open('later/notes.txt').read()")
        return first, later

    first, later = run_with(executor_harness, body)
    assert first.ok and first.value_repr == "(2, '20')", first
    assert later.ok and later.value_repr == "'uploaded after the first execution'", later


# ---- sessions ---------------------------------------------------------------------------


def test_restore_replays_successful_cells(executor_harness: ExecutorHarness) -> None:
    def logged(code: str, ok: bool = True, state_lost: bool = False) -> Event:
        result = ExecutionResult(ok=ok, outcome="ok" if ok else "error", code=code, state_lost=state_lost)
        return Event(EventType.execution, "resumed", data={"result": to_data(result)})

    events = [logged("lost = 1"), logged("x = 1", state_lost=True), logged("x += 1"), logged("oops", ok=False), logged("y = x * 10")]

    async def body(executor: Executor, paths: SessionPaths) -> tuple[Any, ExecutionResult]:
        report = await restore(executor, events)
        return report, await executor.execute("x, y, 'lost' in globals()")

    report, state = run_with(executor_harness, body)
    assert report.rerun == ("x = 1", "x += 1", "y = x * 10") and report.ok
    assert state.value_repr == "(2, 20, False)", state


def test_close_ends_the_kernel(executor_harness: ExecutorHarness) -> None:
    async def body(executor: Executor, paths: SessionPaths) -> tuple[object, bool, bool]:
        await executor.execute("1")
        kernel = executor_harness.kernel_of(executor)
        alive = await asyncio.to_thread(executor_harness.kernel_running, kernel)
        await executor.close()
        return kernel, alive, await asyncio.to_thread(executor_harness.kernel_running, kernel)

    kernel, before, after = run_with(executor_harness, body)
    assert kernel is not None and before and not after
