"""``weaver install`` / ``uninstall``: pip runs in the environment Weaver itself runs in.

A throwaway virtualenv runs Weaver (it sees this environment's packages through a ``.pth``
file, so nothing is downloaded); a tiny extension built here as a wheel is installed into
that virtualenv by ``weaver install``, shows up in ``weaver plugins``, and is gone after
``weaver uninstall``. The test environment itself is never touched.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

EXTENSION = '''
import weaver
from weaver.specs import RoleSpec


class Hello:
    async def reply(self, ctx):
        return ctx.new_post(send_to="User").build()


@weaver.hookimpl
def weaver_roles():
    return [RoleSpec(name="hello", alias="Hello", factory=Hello)]
'''

PYPROJECT = """
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "weaver-install-probe"
version = "0.1.0"

[project.entry-points.weaver]
install_probe = "weaver_install_probe"

[tool.hatch.build.targets.wheel]
packages = ["weaver_install_probe"]
"""


def build_wheel(tmp_path: Path) -> Path:
    source = tmp_path / "probe"
    (source / "weaver_install_probe").mkdir(parents=True)
    (source / "weaver_install_probe" / "__init__.py").write_text(EXTENSION)
    (source / "pyproject.toml").write_text(PYPROJECT)
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "-q", "-w", str(dist), str(source)],
        check=True,
        timeout=300,
    )
    (wheel,) = dist.glob("*.whl")
    return wheel


def make_venv(tmp_path: Path) -> Path:
    """A virtualenv without pip of its own, seeing this environment's packages (pip included)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    here = sysconfig.get_paths()["purelib"]
    # `import` lines in a .pth run at startup: addsitedir also processes this environment's .pth files
    # (the editable installs of Weaver's packages).
    Path(purelib, "_weaver_test_env.pth").write_text(f"import site; site.addsitedir({here!r})\n")
    return python


def weaver(python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("WEAVER_", "PIP_"))}
    environ |= {"WEAVER_CONFIG": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INDEX": "1"}
    return subprocess.run(
        [str(python), "-m", "weaver.cli", *args], capture_output=True, text=True, env=environ, timeout=300, check=False
    )


def extension_names(python: Path) -> set[str]:
    result = weaver(python, "extensions", "--json")
    assert result.returncode == 0, result.stderr
    return {item["name"] for item in json.loads(result.stdout)["extensions"]}


def test_install_and_uninstall_an_extension_in_weavers_own_environment(tmp_path):
    wheel = build_wheel(tmp_path)
    python = make_venv(tmp_path)
    assert "install_probe" not in extension_names(python)

    installed = weaver(python, "install", str(wheel))
    assert installed.returncode == 0, installed.stderr
    assert "Successfully installed weaver-install-probe-0.1.0" in installed.stdout
    assert "install_probe" in extension_names(python)
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.version("weaver-install-probe")  # not in the environment running the tests

    removed = weaver(python, "uninstall", "--yes", "weaver-install-probe")
    assert removed.returncode == 0, removed.stderr
    assert "Successfully uninstalled weaver-install-probe-0.1.0" in removed.stdout
    assert "install_probe" not in extension_names(python)


def test_pip_failures_are_the_exit_status(tmp_path):
    python = make_venv(tmp_path)
    missing = weaver(python, "install", str(tmp_path / "no-such-package.whl"))
    assert missing.returncode != 0
    assert "no-such-package.whl" in missing.stderr
    nothing = weaver(python, "install")
    assert nothing.returncode == 2
    assert "name at least one PACKAGE" in nothing.stderr
