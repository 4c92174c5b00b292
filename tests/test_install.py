"""The README's first command, as a newcomer runs it: ``pip install .`` from a fresh copy of the
repository into a fresh virtualenv that has nothing but pip, then ``weaver demo``.

Third-party distributions come from pip's configured index (a mirror is enough); nothing of
this environment leaks in, so a packaging change that breaks one distribution, leaves one out
of the batteries-included root or drops the demo's project from its wheel fails here. Where
the machine allows it (``unshare -n``), the demo runs with no network at all.
"""

from __future__ import annotations

import json
import os
import runpy
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = runpy.run_path(str(ROOT / ".ci" / "packages.py"))
LOCAL: list[str] = PACKAGES["package_dirs"](ROOT)
TEMPLATE = "examples/third_party_extension"
"""Not part of the batteries-included root: it is the template a third party copies."""
INSTALL_TIMEOUT = 1200
"""Generous: a minute on an idle machine; several under a loaded one, but never forever."""


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without what points into it (its venv, its import path)."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    return {**env, "PIP_DISABLE_PIP_VERSION_CHECK": "1", **extra}


def dist_name(folder: str) -> str:
    project: dict[str, str] = tomllib.loads((ROOT / folder / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return project["name"]


def offline(argv: list[str]) -> list[str]:
    """``argv`` in a network namespace of its own if this machine lets us make one."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-n", "true"], capture_output=True, check=False).returncode == 0:
        return [unshare, "-n", *argv]
    return argv


def pip_install(bin_dir: Path, cwd: Path, *args: str) -> str:
    """``pip install ARGS`` with the venv's pip, from ``cwd``; its output, after checking it succeeded."""
    done = subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", *args],
        check=False,
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A fresh copy and a fresh venv with ``pip install .`` done: (copy, venv bin folder)."""
    base = tmp_path_factory.mktemp("install")
    copy = PACKAGES["copy_work_tree"](base / "weaver")
    venv.create(base / "venv", with_pip=True, symlinks=True)
    bin_dir = base / "venv" / "bin"
    pip_install(bin_dir, copy, ".")
    return copy, bin_dir


def test_pip_install_dot_installs_every_local_distribution(installed: tuple[Path, Path]) -> None:
    _, bin_dir = installed
    listed = subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "list", "--format", "json", "-v"],
        env=clean_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    dists = {d["name"]: d for d in json.loads(listed.stdout)}
    wanted = {dist_name(d) for d in LOCAL if d != TEMPLATE} | {"weaver"}
    assert wanted <= set(dists), sorted(wanted - set(dists))
    assert dist_name(TEMPLATE) not in dists
    for name in wanted:
        # Real wheels in the venv, not editable pointers back into a source tree.
        assert "editable_project_location" not in dists[name], name
        assert Path(dists[name]["location"]).is_relative_to(bin_dir.parent), name

    version = subprocess.run(
        [str(bin_dir / "weaver"), "--version"], env=clean_env(), capture_output=True, text=True, check=False
    )
    assert (version.returncode, version.stdout.strip()) == (0, "weaver 0.1.0")

    # Each installed distribution's entry point loads: the wheels carry their entry points and code.
    listing = subprocess.run(
        [str(bin_dir / "weaver"), "extensions"], env=clean_env(), capture_output=True, text=True, check=False
    )
    assert listing.returncode == 0, listing.stderr
    assert " 0 failed)" in listing.stdout, listing.stdout
    for name in wanted - {"weaver", "weaver-core"}:
        assert f"{name} 0.1.0  [ok]" in listing.stdout, name


def test_one_distribution_installs_alone(installed: tuple[Path, Path]) -> None:
    # What a third party does with one folder: its own isolated build, nothing else rebuilt.
    copy, bin_dir = installed
    out = pip_install(bin_dir, copy, "--force-reinstall", "--no-deps", "./contrib_plugins/retry_guard")
    assert "Successfully installed weaver-retry-guard-0.1.0" in out


def test_weaver_demo_runs_from_the_installed_wheels(installed: tuple[Path, Path], tmp_path: Path) -> None:
    # The example project travels inside weaver-demo's wheel: it is found there, not in a source tree.
    _, bin_dir = installed
    where = subprocess.run(
        [str(bin_dir / "python"), "-c", "import weaver_demo; print(weaver_demo.project_dir())"],
        env=clean_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(bin_dir.parent), where.stdout
    demo = subprocess.run(
        offline([str(bin_dir / "weaver"), "demo", "--dir", str(tmp_path / "demo")]),
        check=False,
        cwd=tmp_path,
        env=clean_env(HOME=str(tmp_path), MPLCONFIGDIR=str(tmp_path / "mpl")),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert demo.returncode == 0, demo.stdout[-4000:] + demo.stderr[-4000:]
    assert "West grew fastest in 2024" in demo.stdout
    assert "✓ finished" in demo.stdout
    assert list((tmp_path / "demo").glob(".weaver/sessions/*/artifacts/*.png"))
