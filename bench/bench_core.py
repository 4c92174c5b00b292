"""The core's fixed costs: importing ``weaver``, ``weaver --help``, building an ``App`` and an echo round.

Each is measured in a fresh interpreter against the floor of starting one
(``python -c pass``), plus the time of one echo round inside a running app. The echo role
answers at once, so a round's time is the engine's own overhead: routing, events, the log.
``weaver --help`` runs the console script with every installed extension loaded (their
commands are in the help), as a user with ``pip install weaver`` has it; beside it, the
floor of its CLI framework: a two-command Typer app printing its (rich) help.

Every process runs with bytecode caching on (``PYTHONDONTWRITEBYTECODE`` dropped from its
environment; the warm-up run writes the caches): an installed Weaver has its modules
compiled, as pip compiles what it installs, so recompiling each module on every start, which
that variable causes for an editable install, is no part of what a user waits for.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

STARTUP = "python -c pass"
TYPER_FLOOR = "typer app --help"

TYPER_APP = """
import typer

app = typer.Typer(add_completion=False)


@app.command()
def hello(name: str = "world") -> None:
    \"\"\"Say hello.\"\"\"


@app.command()
def bye() -> None:
    \"\"\"Say goodbye.\"\"\"


app(["--help"])
"""

APP_ROUND = """
import sys
from weaver.engine import App
from weaver.extensions import load_extensions, make_plugin_manager
from weaver.testing import echo_extension

pm = make_plugin_manager()
load_extensions(pm, only=(), entry_points=())
pm.register(echo_extension, name="echo")
with App(sys.argv[1], plugin_manager=pm, environ={}, session={"roles": ["echo"]}) as app:
    assert app.session().send_message("hi").answer == "echo: hi"
"""


def cached_bytecode(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` without ``PYTHONDONTWRITEBYTECODE`` (see the module's docstring)."""
    return {k: v for k, v in environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _wall(argv: list[str], env: Mapping[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, env=cached_bytecode(os.environ if env is None else env), stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def _samples(argv: list[str], repeats: int, env: Mapping[str, str] | None = None) -> list[float]:
    _wall(argv, env)  # warm the OS file cache
    return [_wall(argv, env) for _ in range(repeats)]


def _subprocess_samples(code: str, repeats: int, *args: str) -> list[float]:
    return _samples([sys.executable, "-c", code, *args], repeats)


def _typer_samples(repeats: int) -> list[float]:
    """``app(["--help"])`` exits with status 0 through SystemExit, as a CLI does."""
    return _samples([sys.executable, "-c", TYPER_APP], max(repeats, 10))


def _help_samples(repeats: int) -> list[float]:
    script = Path(sys.executable).with_name("weaver")
    argv = [str(script)] if script.is_file() else [sys.executable, "-m", "weaver.cli"]
    env = {k: v for k, v in os.environ.items() if k != "WEAVER_LOAD_EXTENSIONS"}
    return _samples([*argv, "--help"], max(repeats, 10), env)


def _round_samples(repeats: int, workspace: str) -> list[float]:
    from weaver.engine import App
    from weaver.extensions import load_extensions, make_plugin_manager
    from weaver.testing import echo_extension

    pm = make_plugin_manager()
    load_extensions(pm, only=(), entry_points=())
    pm.register(echo_extension, name="echo")
    with App(workspace, plugin_manager=pm, environ={}, session={"roles": ["echo"]}) as app:
        session = app.session()
        session.send_message("warm up")
        samples = []
        for n in range(repeats):
            start = time.perf_counter()
            session.send_message(f"round {n}")
            samples.append((time.perf_counter() - start) * 1000)
    return samples


def run(repeats: int) -> list[dict]:
    with tempfile.TemporaryDirectory() as project:
        return [
            {
                "name": STARTUP,
                "unit": "s",
                "samples": _subprocess_samples("pass", repeats),
                "baseline": None,
                "note": "the floor: a fresh interpreter doing nothing",
            },
            {
                "name": "import weaver",
                "unit": "s",
                "samples": _subprocess_samples("import weaver", repeats),
                "baseline": STARTUP,
                "note": "fresh interpreter; lazy names, so no LLM client or kernel is imported",
            },
            {
                "name": TYPER_FLOOR,
                "unit": "s",
                "samples": _typer_samples(repeats),
                "baseline": STARTUP,
                "note": "the CLI framework's floor: a two-command Typer app, rich help (at least 10 samples)",
            },
            {
                "name": "weaver --help",
                "unit": "s",
                "samples": _help_samples(repeats),
                "baseline": TYPER_FLOOR,
                "note": "the console script, every installed extension loaded (at least 10 samples)",
            },
            {
                "name": "App + echo round",
                "unit": "s",
                "samples": _subprocess_samples(APP_ROUND, repeats, project),
                "baseline": STARTUP,
                "note": "fresh interpreter: import, App without entry points, one session, one echo round",
            },
            {
                "name": "echo round in a running app",
                "unit": "ms",
                "samples": _round_samples(max(repeats, 20), project),
                "baseline": None,
                "note": "engine overhead per round: routing, events, the session log (at least 20 samples)",
            },
        ]
