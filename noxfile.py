"""Developer sessions: ``nox -s tests | package | lint | bench`` (``nox`` alone runs tests and lint).

``package`` installs one package alone on top of ``weaver-core`` and runs only its tests,
so a package that leans on a sibling it does not declare fails here, not on a user's machine.
"""

from __future__ import annotations

import runpy
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
PACKAGES: list[str] = runpy.run_path(str(ROOT / ".ci" / "packages.py"))["package_dirs"](ROOT)
BUILD_DEPS = ("editables>=0.5", "hatchling>=1.21")
"""Editable installs build without isolation (one hatchling, not one download per package)."""
TEST_DEPS = (*BUILD_DEPS, "pytest>=8", "pexpect>=4.8", "pyyaml>=6.0", "pandas>=2.0", "matplotlib>=3.7")

nox.options.sessions = ["tests", "lint"]


def install_editable(session: nox.Session, *dirs: str) -> None:
    session.install("--no-build-isolation", *(arg for d in dirs for arg in ("-e", d)))


@nox.session
def tests(session: nox.Session) -> None:
    """Every package installed; the whole repository's tests (what tox and CI run)."""
    session.install(*TEST_DEPS)
    install_editable(session, *PACKAGES)
    session.run("pytest", *session.posargs)


@nox.session
@nox.parametrize("package", PACKAGES, ids=[Path(p).name for p in PACKAGES])
def package(session: nox.Session, package: str) -> None:
    """One package alone on top of weaver-core; its own tests only."""
    session.install(*BUILD_DEPS, "pytest>=8")
    install_editable(session, *dict.fromkeys(["core", package]))
    session.run("pytest", f"{package}/tests", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check over the whole repository."""
    session.install("ruff")
    session.run("ruff", "check", ".", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmarks in bench/: a table on stdout and bench-results/latest.json."""
    session.install(*TEST_DEPS)
    install_editable(session, *PACKAGES)
    session.run("python", "bench/run.py", *session.posargs)
