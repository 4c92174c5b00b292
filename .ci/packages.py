"""The repository's distributions: ``core`` first, then every folder under ``builtin_roles/``
and ``contrib_plugins/`` (and each installable example under ``examples/``) that has a ``pyproject.toml``.

``python .ci/packages.py`` lists them; ``python .ci/packages.py install`` installs them all
editable into the running interpreter in one pip call (tox uses it, so a new package is
tested the moment its folder appears); ``python .ci/packages.py typecheck`` runs mypy over
every package's modules and the build backend, with every ``src/`` on its path (settings:
``[tool.mypy]`` in the root ``pyproject.toml``). The noxfile reads :func:`package_dirs`; the
install test and benchmark copy the repository with :func:`copy_work_tree`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GROUPS = ("builtin_roles", "contrib_plugins", "examples")


def package_dirs(root: Path = ROOT) -> list[str]:
    """Package folders relative to ``root``, ``core`` first."""
    found = sorted(p.parent.relative_to(root).as_posix() for group in GROUPS for p in root.glob(f"{group}/*/pyproject.toml"))
    return ["core", *found]


def copy_work_tree(target: Path, root: Path = ROOT) -> Path:
    """The files git tracks or would track (no venvs, caches or build output), as a clone has them."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root, capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        if (root / name).is_file():  # a tracked file deleted in the work tree is gone from the copy too
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / name, target / name)
    return target


def typecheck(dirs: list[str]) -> int:
    """mypy over each package's top-level modules, every package's ``src/`` on the path."""
    sources = [ROOT / d / "src" for d in dirs if (ROOT / d / "src").is_dir()]
    modules = sorted(p.name for src in sources for p in src.iterdir() if (p / "__init__.py").is_file())
    # What builds every package is checked too: build_backend/ is on the path, weaver_build a module.
    env = {**os.environ, "MYPYPATH": os.pathsep.join(str(p) for p in [*sources, ROOT / "build_backend"])}
    command = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), "-m", "weaver_build"]
    return subprocess.call([*command, *(arg for m in modules for arg in ("-p", m))], cwd=ROOT, env=env)


def main(argv: list[str]) -> int:
    dirs = package_dirs()
    if argv[1:] == ["typecheck"]:
        return typecheck(dirs)
    if argv[1:] == ["install"]:
        editable = [arg for d in dirs for arg in ("-e", str(ROOT / d))]
        # One environment for all: the repository's backend needs nothing, and the env already has
        # hatchling and editables for the one distribution that uses them (the third-party template).
        return subprocess.call([sys.executable, "-m", "pip", "install", "--no-build-isolation", *editable])
    if argv[1:]:
        print("usage: python .ci/packages.py [install | typecheck]", file=sys.stderr)
        return 2
    print("\n".join(dirs))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
