"""For tests of the service and of front ends built on it: a real ``weaver serve`` in a
subprocess, a project for it, and a scripted model for :class:`weaver.testing.FakeOpenAIServer`.

::

    with FakeOpenAIServer(scripted_model) as model:
        project = write_project(tmp_path, model.base_url, execution={"pool_size": 0})
        with serve(project, tokens={"alice": ALICE}) as service:
            client = Client(service.url, ALICE)
            round = client.session().send_message("run: print(6 * 7)")   # the code runs in a real kernel

:func:`scripted_model` plays the built-in Planner and CodeInterpreter: a request that starts
with ``run:`` has the rest run as Python in the session's kernel; the Planner then answers
with what the code printed. A request containing ``fail:`` makes the model answer with an
HTTP 400, so the round fails.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs

from weaver.testing.fake_openai import FakeError, FakeOpenAIServer
from weaver.testing.wire import code_reply, planner_reply

START_TIMEOUT_S = 90.0
"""How long the service may take to start (generous: machines running tests are busy)."""
PLAN = "1. Run the code\n2. Report what it printed"
RUN = "run:"
FAIL = "fail:"
_SERVING = re.compile(r"weaver: serving (http://\S+)")
_DIE_WITH_PARENT = (
    "import ctypes, runpy, signal, sys; ctypes.CDLL(None).prctl(1, signal.SIGTERM); "
    "sys.argv[0] = 'weaver'; runpy.run_module('weaver.cli', run_name='__main__')"
)
_LAUNCH = (sys.executable, "-c", _DIE_WITH_PARENT) if sys.platform == "linux" else (sys.executable, "-m", "weaver.cli")
"""``weaver`` as a child that gets a SIGTERM when the test process dies (PR_SET_PDEATHSIG, on
Linux), so no service outlives the tests that started it."""


def scripted_model(request: dict[str, Any]) -> str | FakeError:
    """The model's reply to one request of a round, chosen by who asks and what came last."""
    messages = request["messages"]
    system, last = messages[0]["content"], messages[-1]["content"]
    if FAIL in last:
        return FakeError(400, "the model refuses requests that say fail: (scripted)")
    if system.startswith("You are CodeInterpreter."):
        planner = next((m["content"] for m in reversed(messages) if "# Request from Planner\n" in m["content"]), "")
        asked = planner.rsplit("# Request from Planner\n", 1)[-1].strip()
        return code_reply(asked[len(RUN) :].strip() if asked.startswith(RUN) else "print('nothing to run')")
    if system.startswith("You are Planner."):
        if last.startswith("CodeInterpreter:"):
            printed = last.split("stdout:\n", 1)[1].split("\n\n", 1)[0].strip() if "stdout:\n" in last else "no output"
            return planner_reply(f"Done: {printed}", send_to="User", stop="Completed", plan=PLAN, step="2. Report what it printed")
        asked = last.rsplit("User: ", 1)[-1].split("\n(files uploaded to the working directory:", 1)[0].strip()
        return planner_reply(asked, plan=PLAN)
    return "The User asked for code to be run; it ran."  # a summary of earlier rounds


def _toml_value(value: Any) -> str:
    return json.dumps(list(value) if isinstance(value, tuple) else value, ensure_ascii=False)


def write_project(directory: Path, model_url: str, **tables: Mapping[str, Any]) -> Path:
    """A project whose ``weaver.toml`` points ``[llm]`` at ``model_url`` and sets ``tables``."""
    directory.mkdir(parents=True, exist_ok=True)
    tables = {"llm": {"api_key": "test", "base_url": model_url, "model": "fake-model", **tables.pop("llm", {})}, **tables}
    lines = []
    for name, table in tables.items():
        lines.append(f"[{name}]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in table.items()]
        lines.append("")
    (directory / "weaver.toml").write_text("\n".join(lines), encoding="utf-8")
    return directory


@attrs.define
class ServiceProcess:
    """A running ``weaver serve``: its address, its process, its project and what it printed on stderr."""

    url: str
    process: subprocess.Popen[str]
    project: Path
    stderr: list[str]

    @property
    def workspace(self) -> Path:
        return self.project / ".weaver"

    def stop(self, sig: int = signal.SIGTERM, timeout: float = START_TIMEOUT_S) -> int:
        """Signal the service and wait for it to exit; its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise


def clean_environment(extra: Mapping[str, str] = {}) -> dict[str, str]:
    """The environment without the machine's Weaver and OpenAI settings, plus ``extra``."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("WEAVER_", "OPENAI_"))}
    return {**kept, "WEAVER_CONFIG": os.devnull, **extra}


@contextmanager
def serve(
    project: Path, *, tokens: Mapping[str, str] = {}, env: Mapping[str, str] = {}, args: tuple[str, ...] = ()
) -> Iterator[ServiceProcess]:
    """``weaver -p PROJECT serve --port 0`` with these users' tokens, until the block ends (then SIGTERM)."""
    extra = dict(env)
    if tokens:
        extra["WEAVER_SERVER__TOKENS"] = ",".join(f"{user}:{token}" for user, token in tokens.items())
    command = [*_LAUNCH, "-p", str(project), "serve", "--port", "0", *args]
    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env=clean_environment(extra),
    )  # fmt: skip
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            if _SERVING.search(line):
                ready.set()
        ready.set()

    threading.Thread(target=read, name="weaver-serve-stderr", daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not ready.wait(0.1) and time.monotonic() < deadline:
        pass
    found = next((m for m in map(_SERVING.search, lines) if m), None)
    if found is None:
        process.kill()
        process.wait()
        raise RuntimeError(f"weaver serve did not start (status {process.returncode}):\n{''.join(lines)}")
    service = ServiceProcess(found.group(1), process, project, lines)
    try:
        yield service
    finally:
        if process.poll() is None:
            service.stop()


@contextmanager
def scripted_service(directory: Path, *, tokens: Mapping[str, str], **tables: Mapping[str, Any]) -> Iterator[ServiceProcess]:
    """``weaver serve`` on :func:`scripted_model`: the fake model's server, a project in
    ``directory`` pointed at it with ``tables`` (:func:`write_project`), and the service."""
    with FakeOpenAIServer(scripted_model) as model, serve(write_project(directory, model.base_url, **tables), tokens=tokens) as running:
        yield running
