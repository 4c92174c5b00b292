"""A host plugin's call from kernel code (the stub asks the host on the stdin channel, the
host checks the budget, logs the call, runs the plugin, answers as JSON) against the same
plugin bound in the kernel, in one run: the time of one call, measured as a loop of calls
in one execution divided by its length, with the execution's own cost (an empty loop)
taken off. A second pair sends a 1,000-row DataFrame back, to show what the wire encoding
costs beside the round trip."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

CALLS = 200
PLUGIN = '''
import weaver


@weaver.plugin(host={host})
def {name}(n: int) -> int:
    """Echo."""
    return n


@weaver.plugin(host={host})
def {name}_frame(rows: int) -> "pd.DataFrame":
    """A frame of rows."""
    import pandas as pd
    return pd.DataFrame({{"a": range(rows), "b": [float(r) / 3 for r in range(rows)]}})
'''


def _per_call_ms(app: object, session: object, code: str, calls: int) -> float:
    started = time.perf_counter()
    result = app.run(session.execute(code))  # type: ignore[attr-defined]
    elapsed = time.perf_counter() - started
    if not result.ok:
        raise RuntimeError(f"the benchmark's code failed: {result.error}")
    return elapsed * 1000 / calls


def run(repeats: int) -> list[dict]:
    from weaver.testing.kernels import kernel_app

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        (project / "plugins").mkdir()
        (project / "plugins" / "on_host.py").write_text(PLUGIN.format(host=True, name="host_echo"))
        (project / "plugins" / "in_kernel.py").write_text(PLUGIN.format(host=False, name="kernel_echo"))
        with kernel_app(project, plugins={"call_budget": 0}) as app:
            session = app.session()
            app.run(session.execute("import pandas as pd\nhost_echo(0)\nhost_echo_frame(1)\nkernel_echo_frame(1)"))
            samples: dict[str, list[float]] = {key: [] for key in ("host", "kernel", "host_frame", "kernel_frame")}
            for _ in range(repeats):
                empty = _per_call_ms(app, session, f"for i in range({CALLS}):\n    i", CALLS)
                for kind in ("host", "kernel"):
                    loop = _per_call_ms(app, session, f"for i in range({CALLS}):\n    {kind}_echo(i)", CALLS)
                    samples[kind].append(loop - empty)
                    frames = _per_call_ms(app, session, f"for i in range(20):\n    {kind}_echo_frame(1000)", 20)
                    samples[f"{kind}_frame"].append(frames - empty * CALLS / 20)
    note = f"one call, from a loop of {CALLS} in one execution, less the empty loop"
    rows.append({"name": "in-kernel plugin call", "unit": "ms", "samples": samples["kernel"], "baseline": None, "note": note})
    rows.append(
        {"name": "host plugin call", "unit": "ms", "samples": samples["host"], "baseline": "in-kernel plugin call", "note": note}
    )
    frame_note = "one call returning a 1,000-row, 2-column DataFrame, from a loop of 20"
    rows.append(
        {"name": "in-kernel plugin call, DataFrame", "unit": "ms", "samples": samples["kernel_frame"], "baseline": None, "note": frame_note}
    )
    rows.append(
        {
            "name": "host plugin call, DataFrame",
            "unit": "ms",
            "samples": samples["host_frame"],
            "baseline": "in-kernel plugin call, DataFrame",
            "note": frame_note,
        }
    )
    return rows
