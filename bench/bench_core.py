"""The core's fixed costs: importing ``weaver``, building an ``App`` and running an echo round.

Each is measured in a fresh interpreter against the floor of starting one
(``python -c pass``), plus the time of one echo round inside a running app. The echo role
answers at once, so a round's time is the engine's own overhead: routing, events, the log.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time

STARTUP = "python -c pass"

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


def _wall(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True)
    return time.perf_counter() - start


def _subprocess_samples(code: str, repeats: int, *args: str) -> list[float]:
    _wall([sys.executable, "-c", code, *args])  # warm the OS file cache
    return [_wall([sys.executable, "-c", code, *args]) for _ in range(repeats)]


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
