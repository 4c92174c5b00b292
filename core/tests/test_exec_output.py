"""Output of running code, passed on as it arrives (``execute(code, on_output=...)``), within
the result's caps; and what cancelled or interrupted code printed is kept."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from weaver.engine import App
from weaver.execution.executor import ExecutionCancelled, ExecutorSetup
from weaver.execution.kernel import LocalExecutor
from weaver.testing.kernels import LIVENESS_S, kernel_app

WAIT_FOR_GO = (
    "import pathlib, time\n"
    "print('ready', flush=True)\n"
    f"for _ in range({int(LIVENESS_S * 10)}):\n"
    "    if pathlib.Path('go').exists():\n"
    "        break\n"
    "    time.sleep(0.1)\n"
    "print('go seen' if pathlib.Path('go').exists() else 'no go')"
)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    app = kernel_app(tmp_path_factory.mktemp("exec_output"), execution={"max_output_chars": 2000, "timeout_s": 60})
    yield app
    app.close()


@pytest.fixture(scope="module")
def executor(app: App) -> Iterator[LocalExecutor]:
    executor = LocalExecutor.create(app.workspace / "sessions" / "live", app.config, ExecutorSetup("live"))
    yield executor
    app.run(executor.close())


def test_output_reaches_on_output_while_the_code_still_runs(app: App, executor: LocalExecutor) -> None:
    """The code waits for a file that only the callback creates, on seeing its first line:
    it can finish only if that line was passed on while it ran."""
    seen: list[tuple[str, str]] = []

    def on_output(name: str, text: str) -> None:
        seen.append((name, text))
        if "ready" in text:
            (executor.paths.cwd / "go").touch()

    result = app.run(executor.execute(WAIT_FOR_GO, on_output=on_output))
    assert result.ok, result.error
    assert result.stdout == "ready\ngo seen\n"
    assert "".join(text for name, text in seen if name == "stdout") == "ready\ngo seen\n"
    assert app.run(executor.execute("print('no callback')")).stdout == "no callback\n"  # execute(code) as before


def test_live_output_is_capped_like_the_result(app: App, executor: LocalExecutor) -> None:
    seen: list[str] = []
    code = "import sys\nfor i in range(2000):\n    print(f'{i:05d}' * 20)\nprint('oops', file=sys.stderr)"
    result = app.run(executor.execute(code, on_output=lambda name, text: seen.append(f"{name}:{text}")))
    live = "".join(part.split(":", 1)[1] for part in seen if part.startswith("stdout:"))
    assert live == result.stdout and "characters cut" in live  # the kernel's own cap: head, note, tail
    assert "stderr:oops\n" in seen  # each stream has its own room
    # Output that bypasses the kernel's cap (here the stream's own class method) meets the host's.
    seen.clear()
    flood = "import sys\ntype(sys.stdout).write(sys.stdout, 'x' * 1_000_000)"
    result = app.run(executor.execute(flood, on_output=lambda name, text: seen.append(text)))
    live = "".join(seen)
    assert len(live) < 2000 + 256 + 100 and live.startswith("xxx")
    assert live.endswith("[... more output: the result keeps its head and tail ...]\n")
    assert len(result.stdout) < 3000


def test_a_failing_callback_does_not_break_the_execution(app: App, executor: LocalExecutor) -> None:
    def broken(name: str, text: str) -> None:
        raise RuntimeError("an observer's bug")

    result = app.run(executor.execute("print('still here')\n6 * 7", on_output=broken))
    assert result.ok and result.value_repr == "42" and result.stdout == "still here\n"


def test_a_cancelled_execution_keeps_what_it_printed(app: App, executor: LocalExecutor) -> None:
    started = executor.paths.cwd / "started"

    async def cancel_it() -> ExecutionCancelled:
        task = asyncio.ensure_future(
            executor.execute("import time, pathlib\nprint('before the cancel', flush=True)\npathlib.Path('started').touch()\ntime.sleep(600)")
        )
        for _ in range(int(LIVENESS_S * 10)):
            if started.exists():
                break
            await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(ExecutionCancelled) as caught:
            await task
        return caught.value

    cancelled = app.run(cancel_it())
    assert isinstance(cancelled, asyncio.CancelledError)
    result = cancelled.result
    assert result.outcome == "cancelled" and not result.ok
    assert result.stdout == "before the cancel\n"
    assert result.error is not None and result.error.type == "KeyboardInterrupt"
    assert app.run(executor.execute("'still answering'")).value_repr == "'still answering'"


def test_output_before_the_time_limit_is_kept(tmp_path: Path) -> None:
    app = kernel_app(tmp_path, execution={"timeout_s": 2, "interrupt_grace_s": 10})
    try:
        result = app.run(app.session().execute("import time\nprint('partial', flush=True)\ntime.sleep(600)"))
    finally:
        app.close()
    assert result.outcome == "timeout_interrupted" and result.stdout == "partial\n"
