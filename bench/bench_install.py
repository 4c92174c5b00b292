"""What the README's first command costs: ``pip install .`` into a fresh virtualenv, then ``weaver demo``.

A minute or more per sample, so the runner leaves this module out unless it is named:
``python bench/run.py --only install --repeats 3`` (``nox -s bench -- --only install``).
``WEAVER_BENCH_INSTALL_BASE=<git revision>`` also measures that revision in the same run,
samples interleaved with the work tree's, and makes its rows the baselines (after / before).

Each sample copies the tree (the files git tracks or would track, as a clone has them) to a
new folder and makes a new venv with the interpreter's own pip, as a newcomer's machine has
it; pip's cache and index are whatever pip is configured with. Rows:

- ``pip install .``: the whole command, wall clock;
- ``pip install: third-party only``: the same third-party distributions, pinned to what that
  install chose, in another new venv: the floor no change to how the local ones build can beat;
- ``local builds, each isolated``: ``pip wheel --no-deps`` of the root and every local
  distribution it names, in one call, each in its own isolated build environment, as
  ``pip install .`` builds them;
- ``weaver demo, first run``: the replayed demo right after the install.
"""

from __future__ import annotations

import io
import os
import runpy
import subprocess
import sys
import tarfile
import tempfile
import time
import venv
from pathlib import Path
from typing import Any

SLOW = True
"""Left out by ``bench/run.py`` unless named with ``--only``."""
ROOT = Path(__file__).resolve().parent.parent
INSTALL = "pip install ."
FLOOR = "pip install: third-party only"
LOCAL_BUILDS = "local builds, each isolated"
DEMO = "weaver demo, first run"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    return {**env, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def _copy(revision: str | None, target: Path) -> Path:
    """The work tree's tracked and untracked-but-not-ignored files, or ``revision``'s tree."""
    if revision:
        archive = subprocess.run(["git", "archive", revision], cwd=ROOT, capture_output=True, check=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(target, filter="data")
        return target
    copied: Path = runpy.run_path(str(ROOT / ".ci" / "packages.py"))["copy_work_tree"](target)
    return copied


def _timed(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=_env(), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def _python(where: Path) -> str:
    venv.create(where, with_pip=True, symlinks=True)
    return str(where / "bin" / "python")


def _sample(revision: str | None, scratch: Path, floor: bool) -> dict[str, float]:
    tree = _copy(revision, scratch / "tree")
    python = _python(scratch / "venv")
    times = {INSTALL: _timed([python, "-m", "pip", "install", "."], tree)}
    local = [str(tree / d) for d in runpy.run_path(str(tree / ".ci" / "packages.py"))["package_dirs"](tree)]
    root = (tree / "pyproject.toml").read_text(encoding="utf-8")
    built = [
        d for d in local if f'{{root:uri}}/{Path(d).relative_to(tree).as_posix()}"' in root
    ]  # what `pip install .` builds
    wheels = scratch / "wheels"
    times[LOCAL_BUILDS] = _timed(
        [python, "-m", "pip", "wheel", "--no-deps", "-w", str(wheels), str(tree), *built], tree
    )
    weaver = str(scratch / "venv" / "bin" / "weaver")
    times[DEMO] = _timed([weaver, "demo", "--dir", str(scratch / "demo")], scratch)
    if floor:
        frozen = subprocess.run([python, "-m", "pip", "freeze"], env=_env(), capture_output=True, text=True, check=True)
        pins = [line for line in frozen.stdout.splitlines() if not line.startswith("weaver")]
        (scratch / "pins.txt").write_text("\n".join(pins) + "\n")
        times[FLOOR] = _timed(
            [_python(scratch / "floor"), "-m", "pip", "install", "-r", str(scratch / "pins.txt")], scratch
        )
    return times


def run(repeats: int) -> list[dict[str, Any]]:
    base = os.environ.get("WEAVER_BENCH_INSTALL_BASE")
    trees: list[str | None] = [base, None] if base else [None]
    samples: dict[str | None, dict[str, list[float]]] = {tree: {} for tree in trees}
    for _ in range(repeats):
        for tree in trees:  # interleaved, so both see the same load
            with tempfile.TemporaryDirectory(prefix="weaver-bench-install-") as scratch:
                for name, seconds in _sample(tree, Path(scratch), floor=tree is None).items():
                    samples[tree].setdefault(name, []).append(seconds)

    def label(name: str, tree: str | None) -> str:
        return f"{name} @ {tree}" if tree else name

    python = f"Python {sys.version.split()[0]}, the venv's own pip"
    rows = []
    for tree in trees:
        for name, values in samples[tree].items():
            baseline = label(name, base) if tree is None and base else (FLOOR if name == INSTALL else None)
            rows.append(
                {"name": label(name, tree), "unit": "s", "samples": values, "baseline": baseline, "note": python}
            )
    return rows
